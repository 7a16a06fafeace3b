"""Maximum input length: a message longer than the limit is blocked, truncated (redact) or flagged (warn).

The limit is ``GUARD_MAX_INPUT_CHARS`` (default 4,000 characters).  This is a
policy on top of the hard ``Settings.max_input_chars`` cap: the hard cap rejects
a message outright, this guardrail is one the user can toggle and tune.
"""

from __future__ import annotations

import os

from guardrails.base import Action, GuardSpec, Span, Verdict, register

NAME = "length"
DEFAULT_LIMIT = 4_000


def default_limit() -> int:
    """The limit from ``GUARD_MAX_INPUT_CHARS``, else ``DEFAULT_LIMIT``."""
    raw = os.environ.get("GUARD_MAX_INPUT_CHARS", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_LIMIT


class LengthGuardrail:
    """Limits the user's message length; applies to the input only."""

    name = NAME
    where = frozenset({"input"})
    max_match = 0
    slow = False

    def __init__(self, action: Action = "block", limit: int | None = None) -> None:
        self.action: Action = action
        self.limit = limit or default_limit()

    def warm(self) -> None:
        """Nothing to load."""

    def check(self, text: str) -> Verdict:
        """Judge ``text``'s length."""
        if len(text) <= self.limit:
            return Verdict.allow()
        reason = f"The message has {len(text):,} characters; the limit is {self.limit:,}."
        replacement = "" if self.action == "redact" else None
        return Verdict.from_spans(NAME, [Span(self.limit, len(text), NAME, replacement, self.action, reason)])

    def hold(self, text: str) -> int:
        """Nothing to hold: length is not judged on a stream."""
        return 0


register(
    GuardSpec(NAME, lambda action: LengthGuardrail(action or "block"), default_action="block", label="Max input length")
)
