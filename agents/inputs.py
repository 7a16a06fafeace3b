"""Cleaning and checking the user's message before anything else sees it."""

from __future__ import annotations

import re

from agents.errors import EmptyInput, InputTooLong

# C0/C1 control characters except tab and newline, plus DEL.  Carriage returns
# are normalised to newlines first.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_input(text: str, limit: int) -> str:
    """The message without control characters; raises ``EmptyInput`` or ``InputTooLong``."""
    if len(text) > limit:
        raise InputTooLong(len(text), limit)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not text.strip():
        raise EmptyInput()
    return text.strip()
