"""A settings change says what it did: applied and refused fields, a refused model, the provider in force."""

from __future__ import annotations

import app
from tests.chainlit_harness import SocketRecorder
from ui import panel


def outputs(ui: SocketRecorder) -> list[str]:
    return [m["output"] for m in ui.messages()]


async def test_a_partly_refused_change_applies_the_valid_fields_and_names_both(ui: SocketRecorder) -> None:
    await app.settings_update({"temperature": "0.3", "max_tokens": "lots", "seed": "7"})
    s = app._session().settings
    assert (s.temperature, s.max_tokens, s.seed) == (0.3, None, 7)
    line = outputs(ui)[-1]
    assert "Refused: Invalid setting max_tokens='lots'" in line and "Applied: temperature, seed." in line, line
    assert "\n" not in line


async def test_a_model_typed_for_the_embedded_provider_is_refused(ui: SocketRecorder) -> None:
    await app.settings_update({"provider": "local", "model": "gpt-4o"})
    s = app._session().settings
    assert (s.provider, s.model) == ("local", None)
    said = outputs(ui)
    assert any("Model 'gpt-4o'" in line and "LOCAL_MODEL_PATH" in line for line in said), said
    assert said[-1] == "Now answering with: Local"


async def test_switching_provider_confirms_it_in_one_line(ui: SocketRecorder) -> None:
    await app.settings_update({"provider": "local"})
    await app.settings_update({"provider": "echo", "temperature": "0.2"})
    said = outputs(ui)
    assert said[-2:] == ["Now answering with: Local", "Now answering with: Echo"]
    await app.settings_update({"temperature": "0.4"})
    assert outputs(ui) == said  # no provider change, nothing refused: nothing to say


def test_buffering_is_a_select_with_a_custom_spec_still_possible() -> None:
    from chat.settings import Settings

    widgets = {w.id: w for w in panel.widgets(Settings(provider="echo", buffer="words:3+time:80"))}
    assert widgets["buffer_choice"].initial_value == panel.CUSTOM  # type: ignore[attr-defined]
    assert widgets["buffer"].initial == "words:3+time:80"  # type: ignore[attr-defined]
    assert panel.fold_buffer({"buffer_choice": "sentence", "buffer": "time:45"}, "time:45") == {"buffer": "sentence"}
    typed = {"buffer_choice": "time:45", "buffer": "chars:20"}
    assert panel.fold_buffer(typed, "time:45") == {"buffer": "chars:20"}  # a typed spec wins over the preset
    assert panel.fold_buffer({"buffer_choice": panel.CUSTOM, "buffer": "line"}, "time:45") == {"buffer": "line"}


async def test_a_preset_chosen_in_the_panel_is_applied(ui: SocketRecorder) -> None:
    widgets = ui.named("chat_settings")[0]
    values = {w["id"]: w.get("initial", w.get("initialValue")) for w in widgets}
    values["buffer_choice"] = "sentence"
    await app.settings_update(values)
    assert app._session().settings.buffer == "sentence"
    shown = {w["id"]: w for w in ui.named("chat_settings")[-1]}
    assert shown["buffer"]["initial"] == "sentence"  # the box shows what is in force now
