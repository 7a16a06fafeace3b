"""Input cleaning and settings validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.errors import EmptyInput, InputTooLong, InvalidSetting
from agents.inputs import clean_input
from chat.settings import Settings, coerce


def test_control_characters_are_removed_but_newlines_and_tabs_stay() -> None:
    assert clean_input("a\x00b\x1bc\r\nd\te\x7f", 100) == "abc\nd\te"


@given(st.text(alphabet=st.characters(categories=["Cc", "Zs"]), max_size=50))
def test_only_controls_and_spaces_is_empty(text: str) -> None:
    with pytest.raises(EmptyInput):
        clean_input(text, 1000)


@pytest.mark.parametrize("text", ["\u202e\u200b", "\u2060 \ufeff", "\u200e\n\u200f"])
def test_only_invisible_format_characters_is_empty(text: str) -> None:
    # A bidi override and a zero-width space show nothing: asking the model with them is asking nothing.
    with pytest.raises(EmptyInput):
        clean_input(text, 1000)


def test_a_joiner_inside_visible_text_is_kept() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_input(f" {family} ", 100) == family


def test_huge_paste_is_refused_with_its_length() -> None:
    with pytest.raises(InputTooLong) as info:
        clean_input("y" * 200_000, 32_000)
    assert info.value.length == 200_000
    assert "32,000" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("temperature", -0.1), ("temperature", 2.5), ("max_tokens", 0), ("seed", -1), ("echo_rate", -5.0)],
)
def test_out_of_range_settings_raise_one_line(field: str, value: object) -> None:
    with pytest.raises(InvalidSetting) as info:
        Settings(provider="echo", **{field: value})  # type: ignore[arg-type]
    assert field in str(info.value) and "\n" not in str(info.value)


def test_coerce_turns_widget_strings_into_types_and_blanks_into_defaults() -> None:
    assert coerce({"max_tokens": "64", "seed": "", "temperature": "0.5", "model": " "}) == {
        "max_tokens": 64,
        "seed": None,
        "temperature": 0.5,
        "model": None,
    }
    with pytest.raises(InvalidSetting):
        coerce({"max_tokens": "lots"})
    with pytest.raises(InvalidSetting):
        coerce({"seed": "1.5"})


def test_env_sets_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_PROVIDER", "echo")
    monkeypatch.setenv("MAX_INPUT_CHARS", "500")
    s = Settings.from_env()
    assert (s.provider, s.max_input_chars) == ("echo", 500)
    monkeypatch.setenv("MAX_INPUT_CHARS", "many")
    with pytest.raises(InvalidSetting):
        Settings.from_env()


def test_emptied_boxes_mean_the_default_not_a_crash() -> None:
    """Chainlit sends ``None`` for an emptied text input; every field must take it."""
    from dataclasses import fields

    cleared = coerce({f.name: None for f in fields(Settings) if f.name != "provider"})
    settings = Settings(provider="echo").replace(**cleared)
    assert settings.system_prompt == "" and settings.model is None and settings.temperature is None
    assert settings.stall_timeout == Settings().stall_timeout and settings.failover == ""
