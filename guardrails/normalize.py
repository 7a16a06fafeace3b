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


def _small_capitals() -> dict[str, str]:
    """``LATIN LETTER SMALL CAPITAL X`` -> ``x`` for the blocks that hold them (IPA, phonetic, Latin Extended-D)."""
    found = {}
    for block in (range(0x0250, 0x02B0), range(0x1D00, 0x1D80), range(0xA720, 0xA800)):
        for code in block:
            m = re.fullmatch(r"LATIN LETTER SMALL CAPITAL ([A-Z])", unicodedata.name(chr(code), ""))
            if m:
                found[chr(code)] = m.group(1).lower()
    return found


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
        # Every small capital of a single letter (``ꜰᴜᴄᴋ``), found by its Unicode name: NFKC keeps them all.
        **_small_capitals(),
    }
)  # fmt: skip
#: Look-alikes that stand for another letter than ``HOMOGLYPHS`` gives: Cyrillic ``у`` is shaped like ``y`` but
#: is used for ``u`` (``cуnt``).  Word matching tries both readings.
ALTERNATES = str.maketrans({"у": "u", "У": "u"})

#: Dashes and minus signs that separate digit groups as ``-`` does (``4111–1111``, ``078−05−1120``).
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
#: Full stops that separate an address's groups as ``.`` does (ideographic ``。``, halfwidth ``｡``).
FULL_STOPS = frozenset("\u3002\uff61\ufe52")

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


def normalize(text: str, alternate: bool = False) -> Normalized:
    """``text`` normalized for matching, with its index map.

    ``alternate``: read look-alikes by ``ALTERNATES`` first (Cyrillic ``у`` as ``u``).
    """
    if alternate:  # one character for one, so the index map still points at the raw text
        return normalize(text.translate(ALTERNATES))
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
# One digit at a time with a space or two between them (``4 1 1 1 1 1 1``): seven or more, the shortest phone.
_SPACED_DIGITS = re.compile(r"(?<!\w)\d(?:[ \t\u00a0]{1,2}\d(?!\w)){6,}")
# Characters that send text through the slow path of ``normalize_pii``.
_PII_SLOW = re.compile(r"[^\x00-\x7f]|[\[({]|\n|\d[ \t]{1,2}\d[ \t]{1,2}\d")


def normalize_pii(text: str) -> Normalized:
    """``text`` prepared for PII patterns, with its index map (case and accents kept).

    Fullwidth and other compatibility forms become ASCII (NFKC), and so does
    every Unicode decimal digit (``٤``, ``𝟒``, ``४``); dashes and minus signs
    become ``-`` and ideographic full stops ``.``; invisible characters go;
    defanged ``[.]``, ``(dot)``, ``[at]`` become ``.`` and ``@``; a line break
    between two digits becomes a space, so ``4111\n1111`` reads as one number;
    the spaces of a run of single digits (``4 1 1 1 ...``) go; and a Cyrillic
    or Greek look-alike becomes its Latin letter inside a word that also has a
    Latin letter or an ``@`` (``ada@ехample.com``), never in a word of its own
    script.  Plain ASCII text without brackets, line breaks or spaced digits is
    returned as it is (the common case, kept cheap).
    """
    n = len(text)
    if not _PII_SLOW.search(text):
        return Normalized(text, tuple(range(n)), n)
    defanged = {m.start(): m for m in _DEFANGED.finditer(text)}
    gaps = {i for m in _SPACED_DIGITS.finditer(text) for i in range(m.start(), m.end()) if not text[i].isdigit()}
    out: list[str] = []
    index: list[int] = []
    ends: list[int] = []
    i = 0
    while i < n:
        ch, nxt = text[i], i + 1
        if (m := defanged.get(i)) is not None:
            ch, nxt = ("@" if m.group()[1:-1].strip().lower() in {"@", "at"} else "."), m.end()
        elif ch in INVISIBLE or i in gaps:
            i = nxt
            continue
        elif ch in "\r\n" and out and out[-1][-1:].isdigit():
            j = i
            while j < n and (text[j] in "\r\n" or text[j] in INVISIBLE):
                j += 1
            if j < n and text[j].isdigit():
                ch, nxt = " ", j
        elif not ch.isascii():
            ch = _pii_char(text, i)
        out.append(ch)
        index.extend([i] * len(ch))
        ends.extend([nxt] * len(ch))
        i = nxt
    return Normalized("".join(out), tuple(index), n, tuple(ends))


def _pii_char(text: str, i: int) -> str:
    """The PII view of the non-ASCII ``text[i]``."""
    ch = text[i]
    if (digit := unicodedata.decimal(ch, None)) is not None:
        return str(digit)
    if ch in DASHES:
        return "-"
    if ch in FULL_STOPS:
        return "."
    latin = ch.translate(HOMOGLYPHS)
    if latin != ch and latin.isascii() and _mixed_word(text, i):
        return latin
    return unicodedata.normalize("NFKC", ch)


def _mixed_word(text: str, i: int) -> bool:
    """Does the word around ``text[i]`` also hold a Latin letter or an at sign (a look-alike, not another script)?"""
    a = i
    while a > 0 and not text[a - 1].isspace():
        a -= 1
    b = i
    while b < len(text) and not text[b].isspace():
        b += 1
    word = text[a:b]
    return "@" in word or "\uff20" in word or any(c.isascii() and c.isalpha() for c in word)


def fold_leet(text: str) -> str:
    """Leetspeak symbols mapped to the letters they stand for (same length)."""
    return text.translate(LEET)
