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
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from agents.errors import InvalidSetting

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


class TokenStrategy:
    """Pass-through: each token is its own chunk."""

    def feed(self, text: str) -> list[str]:
        """Emit ``text`` at once."""
        return [text] if text else []

    def flush(self) -> list[str]:
        """Nothing is ever held."""
        return []


class HoldStrategy(_Held):
    """Holds everything until flushed; the base of a time-only spec."""

    def feed(self, text: str) -> list[str]:
        """Hold ``text``."""
        if text:
            self._hold(text)
        return []


class TokensStrategy(_Held):
    """Emits every ``n`` tokens."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def feed(self, text: str) -> list[str]:
        """Hold ``text``; emit once ``n`` tokens are held."""
        if not text:
            return []
        self._hold(text)
        return [self._take()] if len(self._parts) >= self.n else []


class CharsStrategy(_Held):
    """Emits once at least ``n`` characters are held, never splitting a token."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def feed(self, text: str) -> list[str]:
        """Hold ``text``; emit everything once ``n`` characters are held."""
        if not text:
            return []
        self._hold(text)
        return [self._take()] if self._size >= self.n else []


_WORD_END = re.compile(r"\S(?=\s)")


class WordsStrategy(_Held):
    """Emits every ``n`` complete words; the whitespace after a word goes with the next chunk."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def feed(self, text: str) -> list[str]:
        """Hold ``text``; emit each run of ``n`` words once the word after them has begun."""
        if not text:
            return []
        self._hold(text)
        if not any(c.isspace() for c in text):
            return []  # no word can have been completed
        held = self._take()
        out: list[str] = []
        start = count = 0
        for match in _WORD_END.finditer(held):
            count += 1
            if count == self.n:
                end = match.end()
                out.append(held[start:end])
                start, count = end, 0
        self._keep(held[start:])
        return out


class LineStrategy(_Held):
    """Emits whole lines, each with its newline."""

    def feed(self, text: str) -> list[str]:
        """Hold ``text``; emit every completed line."""
        if not text:
            return []
        self._hold(text)
        if "\n" not in text:
            return []
        held = self._take()
        cut = held.rfind("\n") + 1
        self._keep(held[cut:])
        return [line + "\n" for line in held[: cut - 1].split("\n")]


# Text that may end a sentence: terminal punctuation (optionally closed by a
# quote or bracket) followed by whitespace, or a newline.
_MAYBE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*\s|\n")
# A complete word: the boundary before it is settled once the word after it has ended.
_COMPLETE_WORD = re.compile(r"\S\s")
# URLs and e-mail addresses are masked (same length) so their dots and '?' never split.
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S*[^\s.,;:!?)\]\"'”’]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd  # lazy: its rules compile on first use

    return pysbd.Segmenter(language="en", clean=False)


def sentence_ends(text: str) -> list[int]:
    """Offsets in ``text`` where a new sentence starts (after the whitespace that ends the last)."""
    masked = _URL.sub(lambda m: "x" * len(m.group()), text)
    ends: list[int] = []
    pos = 0
    for i, segment in enumerate(_segmenter().segment(masked)):
        core = segment.strip()
        if not core:
            continue
        found = masked.find(core, pos)
        if found < 0:  # pysbd changed the text: trust no boundary rather than lose text
            return []
        if i and found > 0:
            ends.append(found)
        pos = found + len(core)
    return ends


class SentenceStrategy(_Held):
    """Emits whole sentences, as pysbd splits them; abbreviations, decimals and URLs do not split.

    A boundary is trusted only once a complete word follows it ("$3." + "50"
    must not split), and pysbd runs only when text that may end a sentence is
    held, so most tokens cost a regex search.  A run longer than
    ``max_chars`` with no sentence end (a code block) goes out at its last
    whitespace, so the held text stays bounded.
    """

    def __init__(self, max_chars: int = 1_000) -> None:
        super().__init__()
        self.max_chars = max_chars
        self._maybe = False

    def feed(self, text: str) -> list[str]:
        """Hold ``text``; emit every sentence that is followed by a complete word."""
        if not text:
            return []
        self._hold(text)
        if not self._maybe:
            # A sentence end can straddle tokens ("." then " "), so look at the joint too.
            tail = self._parts[-2][-3:] + text if len(self._parts) > 1 else text
            self._maybe = _MAYBE_END.search(tail) is not None
        if self._size > self.max_chars:
            return self._overflow()
        if not self._maybe or not any(c.isspace() for c in text):
            return []
        held = self._take()
        cut = 0
        for end in sentence_ends(held):
            if _COMPLETE_WORD.search(held, end):
                cut = end
        self._keep(held[cut:])
        self._maybe = _MAYBE_END.search(held, cut) is not None
        return [held[:cut]] if cut else []

    def _overflow(self) -> list[str]:
        held = self._take()
        cut = max(held.rfind(" "), held.rfind("\n"), held.rfind("\t")) + 1 or len(held)
        self._keep(held[cut:])
        self._maybe = _MAYBE_END.search(held, cut) is not None
        return [held[:cut]]

    def flush(self) -> list[str]:
        """Return everything still held, split into sentences: nothing more can follow."""
        maybe, self._maybe = self._maybe, False
        held = self._take()
        if not held:
            return []
        cuts = [0, *sentence_ends(held), len(held)] if maybe else [0, len(held)]
        return [held[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


# ---------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A registered strategy: how to build it and whether it takes ``:N``."""

    name: str
    factory: Callable[..., Strategy]
    takes_count: bool
    help: str


_REGISTRY: dict[str, StrategySpec] = {}


def register(name: str, factory: Callable[..., Strategy], *, takes_count: bool = False, help: str = "") -> None:
    """Make a strategy selectable by ``name`` (``name:N`` when ``takes_count``)."""
    if name in _REGISTRY or name == "time" or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"cannot register a buffering strategy named {name!r}")
    _REGISTRY[name] = StrategySpec(name, factory, takes_count, help)


def names() -> list[str]:
    """The registered strategy names, in registration order."""
    return list(_REGISTRY)


def choices() -> str:
    """The spec forms a user may type, for help texts and error messages."""
    forms = [f"{s.name}:N" if s.takes_count else s.name for s in _REGISTRY.values()]
    return ", ".join(forms) + ", time:MS, or BASE+time:MS"


register("token", TokenStrategy, help="every token as it comes")
register("tokens", TokensStrategy, takes_count=True, help="every N tokens")
register("chars", CharsStrategy, takes_count=True, help="at least N characters")
register("words", WordsStrategy, takes_count=True, help="every N words")
register("line", LineStrategy, help="whole lines")
register("sentence", SentenceStrategy, help="whole sentences")


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
        spec = _REGISTRY[self.base]
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
        if name not in _REGISTRY:
            raise InvalidSetting("buffer", spec, f"one of {choices()} (unknown strategy {name!r})")
        if seen_base:
            raise InvalidSetting("buffer", spec, "one strategy, optionally with +time:MS")
        seen_base = True
        base = name
        if _REGISTRY[name].takes_count:
            count = _number(spec, name, arg, MAX_COUNT, "N")
        elif arg is not None:
            raise InvalidSetting("buffer", spec, f"{name} without a number")
    return BufferSpec(base, count, time_ms)
