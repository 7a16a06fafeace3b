"""Guardrail widgets for the settings panel: each guardrail off or on with its action, and the release mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainlit.input_widget import InputWidget, Select

from chat.settings import Settings
from guardrails import base
from guardrails.config import OFF, RELEASES

PREFIX = "guard_"
DEFAULT = "default"


def field_ids() -> tuple[str, ...]:
    """The widget ids this module owns."""
    return (*(PREFIX + name for name in base.names()), "release")


def _items(spec: base.GuardSpec) -> dict[str, str]:
    items = {"Off": OFF}
    if spec.default_action is None:
        items["On (each rule's own action)"] = DEFAULT
    items.update({action.capitalize(): action for action in spec.actions})
    return items


def widgets(settings: Settings) -> list[InputWidget]:
    """One select per registered guardrail, then the release mode."""
    chosen = dict(settings.guards)
    out: list[InputWidget] = []
    for name in base.names():
        spec = base.get(name)
        out.append(
            Select(
                id=PREFIX + name, label=f"Guardrail: {spec.label}", items=_items(spec),
                initial_value=chosen.get(name, OFF),
            )
        )  # fmt: skip
    out.append(
        Select(
            id="release", label="Guarded text is shown",
            items={"When cleared (hold back)": "hold_back", "At once, corrected after (stream first)": "stream_first"},
            initial_value=settings.release if settings.release in RELEASES else "hold_back",
        )
    )  # fmt: skip
    return out


def to_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Panel values with the ``guard_*`` selects folded into one ``guards`` spec string."""
    out = {k: v for k, v in values.items() if not k.startswith(PREFIX)}
    picks = {k[len(PREFIX) :]: str(v or OFF) for k, v in values.items() if k.startswith(PREFIX)}
    if picks:
        out["guards"] = ",".join(f"{name}={action}" for name, action in sorted(picks.items()) if action != OFF)
    return out
