"""Cleaning and checking the user's message before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

from agents.errors import EmptyInput, InputTooLong

# C0/C1 control characters except tab and newline, plus DEL.  Carriage returns
# are normalised to newlines first.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_input(text: str, limit: int) -> str:
    """The message without control characters; raises ``EmptyInput`` or ``InputTooLong``."""
    if len(text) > limit:
        raise InputTooLong(len(text), limit)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if not _visible(text):
        raise EmptyInput()
    return text.strip()


def _visible(text: str) -> bool:
    """Whether ``text`` shows anything: a character that is neither white space nor an invisible format
    character (zero-width space, word joiner, bidi marks and overrides: Unicode category Cf)."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)
