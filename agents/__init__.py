"""The chat engine: providers, the streaming runner, buffering, typed events and errors.

It imports nothing above it: not ``guardrails``, not the composition layer
(``chat``), and not Chainlit; the sinks (UI, CLI, HTTP) consume its typed
event stream through ``chat``.
"""
