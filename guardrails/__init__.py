"""Policy checks on the user's message and on the model's live stream.

Each guardrail is one module here that registers itself on import
(``guardrails.base.register``); the registry imports them all on first use.
Built in: ``profanity``, ``pii``, ``pii_names`` (names and addresses), ``rules`` (custom policies),
``length`` and ``hallucination`` (the model's own token log-probabilities, as a stage of its own).
"""
