"""A session's settings: the engine's ``RunSettings`` plus the guardrails it turns on.

The Chainlit settings panel, the CLI flags and the HTTP request body all end
up here; an invalid value raises ``InvalidSetting`` with a one-line message
and the session keeps its previous settings.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.errors import InvalidSetting
from agents.providers.base import GenerationParams
from agents.settings import FLOAT_FIELDS, INT_FIELDS, NUMERIC_FIELDS, RunSettings
from guardrails import config as guard_config

#: Most self-check samples per answer: each is one more request and about the answer's tokens again.
MAX_SELFCHECK = 10


@dataclass(frozen=True, slots=True)
class Settings(RunSettings):
    """A session's settings.  Construct with keywords; every field is validated."""

    #: Guardrails on, as ``(name, action)`` pairs; strings such as ``"pii=redact,profanity"`` are parsed.
    guards: tuple[tuple[str, str], ...] = ()
    #: How guarded text reaches the user: ``hold_back`` (only once cleared) or ``stream_first``.
    release: str = "hold_back"
    #: Self-check samples asked for after each answer (``agents.selfcheck``); 0 (default) is off.  A setting of
    #: its own, not an option of the hallucination guardrail: ``GUARDS`` splits on commas and a guard takes one
    #: number, and the self-check needs no log-probabilities, so it works with a provider the guard cannot check.
    selfcheck: int = 0

    def __post_init__(self) -> None:
        RunSettings.__post_init__(self)  # not super(): slotted dataclasses break the zero-argument form
        object.__setattr__(self, "guards", guard_config.parse_specs(self.guards))  # raises InvalidSetting
        guard_config.validate(self.guards, self.release)
        samples = self.selfcheck
        if isinstance(samples, bool) or not isinstance(samples, int) or not 0 <= samples <= MAX_SELFCHECK:
            raise InvalidSetting("selfcheck", samples, f"a whole number of samples from 0 (off) to {MAX_SELFCHECK}")

    @property
    def checks_confidence(self) -> bool:
        """The hallucination guardrail is on: providers are asked for token log-probabilities."""
        return any(name == "hallucination" for name, _ in self.guards)

    def params(self) -> GenerationParams:
        """The sampling parameters, asking for log-probabilities when the hallucination check is on."""
        params = RunSettings.params(self)
        return dataclasses.replace(params, logprobs=True) if self.checks_confidence else params

    @classmethod
    def _env_defaults(cls) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if guards := os.environ.get("GUARDS"):  # e.g. "pii=redact,profanity=block"
            out["guards"] = guards
        if release := os.environ.get("GUARD_RELEASE"):
            out["release"] = release
        if (samples := os.environ.get("SELFCHECK", "").strip()) != "":
            out.update(coerce({"selfcheck": samples}))
        return out


#: Fields where a blank means "the provider's default" (``None``).
_OPTIONAL = frozenset({"model", "temperature", "max_tokens", "seed"})
_INTEGERS = INT_FIELDS | {"selfcheck"}
_NUMBERS = FLOAT_FIELDS


def _blank_value(name: str) -> Any:
    """What a cleared box means: ``None`` for optional fields, no system prompt, else the default."""
    if name in _OPTIONAL:
        return None
    if name == "system_prompt":
        return ""
    field = next((f for f in dataclasses.fields(Settings) if f.name == name), None)
    if field is None or field.default is dataclasses.MISSING:
        raise InvalidSetting(name, "", "a value")
    return field.default


def coerce(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Turn loosely typed values (widget strings, blanks) into ``Settings`` field types.

    A blank string or ``None`` (Chainlit's value for an emptied box) means the
    field's default; see ``_blank_value``.  Raises ``InvalidSetting``.
    """
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            out[name] = _blank_value(name)
            continue
        try:
            if name in NUMERIC_FIELDS | _INTEGERS and isinstance(value, bool):
                raise TypeError  # ``True`` is an int to Python, but no one means 1 by it
            if name in _INTEGERS:
                as_float = float(value)
                if not as_float.is_integer():
                    raise ValueError
                value = int(as_float)
            elif name in _NUMBERS:
                value = float(value)
        except (TypeError, ValueError, OverflowError):
            # "2.5 samples: expected a number" would be false: say which kind of number.
            raise InvalidSetting(name, value, "a whole number" if name in _INTEGERS else "a number") from None
        out[name] = value
    return out
