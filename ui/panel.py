"""The settings panel: Chainlit widgets built from, and parsed into, ``Settings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainlit.input_widget import InputWidget, Select, Slider, TextInput

from agents import buffering
from agents.providers import registry
from chat.keys import UserKeys
from chat.settings import Settings, coerce
from ui import fault_panel, guard_panel, keys_panel

UNAVAILABLE = "unavailable"
CUSTOM = "custom"
#: The buffering choices offered in a select (label -> spec); any other spec is typed in the box below it.
BUFFER_CHOICES = {
    f"Smooth: first token at once, then at most ~22 updates/s ({buffering.DEFAULT_SPEC})": buffering.DEFAULT_SPEC,
    "Every token as it comes (token)": "token",
    "Whole words (words:1)": "words:1",
    "Whole lines (line)": "line",
    "Whole sentences (sentence)": "sentence",
    "Whole sentences, none held over 80 ms (sentence+time:80)": "sentence+time:80",
    "Custom: the spec typed below": CUSTOM,
}
#: The ``Settings`` fields this panel edits.
FIELDS = ("provider", "model", "temperature", "max_tokens", "seed", "system_prompt", "echo_rate", "buffer",
          "buffer_choice", *guard_panel.field_ids(), *fault_panel.field_ids())


def provider_items(keys: UserKeys | None = None) -> dict[str, str]:
    """Label -> provider name; a provider without its key (the server's or ``keys``) says how to get one."""
    items: dict[str, str] = {}
    for name in registry.names():
        spec = registry.get(name)
        missing = spec.missing_key(keys.env() if keys is not None else None)
        label = spec.label if missing is None else (
            f"{spec.label} ({UNAVAILABLE}: enter a key below or set {' or '.join(spec.env_vars)})"
        )
        items[label] = name
    return items


def widgets(settings: Settings, keys: UserKeys | None = None) -> list[InputWidget]:
    """The panel's widgets, showing ``settings`` and which of ``keys`` are set (never their values)."""
    keys = keys if keys is not None else UserKeys()
    return [
        Select(id="provider", label="Provider", items=provider_items(keys), initial_value=settings.provider),
        *keys_panel.widgets(keys),
        TextInput(id="model", label="Model (blank: the provider's default)", initial=settings.model or ""),
        # Blank, not a slider: a slider always sends a number, and some remote models refuse any temperature.
        TextInput(
            id="temperature", label="Temperature, 0 to 2 (blank: the provider's default; 0 = greedy)",
            initial="" if settings.temperature is None else f"{settings.temperature:g}",
        ),
        TextInput(
            id="max_tokens", label="Max tokens (blank: default)",
            initial="" if settings.max_tokens is None else str(settings.max_tokens),
        ),
        TextInput(id="seed", label="Seed (blank: random)", initial="" if settings.seed is None else str(settings.seed)),
        TextInput(id="system_prompt", label="System prompt", initial=settings.system_prompt, multiline=True),
        Slider(
            id="echo_rate", label="Echo speed, tokens/s (0 = unlimited)",
            initial=settings.echo_rate, min=0, max=500, step=5,
        ),
        Select(
            id="buffer_choice", label="Buffering: how tokens are grouped into updates", items=BUFFER_CHOICES,
            initial_value=settings.buffer if settings.buffer in BUFFER_CHOICES.values() else CUSTOM,
        ),
        TextInput(
            id="buffer", label=f"Buffering spec (custom): {buffering.choices()}", initial=settings.buffer,
            placeholder=buffering.DEFAULT_SPEC,
            description="what is in force; type another spec to use it, e.g. words:3+time:80",
        ),
        *guard_panel.widgets(settings),
        *fault_panel.widgets(settings),
    ]


def fold_buffer(values: Mapping[str, Any], current: str | None = None) -> dict[str, Any]:
    """The buffering select and spec box folded into one ``buffer`` value.

    A spec typed in the box (one that differs from ``current``, the spec in
    force) wins; otherwise a chosen preset does; "Custom" takes the box.
    """
    out = {k: v for k, v in values.items() if k != "buffer_choice"}
    choice = values.get("buffer_choice")
    if not choice or choice == CUSTOM:
        return out  # the box holds the spec
    typed = str(values.get("buffer") or "").strip()
    if "buffer" not in values or (current is not None and typed in {"", current.strip()}):
        out["buffer"] = choice
    return out


def changes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed ``Settings`` changes from the panel's values; raises ``InvalidSetting``."""
    picked = {k: v for k, v in values.items() if k in FIELDS}
    return coerce(fault_panel.to_settings(guard_panel.to_settings(fold_buffer(picked))))
