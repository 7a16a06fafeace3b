"""Guardrail choices as settings: ``NAME[=ACTION]`` specs, parsed, validated and built.

``Settings.guards`` holds ``(name, action)`` pairs; the CLI's repeatable
``--guard NAME[=ACTION]``, a ``GUARDS`` env value and the settings panel all
parse into that shape here.  A guardrail with an option takes it after its
action: ``hallucination=block:0.4`` (the action is then ``"block:0.4"``).  Release modes are ``hold_back`` (default) and
``stream_first``.
"""

from __future__ import annotations

from collections.abc import Iterable

from agents.errors import InvalidSetting
from guardrails import base

RELEASES = ("hold_back", "stream_first")
OFF = "off"

GuardChoice = tuple[str, str]


def parse_spec(spec: str) -> GuardChoice:
    """``"pii=redact"`` -> ``("pii", "redact")``; a bare name takes the guardrail's default action."""
    name, _, action = spec.strip().partition("=")
    name, action = name.strip().lower(), action.strip().lower()
    action, colon, raw = action.partition(":")
    action = action.strip()
    registered = base.get(name)  # raises InvalidSetting for an unknown name
    chosen = action or registered.default_action or "default"
    if chosen != "default" and chosen not in registered.actions:
        raise InvalidSetting(f"guard {name}", action, f"one of {', '.join(registered.actions)}")
    if colon:
        value = registered.parse_option(raw.strip())
        if value != registered.option_default:
            chosen = f"{chosen}:{value:g}"
    return name, chosen


def parse_specs(specs: str | Iterable[str] | Iterable[GuardChoice]) -> tuple[GuardChoice, ...]:
    """Several specs (a comma-separated string, a list of strings or of pairs); later ones win, ``off`` drops."""
    items: list[str] = []
    if isinstance(specs, str):
        items = [s for s in specs.split(",") if s.strip()]
    else:
        for item in specs:
            items.append(item if isinstance(item, str) else f"{item[0]}={item[1]}")
    chosen: dict[str, str] = {}
    for item in items:
        name, _, action = item.partition("=")
        if action.strip().lower() == OFF:
            base.get(name.strip().lower())
            chosen.pop(name.strip().lower(), None)
            continue
        key, value = parse_spec(item)
        chosen[key] = value
    return tuple(sorted(chosen.items()))


def validate(guards: Iterable[GuardChoice], release: str) -> None:
    """Raise ``InvalidSetting`` for an unknown guardrail, action or release mode."""
    parse_specs(list(guards))
    if release not in RELEASES:
        raise InvalidSetting("release", release, " or ".join(RELEASES))


def build(guards: Iterable[GuardChoice]) -> list[base.Guardrail]:
    """The guardrail objects for ``guards``."""
    return [base.create(name, None if action == "default" else action) for name, action in guards]
