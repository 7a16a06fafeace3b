"""Buffering strategies: how the token stream is grouped into UI updates.

A strategy is a small, pure, stateful object (in the manner of httpx's
``LineDecoder``): ``feed(text)`` returns the chunks ready to emit and
``flush()`` returns the rest.  It does no I/O and knows no clock; a new
instance serves each stream.  For every strategy, the concatenation of
everything ``feed`` and ``flush`` return equals everything fed.

Strategies are registered by name and chosen with a spec string::

    token            every token as it comes
    tokens:N         every N tokens
    chars:N          at least N characters (whole tokens are never split)
    words:N          every N complete words
    line             whole lines
    sentence         whole sentences (pysbd: abbreviations, decimals and URLs do not split)
    time:MS          alone: the first token at once, then at most one update per MS ms
    BASE+time:MS     BASE's chunks, or whatever is held once the oldest held text is MS ms old

The time bound needs a clock, so it is applied by the pipeline stage
(``agents.coalesce``), not by the strategies; ``parse`` only describes it.

Each strategy is a module in this package that registers itself
(``agents.plugins``): ``basic`` (token, tokens, chars, words, line) and
``sentence``.  A new strategy is one new module here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from agents.errors import InvalidSetting
from agents.plugins import DuplicatePlugin, Registry

#: Time-bounded coalescing: the first token at once, then at most one update per 45 ms (≤ 22/s).
DEFAULT_SPEC = "time:45"
MAX_COUNT = 100_000
MAX_TIME_MS = 10_000


class Strategy(Protocol):
    """Groups streamed text into chunks; no I/O, one instance per stream."""

    def feed(self, text: str) -> list[str]:
        """Take new text; return the chunks now ready (never empty strings)."""
        ...

    def flush(self) -> list[str]:
        """Return everything still held and start over empty."""
        ...


class _Held:
    """Shared plumbing: the held text as parts, joined only when needed."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0

    def _hold(self, text: str) -> None:
        self._parts.append(text)
        self._size += len(text)

    def _take(self) -> str:
        text = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        return text

    def _keep(self, rest: str) -> None:
        self._parts = [rest] if rest else []
        self._size = len(rest)

    def flush(self) -> list[str]:
        """Return everything still held."""
        text = self._take()
        return [text] if text else []


class HoldStrategy(_Held):
    """Holds everything until flushed; the base of a time-only spec."""

    def feed(self, text: str) -> list[str]:
        """Hold ``text``."""
        if text:
            self._hold(text)
        return []


# ---------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A registered strategy: how to build it and whether it takes ``:N``."""

    name: str
    factory: Callable[..., Strategy]
    takes_count: bool
    help: str


def _unknown(name: str, known: list[str]) -> InvalidSetting:
    return InvalidSetting("buffer", name, f"one of {', '.join(known)}")


STRATEGIES: Registry[StrategySpec] = Registry("buffering strategy", "agents.buffering", _unknown)


def register(
    name: str,
    factory: Callable[..., Strategy],
    *,
    takes_count: bool = False,
    help: str = "",
    order: int = 100,
    replace: bool = False,
) -> None:
    """Make a strategy selectable by ``name`` (``name:N`` when ``takes_count``).

    The same rule as every plugin (``agents.plugins``): a taken name raises ``DuplicatePlugin``.
    """
    if name == "time":
        raise DuplicatePlugin("'time' is the time bound, not a strategy name")
    STRATEGIES.register(name, StrategySpec(name, factory, takes_count, help), order=order, replace=replace)


def names() -> list[str]:
    """The registered strategy names, in display order."""
    return STRATEGIES.names()


def choices() -> str:
    """The spec forms a user may type, for help texts and error messages."""
    forms = [f"{s.name}:N" if s.takes_count else s.name for s in STRATEGIES.items()]
    return ", ".join(forms) + ", time:MS, or BASE+time:MS"


@dataclass(frozen=True, slots=True)
class BufferSpec:
    """A parsed spec: a base strategy (``None``: time only) and an optional time bound."""

    base: str | None
    count: int | None = None
    time_ms: int | None = None

    @property
    def leading(self) -> bool:
        """Time-only specs emit the first token, and the first after a pause, at once."""
        return self.base is None

    def new(self) -> Strategy:
        """A fresh strategy instance for one stream."""
        if self.base is None:
            return HoldStrategy()
        spec = STRATEGIES.get(self.base)
        return spec.factory(self.count) if spec.takes_count else spec.factory()

    def __str__(self) -> str:
        parts = []
        if self.base is not None:
            parts.append(self.base if self.count is None else f"{self.base}:{self.count}")
        if self.time_ms is not None:
            parts.append(f"time:{self.time_ms}")
        return "+".join(parts)


def _number(spec: str, name: str, raw: str | None, limit: int, unit: str) -> int:
    if raw is None or not re.fullmatch(r"[0-9]+", raw.strip()) or not (1 <= int(raw) <= limit):
        raise InvalidSetting("buffer", spec, f"{name}:{unit} with {unit} a whole number from 1 to {limit:,}")
    return int(raw)


def parse(spec: str) -> BufferSpec:
    """Parse a spec such as ``sentence+time:80``; raises ``InvalidSetting`` with a one-line message."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidSetting("buffer", spec, choices())
    return _parse(spec)


@lru_cache(maxsize=256)
def _parse(spec: str) -> BufferSpec:
    base: str | None = None
    count: int | None = None
    time_ms: int | None = None
    seen_base = False
    for part in spec.strip().lower().split("+"):
        name, colon, raw = part.strip().partition(":")
        name = name.strip()
        arg = raw if colon else None
        if name == "time":
            if time_ms is not None:
                raise InvalidSetting("buffer", spec, "at most one time:MS")
            time_ms = _number(spec, "time", arg, MAX_TIME_MS, "MS")
            continue
        if name not in STRATEGIES:
            raise InvalidSetting("buffer", spec, f"one of {choices()} (unknown strategy {name!r})")
        if seen_base:
            raise InvalidSetting("buffer", spec, "one strategy, optionally with +time:MS")
        seen_base = True
        base = name
        if STRATEGIES.get(name).takes_count:
            count = _number(spec, name, arg, MAX_COUNT, "N")
        elif arg is not None:
            raise InvalidSetting("buffer", spec, f"{name} without a number")
    return BufferSpec(base, count, time_ms)
