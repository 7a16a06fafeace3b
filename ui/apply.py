"""Applying a settings-panel change field by field, and saying what was applied and what was refused.

Refusing a whole change for one bad value silently dropped the valid parts;
here each field is checked on its own, the valid ones are applied, and one
line names both lists.  A model typed for a provider that has no choice of
model (the embedded one runs its GGUF file) is refused rather than ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.errors import ChatError, InvalidSetting, MissingKey
from agents.providers import registry
from chat.keys import USER_VARS
from chat.session import ChatSession
from chat.settings import coerce
from ui import fault_panel, guard_panel, keys_panel, panel


@dataclass
class Outcome:
    """What one panel change did."""

    applied: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: The provider's short label ("Echo") when the change switched provider, else ``None``.
    provider: str | None = None
    #: A key field was filled in (applied or refused): the panel must be sent again to clear it.
    keys_touched: bool = False
    #: The keys set or removed, by name ("OpenAI API key", "Gemini API key removed").
    keys: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what was refused and what was applied (empty when nothing was refused)."""
        if not self.refused:
            return ""
        applied = ", ".join(self.applied) if self.applied else "nothing"
        return f"Refused: {' '.join(self.refused)} Applied: {applied}."


def apply(session: ChatSession, values: Mapping[str, Any]) -> Outcome:
    """Apply every valid field of the panel's ``values`` to ``session``; see ``Outcome``."""
    out = Outcome()
    _apply_keys(session, values, out)  # first: a key entered with the provider it unlocks works in one go
    picked = {k: v for k, v in values.items() if k in panel.FIELDS}
    folded = guard_panel.to_settings(panel.fold_buffer(picked, session.settings.buffer))
    try:
        folded = fault_panel.to_settings(folded)
    except InvalidSetting as err:
        out.refused.append(str(err))
        folded = {k: v for k, v in folded.items() if not k.startswith("fault")}  # the failure widgets go as one
    old_provider = session.settings.provider
    # The provider first: whether a model may be chosen depends on it.
    for name in sorted(folded, key=lambda n: n != "provider"):
        try:
            value = coerce({name: folded[name]})[name]
            before = session.settings
            session.update(**{name: value})
        except MissingKey as err:
            out.refused.append(keys_panel.missing_key_line(err))
            continue
        except ChatError as err:
            out.refused.append(str(err))
            continue
        if session.settings != before:
            out.applied.append(name)
    provider = session.settings.provider
    fixed = registry.get(provider).fixed_model  # the provider says whether a model may be chosen
    if fixed and session.settings.model:
        out.refused.append(f"Model {session.settings.model!r}: {fixed}.")
        if "model" in out.applied:
            out.applied.remove("model")
        session.update(model=None)
    if provider != old_provider:
        out.provider = registry.get(provider).label.split(" (")[0]
    return out


def _apply_keys(session: ChatSession, values: Mapping[str, Any], out: Outcome) -> None:
    """Set or remove the keys typed into the panel; each is named in ``out``, never shown."""
    for var, value in keys_panel.take(values).items():
        out.keys_touched = True
        name = USER_VARS[var]
        if value is None:
            if session.keys.forget(var):
                out.keys.append(f"{name} removed")
                out.applied.append(out.keys[-1])
            continue
        try:
            session.keys.set(var, value)
        except ChatError as err:
            out.refused.append(str(err))
            continue
        out.keys.append(name)
        out.applied.append(name)
