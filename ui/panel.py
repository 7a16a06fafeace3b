"""The settings panel: Chainlit widgets built from, and parsed into, ``Settings``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainlit.input_widget import InputWidget, Select, Slider, TextInput

from agents import buffering
from agents.providers import registry
from chat.settings import Settings, coerce
from ui import fault_panel, guard_panel

UNAVAILABLE = "unavailable"
#: The ``Settings`` fields this panel edits.
FIELDS = ("provider", "model", "temperature", "max_tokens", "seed", "system_prompt", "echo_rate", "buffer",
          *guard_panel.field_ids(), *fault_panel.field_ids())


def provider_items() -> dict[str, str]:
    """Label -> provider name; a provider without its key says which env var to set."""
    items: dict[str, str] = {}
    for name in registry.names():
        spec = registry.get(name)
        missing = spec.missing_key()
        label = spec.label if missing is None else f"{spec.label} ({UNAVAILABLE}: set {' or '.join(spec.env_vars)})"
        items[label] = name
    return items


def widgets(settings: Settings) -> list[InputWidget]:
    """The panel's widgets, showing ``settings``."""
    return [
        Select(id="provider", label="Provider", items=provider_items(), initial_value=settings.provider),
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
        TextInput(
            id="buffer", label=f"Buffering: {buffering.choices()}", initial=settings.buffer,
            placeholder=buffering.DEFAULT_SPEC,
            description="e.g. sentence shows whole sentences; +time:80 caps the wait",
        ),
        *guard_panel.widgets(settings),
        *fault_panel.widgets(settings),
    ]


def changes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Typed ``Settings`` changes from the panel's values; raises ``InvalidSetting``."""
    picked = {k: v for k, v in values.items() if k in FIELDS}
    return coerce(fault_panel.to_settings(guard_panel.to_settings(picked)))
