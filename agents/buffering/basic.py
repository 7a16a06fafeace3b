"""The simple strategies: every token, every N tokens, N characters, N words, whole lines."""

from __future__ import annotations

import re

from agents.buffering import _Held, register


class TokenStrategy:
    """Pass-through: each token is its own chunk."""

    def feed(self, text: str) -> list[str]:
        """Emit ``text`` at once."""
        return [text] if text else []

    def flush(self) -> list[str]:
        """Nothing is ever held."""
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


register("token", TokenStrategy, help="every token as it comes", order=0)
register("tokens", TokensStrategy, takes_count=True, help="every N tokens", order=1)
register("chars", CharsStrategy, takes_count=True, help="at least N characters", order=2)
register("words", WordsStrategy, takes_count=True, help="every N words", order=3)
register("line", LineStrategy, help="whole lines", order=4)
