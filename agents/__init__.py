"""The chat engine: providers, the streaming runner, sessions and the CLI.

Nothing in this package imports Chainlit; the web app and the CLI are sinks of
the same typed event stream.
"""
