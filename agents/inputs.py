"""Cleaning and checking the user's message before anything else sees it."""

from __future__ import annotations

import re
import unicodedata

import regex

from agents.errors import EmptyInput, InputTooLong

# Characters that render as nothing: Unicode's Default_Ignorable_Code_Point (the Hangul fillers,
# the combining grapheme joiner, variation selectors, ... which are not all category Cf).
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")

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
    character (zero-width space, word joiner, bidi marks and overrides: Unicode category Cf) nor a
    default-ignorable one (a Hangul filler, a lone variation selector): such a message would be a
    blank bubble and a question the model sees but the user cannot."""
    return any(
        not ch.isspace() and unicodedata.category(ch) != "Cf" and not _IGNORABLE.match(ch) for ch in text
    )
