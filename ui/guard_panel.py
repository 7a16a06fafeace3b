"""Guardrail widgets for the settings panel: each guardrail off or on with its action, and the release mode.

A guardrail with an option (the hallucination check's threshold) gets a box
for it too, folded into its spec (``hallucination=block:0.4``).  The
hallucination select says whether the chosen provider can be checked at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainlit.input_widget import InputWidget, Select, TextInput

from agents.providers import registry
from chat.settings import MAX_SELFCHECK, Settings
from guardrails import base
from guardrails.config import OFF, RELEASES
from guardrails.hallucination import NAME as HALLUCINATION
from guardrails.hallucination import UNCHECKED

PREFIX = "guard_"
#: The option boxes' ids: ``guardopt_NAME`` (not under ``PREFIX``, which names the selects).
OPTION_PREFIX = "guardopt_"
DEFAULT = "default"
#: The self-check's box: samples per answer (``Settings.selfcheck``).
SELFCHECK = "selfcheck"


def field_ids() -> tuple[str, ...]:
    """The widget ids this module owns."""
    options = [OPTION_PREFIX + name for name in base.names() if base.get(name).option]
    return (*(PREFIX + name for name in base.names()), *options, "release", SELFCHECK)


def confidence_note(settings: Settings) -> str:
    """What the hallucination check can do with the chosen provider ("" when it can check every answer)."""
    try:
        spec = registry.get(settings.provider)
    except Exception:  # noqa: BLE001 - an unknown provider is refused elsewhere; the note just stays quiet
        return ""
    label = spec.label.split(" (")[0]
    if spec.logprobs == "no":
        return f"Hallucination check: answers from {label} {UNCHECKED} (it reports no token log-probabilities)."
    if spec.logprobs == "maybe":
        return (
            f"Hallucination check: {label} is checked only where the server or model reports token "
            f"log-probabilities; an answer without them says it {UNCHECKED}."
        )
    return ""


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
        action, _, option = chosen.get(name, OFF).partition(":")
        note = confidence_note(settings) if name == HALLUCINATION and name in chosen else ""
        out.append(
            Select(
                id=PREFIX + name, label=f"Guardrail: {spec.label}", items=_items(spec),
                initial_value=action, description=note or None,
            )
        )  # fmt: skip
        if spec.option:
            low, high = spec.option_range
            default = "" if spec.option_default is None else f"{spec.option_default:g}"
            out.append(
                TextInput(
                    id=OPTION_PREFIX + name, label=f"{spec.label}: {spec.option}, {low:g} to {high:g}",
                    initial=option or default, placeholder=default,
                    description=f"blank: the default ({default})" if default else None,
                )
            )  # fmt: skip
    out.append(
        Select(
            id="release", label="Guarded text is shown",
            items={"When cleared (hold back)": "hold_back", "At once, corrected after (stream first)": "stream_first"},
            initial_value=settings.release if settings.release in RELEASES else "hold_back",
        )
    )  # fmt: skip
    out.append(
        TextInput(
            id=SELFCHECK, label=f"Self-check: samples after each answer, 0 (off) to {MAX_SELFCHECK}",
            initial=str(settings.selfcheck), placeholder="0",
            description="each sample is one more request, about the answer's tokens again; blank: off",
        )
    )  # fmt: skip
    return out


def to_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Panel values with the ``guard_*`` selects folded into one ``guards`` spec string."""
    out = {k: v for k, v in values.items() if not k.startswith((PREFIX, OPTION_PREFIX))}
    picks = {k[len(PREFIX) :]: str(v or OFF) for k, v in values.items() if k.startswith(PREFIX)}
    options = {k[len(OPTION_PREFIX) :]: str(v or "").strip() for k, v in values.items() if k.startswith(OPTION_PREFIX)}
    for name, option in options.items():
        if option and picks.get(name, OFF) != OFF:
            picks[name] = f"{picks[name]}:{option}"
    if picks:
        out["guards"] = ",".join(f"{name}={action}" for name, action in sorted(picks.items()) if action != OFF)
    return out
