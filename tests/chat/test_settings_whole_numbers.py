"""A fraction in a whole-number field is refused as not whole, not as "not a number" (it is one)."""

from __future__ import annotations

import pytest

from agents.errors import InvalidSetting
from chat.settings import coerce


@pytest.mark.parametrize("name", ["selfcheck", "max_tokens", "seed", "retries"])
def test_a_fraction_in_a_whole_number_field_is_refused_as_not_whole(name: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        coerce({name: "2.5"})
    line = str(refused.value)
    assert "a whole number" in line and name in line, line


def test_a_word_in_a_decimal_field_still_asks_for_a_number() -> None:
    with pytest.raises(InvalidSetting) as refused:
        coerce({"temperature": "warm"})
    assert "expected a number" in str(refused.value)
    assert "whole" not in str(refused.value)
