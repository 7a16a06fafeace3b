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
sent: ``split_cut_word`` splits it off, the model is asked to continue "It
was" (where the rule above is sound), and ``CutWord`` matches the
continuation's first word against the cut one: written again, only the rest
is new; a different word, and the cut one is taken back (``take_back``).
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
    """``(ask, cut)``: what to ask a model to continue, and the cut-off end of ``delivered`` it leaves out.

    When ``delivered`` ends inside a word (with a letter or digit), the word is
    its trailing run of non-space characters ("ada.lovelace@exam" is one word);
    ``ask`` is the text before it without trailing whitespace (a prompt that ends
    in a space derails models) and ``cut`` the rest: ``ask + cut == delivered``.
    Text ending with a space or punctuation has no cut word: ``(delivered, "")``.
    """
    if not delivered or not _word_char(delivered[-1]):
        return delivered, ""
    start = len(delivered)
    while start > 0 and not delivered[start - 1].isspace():
        start -= 1
    if len(delivered) - start > max_word:
        return delivered, ""
    ask = delivered[:start].rstrip()
    return ask, delivered[len(ask) :]


class CutWord:
    """Matches a continuation of ``ask`` against the ``cut`` it left out (``feed``/``flush``, no I/O).

    If the continuation writes the cut word again (with any whitespace before
    it), the output is what follows the word.  Otherwise the output is the
    continuation as it is, and ``take_back`` gives ``cut`` once: the delivered
    text must lose it, since the model went on differently from ``ask``.
    """

    def __init__(self, cut: str) -> None:
        self.cut = cut
        self.word = cut.lstrip()
        self._held = ""
        self._decided = not cut
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
        """The cut text to take off the end of the delivered text, once, if the model wrote another word."""
        if not self.retracted or self._taken:
            return ""
        self._taken = True
        return self.cut

    def _release(self) -> str:
        self._decided = True
        held, self._held = self._held, ""
        body = held.lstrip()
        if body.startswith(self.word):
            rest = body[len(self.word) :]
            self.removed = len(held) - len(rest)
            return rest
        self.retracted = True
        return held  # with its own leading whitespace: it now follows ``ask``
