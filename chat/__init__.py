"""The composition layer: a chat session built from the engine (``agents``) and ``guardrails``.

Layers point one way (``tests/test_layers.py`` keeps it so)::

    sinks: app.py + ui/ (Chainlit), web/ (HTTP/SSE), cli/ (terminal)
      └── chat/        sessions and turns, pipeline assembly, settings that know guardrails
            ├── guardrails/   policy checks and their stream stage (uses the engine's events)
            └── agents/       the engine: providers, runner, buffering, events, errors

A new provider goes in ``agents/providers/``, a buffering strategy in
``agents/buffering/``, a guardrail in ``guardrails/``: one new module each,
which registers itself (``agents.plugins``).
"""
