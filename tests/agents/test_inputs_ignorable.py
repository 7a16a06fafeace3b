"""Messages made only of default-ignorable characters show nothing, so they are refused like empty ones."""

from __future__ import annotations

import pytest

from agents.errors import EmptyInput
from agents.inputs import clean_input


# Hangul filler, half-width Hangul filler, Hangul choseong filler, combining grapheme joiner,
# variation selector 16, Mongolian free variation selector, Khmer inherent vowel: none of them is
# Unicode category Cf, all are Default_Ignorable_Code_Point (rendered as nothing).
@pytest.mark.parametrize(
    "text", ["\u3164", "\uffa0", "\u115f", "\u034f", "\ufe0f", "\u180b", "\u17b4", "\u3164 \u034f\n"]
)
def test_only_default_ignorable_characters_is_empty(text: str) -> None:
    with pytest.raises(EmptyInput):
        clean_input(text, 100)


@pytest.mark.parametrize("text", ["\u2764\ufe0f", "e\u0301", "\u1100\u1161", "a\u3164b"])
def test_visible_text_with_ignorable_characters_is_kept(text: str) -> None:
    assert clean_input(text, 100) == text
