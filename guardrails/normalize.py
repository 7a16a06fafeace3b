"""Text normalization that defeats cheap evasions while keeping a map back to the raw text.

Two views share one index-map type (``Normalized``):

- ``normalize`` is for word matching (profanity, custom terms): it folds case,
  accents and look-alike letters, and decodes HTML entities;
- ``normalize_pii`` is for PII patterns: it keeps case and accents (an e-mail's
  domain, an IBAN's letters) but undoes NFKC forms (fullwidth ``１２３`` and
  ``＠``), invisible characters, defanged ``[.]``/``[at]`` and newlines that
  split a number.

``normalize`` applies, character by character so every output character knows
the raw index it came from:

- decoding of HTML character references (``&#8230;`` -> ``…``, ``&amp;`` -> ``&``);
- removal of zero-width and other invisible format characters (U+200B, U+2060, U+FEFF, soft hyphen,
  Hangul fillers ...);
- NFKD then dropping combining marks (``fück`` -> ``fuck``), then NFKC (full-width and
  compatibility forms: ``ｆｕｃｋ`` -> ``fuck``);
- a small table of look-alike letters from Cyrillic and Greek;
- case folding.

``fold_leet`` maps leetspeak symbols one-to-one (``0``->``o``, ``@``->``a`` ...), so
indexes stay aligned.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

#: Characters that render as nothing; attackers put them inside words.
INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
    "\u2800\u3164\uffa0\u180b\u180c\u180d"
)

#: Look-alikes NFKC leaves alone (Cyrillic and Greek letters shaped like Latin ones).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
        # Armenian and Latin letters that NFKD does not reduce (``fսck``, ``ƒuck``).
        "ս": "u", "օ": "o", "հ": "h", "ո": "n", "ց": "g", "ք": "p", "ƒ": "f", "ɑ": "a", "ı": "i", "ɩ": "i",
        "ʋ": "u", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ʟ": "l", "ɴ": "n", "ʀ": "r", "ꜱ": "s", "ᴜ": "u", "ᴄ": "c",
        "ᴋ": "k", "ᴛ": "t", "ᴏ": "o", "ᴀ": "a", "ᴅ": "d", "ᴇ": "e", "ғ": "f",
        # Negative circled, negative squared and regional-indicator letters (``🅵🆄🅲🅺``): no NFKC form.
        **{chr(base + i): chr(ord("a") + i) for base in (0x1F150, 0x1F170, 0x1F1E6) for i in range(26)},
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
    #: For each character, the raw index just past what it came from (``&#8230;`` is one ``…``); empty: index + 1.
    ends: tuple[int, ...] = ()

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw ``(start, end)`` covering normalized ``text[start:end]``."""
        if start >= end:
            pos = self.index[start] if start < len(self.index) else self.raw_length
            return pos, pos
        return self.index[start], (self.ends[end - 1] if self.ends else self.index[end - 1] + 1)


# An HTML character reference: named (``&amp;``), decimal (``&#8230;``) or hex (``&#x2026;``).
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.lower()
    decomposed = unicodedata.normalize("NFKD", ch)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", stripped).translate(HOMOGLYPHS).casefold()


def normalize(text: str) -> Normalized:
    """``text`` normalized for matching, with its index map."""
    if text.isascii() and "&" not in text:  # the common case: only case to fold, indexes unchanged
        return Normalized(text.lower(), tuple(range(len(text))), len(text))
    out: list[str] = []
    index: list[int] = []
    ends: list[int] = []
    entities = {m.start(): m for m in _ENTITY.finditer(text)} if "&" in text else {}
    i = 0
    while i < len(text):
        ch, nxt = text[i], i + 1
        if (m := entities.get(i)) is not None and (decoded := html.unescape(m.group())) != m.group():
            ch, nxt = decoded, m.end()
        i, start = nxt, i
        if ch in INVISIBLE:
            continue
        folded = "".join(_fold_char(c) for c in ch if c not in INVISIBLE)
        out.append(folded)
        index.extend([start] * len(folded))
        ends.extend([nxt] * len(folded))
    return Normalized("".join(out), tuple(index), len(text), tuple(ends))


# Defanged separators: ``192[.]168[.]1[.]1``, ``john(at)example[dot]com``.
_DEFANGED = re.compile(r"[\[({]\s*(?:\.|dot|@|at)\s*[\])}]", re.IGNORECASE)
# Characters that send text through the slow path of ``normalize_pii``.
_PII_SLOW = re.compile(r"[^\x00-\x7f]|[\[({]|\n")


def normalize_pii(text: str) -> Normalized:
    """``text`` prepared for PII patterns, with its index map (case and accents kept).

    Fullwidth and other compatibility forms become ASCII (NFKC), invisible
    characters go, defanged ``[.]``, ``(dot)``, ``[at]`` become ``.`` and ``@``,
    and a line break between two digits becomes a space, so ``4111\n1111``
    reads as one number.  Plain ASCII text without brackets or line breaks is
    returned as it is (the common case, kept cheap).
    """
    n = len(text)
    if not _PII_SLOW.search(text):
        return Normalized(text, tuple(range(n)), n)
    defanged = {m.start(): m for m in _DEFANGED.finditer(text)}
    out: list[str] = []
    index: list[int] = []
    ends: list[int] = []
    i = 0
    while i < n:
        ch, nxt = text[i], i + 1
        if (m := defanged.get(i)) is not None:
            ch, nxt = ("@" if m.group()[1:-1].strip().lower() in {"@", "at"} else "."), m.end()
        elif ch in INVISIBLE:
            i = nxt
            continue
        elif ch in "\r\n" and out and out[-1][-1:].isdigit():
            j = i
            while j < n and (text[j] in "\r\n" or text[j] in INVISIBLE):
                j += 1
            if j < n and unicodedata.normalize("NFKC", text[j]).isdigit():
                ch, nxt = " ", j
        elif not ch.isascii():
            ch = unicodedata.normalize("NFKC", ch)
        out.append(ch)
        index.extend([i] * len(ch))
        ends.extend([nxt] * len(ch))
        i = nxt
    return Normalized("".join(out), tuple(index), n, tuple(ends))


def fold_leet(text: str) -> str:
    """Leetspeak symbols mapped to the letters they stand for (same length)."""
    return text.translate(LEET)
