"""Text normalization that defeats cheap evasions while keeping a map back to the raw text.

``normalize`` applies, character by character so every output character knows
the raw index it came from:

- removal of zero-width and other invisible format characters (U+200B, U+2060, U+FEFF, soft hyphen ...);
- NFKD then dropping combining marks (``fück`` -> ``fuck``), then NFKC (full-width and
  compatibility forms: ``ｆｕｃｋ`` -> ``fuck``);
- a small table of look-alike letters from Cyrillic and Greek;
- case folding.

``fold_leet`` maps leetspeak symbols one-to-one (``0``->``o``, ``@``->``a`` ...), so
indexes stay aligned.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: Characters that render as nothing; attackers put them inside words.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)

#: Look-alikes NFKC leaves alone (Cyrillic and Greek letters shaped like Latin ones).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    }
)  # fmt: skip

#: Leetspeak symbol -> letter.  One character to one, so indexes do not move.
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i",
                      "|": "i", "+": "t", "€": "e", "£": "l"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalized text plus, for each of its characters, the index of the raw character it came from."""

    text: str
    index: tuple[int, ...]
    raw_length: int

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw ``(start, end)`` covering normalized ``text[start:end]``."""
        if start >= end:
            pos = self.index[start] if start < len(self.index) else self.raw_length
            return pos, pos
        return self.index[start], self.index[end - 1] + 1


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.lower()
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", stripped).translate(HOMOGLYPHS).casefold()


def normalize(text: str) -> Normalized:
    """``text`` normalized for matching, with its index map."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch in INVISIBLE:
            continue
        folded = _fold_char(ch)
        out.append(folded)
        index.extend([i] * len(folded))
    return Normalized("".join(out), tuple(index), len(text))


def fold_leet(text: str) -> str:
    """Leetspeak symbols mapped to the letters they stand for (same length)."""
    return text.translate(LEET)
