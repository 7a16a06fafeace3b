"""Policy checks on the user's message and on the model's live stream.

Importing the package registers the built-in guardrails: ``profanity``,
``pii``, ``pii_names`` (names and addresses), ``rules`` (custom policies) and ``length``.
"""

from guardrails import length, names, pii, profanity, rules  # noqa: F401  (register on import)
