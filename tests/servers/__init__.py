"""Loopback servers that tests start themselves: llama-cpp-python's OpenAI server and a scripted SSE server."""
