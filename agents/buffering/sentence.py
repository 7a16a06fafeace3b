"""Whole sentences, as pysbd splits them (abbreviations, decimals and URLs do not split)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from agents.buffering import _Held, register

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


register("sentence", SentenceStrategy, help="whole sentences", order=5)
