"""One typed settings object per session, validated once where it is parsed.

The Chainlit settings panel, the CLI flags and the SSE request body all end up
here; an invalid value raises ``InvalidSetting`` with a one-line message and
the session keeps its previous settings.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents import buffering
from agents.buffering import DEFAULT_SPEC as DEFAULT_BUFFER
from agents.errors import InvalidSetting
from agents.faults import parse_fault
from agents.providers.base import GenerationParams
from agents.retry import DEFAULT_MAX_ATTEMPTS, RetryPolicy

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and briefly."
DEFAULT_MAX_INPUT_CHARS = 32_000
MAX_TOKENS_LIMIT = 32_768


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidSetting(name, raw, "a whole number") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """A session's settings.  Construct with keywords; every field is validated."""

    provider: str = "local"
    #: ``None``: the provider's default model.
    model: str | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    #: ``None``: the provider's default.  0 is greedy (deterministic).
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    #: Tokens/s of the echo provider; 0 means unlimited.
    echo_rate: float = 50.0
    max_input_chars: int = DEFAULT_MAX_INPUT_CHARS
    #: "Simulate failure" (agents.faults): ``off``, or e.g. ``disconnect@20``, ``server_error@every10x2``.
    fault: str = "off"
    #: Resume attempts after a stream breaks, per outage (0: give up at once).
    retries: int = DEFAULT_MAX_ATTEMPTS
    #: Seconds without a token before a stream counts as dropped; 0 turns stall detection off.
    stall_timeout: float = 30.0
    #: Providers that take over the continuation, in order, comma-separated (blank: none).
    failover: str = ""
    #: How tokens are grouped into UI updates (agents.buffering): e.g. ``token``, ``sentence+time:80``.
    buffer: str = DEFAULT_BUFFER
    #: Guardrails on, as ``(name, action)`` pairs; strings such as ``"pii=redact,profanity"`` are parsed.
    guards: tuple[tuple[str, str], ...] = ()
    #: How guarded text reaches the user: ``hold_back`` (only once cleared) or ``stream_first``.
    release: str = "hold_back"

    def __post_init__(self) -> None:
        from agents.providers import registry  # late: providers register themselves on import

        registry.get(self.provider)  # raises UnknownProvider
        for name in sorted(INT_FIELDS | FLOAT_FIELDS):
            if isinstance(getattr(self, name), bool):  # bool passes every range check below as 0 or 1
                raise InvalidSetting(name, getattr(self, name), "a number, not true/false")
        if self.temperature is not None and not (0.0 <= self.temperature <= 2.0):
            raise InvalidSetting("temperature", self.temperature, "a number from 0 to 2")
        if self.max_tokens is not None and not (1 <= self.max_tokens <= MAX_TOKENS_LIMIT):
            raise InvalidSetting("max_tokens", self.max_tokens, f"a whole number from 1 to {MAX_TOKENS_LIMIT}")
        if self.seed is not None and not (0 <= self.seed < 2**32):
            raise InvalidSetting("seed", self.seed, "a whole number from 0 to 4294967295")
        if not math.isfinite(self.echo_rate) or self.echo_rate < 0:
            raise InvalidSetting("echo_rate", self.echo_rate, "tokens per second, 0 for unlimited")
        if self.max_input_chars < 1:
            raise InvalidSetting("max_input_chars", self.max_input_chars, "a positive whole number")
        if len(self.system_prompt) > self.max_input_chars:
            raise InvalidSetting("system_prompt", self.system_prompt, f"at most {self.max_input_chars:,} characters")
        parse_fault(self.fault)  # raises InvalidSetting
        RetryPolicy(max_attempts=self.retries)  # raises InvalidSetting
        if not (math.isfinite(self.stall_timeout) and 0 <= self.stall_timeout <= 3600):
            raise InvalidSetting("stall_timeout", self.stall_timeout, "seconds from 0 (off) to 3600")
        for name in self.failover_providers():
            registry.get(name)  # raises UnknownProvider
        buffering.parse(self.buffer)  # raises InvalidSetting
        from guardrails import config as guard_config  # late: guardrails register themselves on import

        object.__setattr__(self, "guards", guard_config.parse_specs(self.guards))  # raises InvalidSetting
        guard_config.validate(self.guards, self.release)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then environment variables, then ``overrides``."""
        base: dict[str, Any] = {
            "provider": os.environ.get("DEFAULT_PROVIDER") or "local",
            "max_input_chars": _env_int("MAX_INPUT_CHARS", DEFAULT_MAX_INPUT_CHARS),
        }
        if prompt := os.environ.get("SYSTEM_PROMPT"):
            base["system_prompt"] = prompt
        if guards := os.environ.get("GUARDS"):  # e.g. "pii=redact,profanity=block"
            base["guards"] = guards
        if release := os.environ.get("GUARD_RELEASE"):
            base["release"] = release
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)

    def failover_providers(self) -> list[str]:
        """The failover provider names, in order."""
        return [name.strip() for name in self.failover.split(",") if name.strip()]

    def params(self) -> GenerationParams:
        """The sampling parameters to hand a provider."""
        return GenerationParams(
            model=self.model, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed
        )


#: Fields where a blank means "the provider's default" (``None``).
_OPTIONAL = frozenset({"model", "temperature", "max_tokens", "seed"})
#: Numeric fields, by the type ``coerce`` turns their values into.
INT_FIELDS = frozenset({"max_tokens", "seed", "max_input_chars", "retries"})
FLOAT_FIELDS = frozenset({"temperature", "echo_rate", "stall_timeout"})


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
            if name in INT_FIELDS | FLOAT_FIELDS and isinstance(value, bool):
                raise TypeError  # ``True`` is an int to Python, but no one means 1 by it
            if name in INT_FIELDS:
                as_float = float(value)
                if not as_float.is_integer():
                    raise ValueError
                value = int(as_float)
            elif name in FLOAT_FIELDS:
                value = float(value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidSetting(name, value, "a number") from None
        out[name] = value
    return out
