"""Removing what a model repeats where a continued answer joins the part already shown.

Asked to continue a partial answer, a remote model (OpenAI, Gemini) often starts
by repeating the last words, the last sentence, or the whole answer.  The
repeat is the longest prefix of the continuation that equals a suffix of the
delivered text, where both ends fall on word boundaries and the repeat holds
at least ``min_chars`` non-space characters (so "in the" + "theory" stays
intact).  Leading whitespace of the continuation is ignored while matching.

A repeat of the whole delivered text (the model restarted its answer) is a
repeat however short it is.

``overlap`` is the pure rule; ``SeamTrimmer`` applies it to a live stream,
holding the continuation's first pieces only while they could still be a
repeat, so its output always equals ``continuation[overlap(...):]``.  The local
and echo providers continue exactly and never need it.

A break inside a word ("It was pain|") is ambiguous: asked to go on, a model
may finish the word ("ted") or write it again ("painted"), and no rule on the
text alone tells "pain" + "painted" from "pa" + "papal".  So the cut word is not
sent: ``split_cut_word`` splits it off, the model is asked to continue from
the word boundary (where the rule above is sound), and ``CutWord`` matches
the continuation's first word against it: written again, only the rest is
new; a different word, and the cut word must be taken back (``retracted``).
"""

from __future__ import annotations

DEFAULT_MIN_CHARS = 4
#: Only this much of the delivered text's end is compared (and at most this much is held back).
DEFAULT_WINDOW = 4096
#: A cut word longer than this (a URL, text without spaces) is kept and continued as it is.
MAX_CUT_WORD = 64


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _starts_at_boundary(tail: str, length: int) -> bool:
    """Whether ``tail[-length:]`` starts at a word boundary of ``tail``."""
    if length >= len(tail):
        return True
    return not (_word_char(tail[-length - 1]) and _word_char(tail[-length]))


def overlap(
    delivered: str, continuation: str, *, min_chars: int = DEFAULT_MIN_CHARS, window: int = DEFAULT_WINDOW
) -> int:
    """How many leading characters of ``continuation`` repeat the end of ``delivered`` (0: none)."""
    tail = delivered[-(window + 1) :]
    body = continuation.lstrip()
    lead = len(continuation) - len(body)
    longest = min(len(body), len(tail), window)
    for length in range(longest, 0, -1):
        repeat = body[:length]
        whole = length == len(delivered)  # the model restarted the whole answer
        if (len(repeat.strip()) < min_chars and not whole) or not tail.endswith(repeat):
            continue
        if not _starts_at_boundary(tail, length):
            continue
        if length < len(body) and _word_char(body[length - 1]) and _word_char(body[length]):
            continue  # the repeat would end inside a word
        return lead + length
    return 0


class SeamTrimmer:
    """Streams a continuation with the repeat at its seam removed (``feed``/``flush``, no I/O)."""

    def __init__(self, delivered: str, *, min_chars: int = DEFAULT_MIN_CHARS, window: int = DEFAULT_WINDOW) -> None:
        self._tail = delivered[-(window + 1) :]
        self._min_chars = min_chars
        self._window = window
        self._held = ""
        self._decided = not delivered
        #: Characters removed at the seam (known once decided).
        self.removed = 0

    def feed(self, text: str) -> str:
        """Text to show now for the continuation piece ``text``."""
        if self._decided:
            return text
        self._held += text
        if self._could_grow():
            return ""
        return self._release()

    def flush(self) -> str:
        """The held-back text, at the end of the continuation."""
        return "" if self._decided else self._release()

    def _could_grow(self) -> bool:
        """Whether the held text may still be the start of a longer repeat."""
        body = self._held.lstrip()
        if not body:
            return len(self._held) <= self._window
        if len(body) > self._window:
            return False
        tail = self._tail
        start = tail.find(body)
        while start != -1:
            if _starts_at_boundary(tail, len(tail) - start):
                return True
            start = tail.find(body, start + 1)
        return False

    def _release(self) -> str:
        self._decided = True
        self.removed = overlap(self._tail, self._held, min_chars=self._min_chars, window=self._window)
        out, self._held = self._held[self.removed :], ""
        return out


def split_cut_word(delivered: str, *, max_word: int = MAX_CUT_WORD) -> tuple[str, str]:
    """``(anchor, word)``: ``delivered`` without the word the break cut (if it ends inside one), and that word.

    The word is the trailing run of non-space characters when ``delivered``
    ends with a letter or digit ("ada.lovelace@exam" is one word); text ending
    with a space or punctuation has no cut word.
    """
    if not delivered or not _word_char(delivered[-1]):
        return delivered, ""
    start = len(delivered)
    while start > 0 and not delivered[start - 1].isspace():
        start -= 1
    if len(delivered) - start > max_word:
        return delivered, ""
    return delivered[:start], delivered[start:]


class CutWord:
    """Matches a continuation asked from before ``word`` against it (``feed``/``flush``, no I/O).

    Output is the continuation after the anchor with ``word`` removed when the
    continuation writes it again; otherwise the continuation as it is, and
    ``retracted`` says the delivered ``word`` must be taken back.
    """

    def __init__(self, word: str) -> None:
        self.word = word
        self._held = ""
        self._decided = not word
        #: True once the continuation turned out to write another word: the cut one is not part of the answer.
        self.retracted = False
        #: Characters of the continuation dropped because they wrote the cut word again.
        self.removed = 0
        self._taken = False

    def feed(self, text: str) -> str:
        """Text to show now for the continuation piece ``text``."""
        if self._decided:
            return text
        self._held += text
        body = self._held.lstrip()
        if len(body) < len(self.word) and self.word.startswith(body):
            return ""  # still the cut word, or whitespace before it
        return self._release()

    def flush(self) -> str:
        """At the end of the continuation: what is still held (nothing new at all keeps the cut word)."""
        if self._decided:
            return ""
        if not self._held.strip():
            self._decided = True
            self._held = ""
            return ""
        return self._release()

    def take_back(self) -> str:
        """The cut word to take out of the delivered text, once, if the continuation wrote another ("" if not)."""
        if not self.retracted or self._taken:
            return ""
        self._taken = True
        return self.word

    def _release(self) -> str:
        self._decided = True
        body, self._held = self._held.lstrip(), ""
        if body.startswith(self.word):
            self.removed = len(self.word)
            return body[len(self.word) :]
        self.retracted = True
        return body
