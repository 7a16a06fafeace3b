"""What the engine needs for one answer: provider, sampling, resume and buffering settings.

``RunSettings`` is validated once where it is built; an invalid value raises
``InvalidSetting`` with a one-line message.  It knows nothing of guardrails:
the session's full settings (``chat.settings.Settings``) extend it with them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any, Self

from agents import buffering
from agents.buffering import DEFAULT_SPEC as DEFAULT_BUFFER
from agents.errors import InvalidSetting
from agents.faults import parse_fault
from agents.providers import registry
from agents.providers.base import GenerationParams
from agents.retry import DEFAULT_MAX_ATTEMPTS, RetryPolicy

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer clearly and briefly."
DEFAULT_MAX_INPUT_CHARS = 32_000
MAX_TOKENS_LIMIT = 32_768
#: Longer than any real model id (they are tens of characters), short enough to log and send.
MAX_MODEL_CHARS = 256
#: The numeric fields of ``RunSettings``: whole numbers, and numbers.
INT_FIELDS = frozenset({"max_tokens", "seed", "max_input_chars", "retries"})
FLOAT_FIELDS = frozenset({"temperature", "echo_rate", "stall_timeout"})
NUMERIC_FIELDS = INT_FIELDS | FLOAT_FIELDS


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidSetting(name, raw, "a whole number") from None


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The engine's settings for a session.  Construct with keywords; every field is validated."""

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

    def __post_init__(self) -> None:
        registry.get(self.provider)  # raises UnknownProvider
        for name in sorted(NUMERIC_FIELDS):
            if isinstance(getattr(self, name), bool):  # bool passes every range check below as 0 or 1
                raise InvalidSetting(name, getattr(self, name), "a number, not true/false")
        if self.model is not None and not (0 < len(self.model) <= MAX_MODEL_CHARS):
            raise InvalidSetting("model", self.model[:40], f"a model name of 1 to {MAX_MODEL_CHARS} characters")
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

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Defaults, then environment variables, then ``overrides``."""
        base: dict[str, Any] = {
            "provider": os.environ.get("DEFAULT_PROVIDER") or "local",
            "max_input_chars": _env_int("MAX_INPUT_CHARS", DEFAULT_MAX_INPUT_CHARS),
        }
        if prompt := os.environ.get("SYSTEM_PROMPT"):
            base["system_prompt"] = prompt
        base.update(cls._env_defaults())
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)

    @classmethod
    def _env_defaults(cls) -> dict[str, Any]:
        """Further defaults a subclass reads from the environment."""
        return {}

    def replace(self, **changes: Any) -> Self:
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

    def provider_options(self) -> dict[str, Any]:
        """Keyword options for ``registry.create`` (the echo provider's speed)."""
        return {"rate": self.echo_rate}
