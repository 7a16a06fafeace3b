"""How much of a stream's tail to hold back: the words that may still grow into a match."""

from __future__ import annotations

from collections.abc import Callable


def trailing_hold(text: str, max_match: int, may_belong: Callable[[str], bool]) -> int:
    """Characters at the end of ``text`` to hold back before releasing it.

    Always the trailing partial word (the next token may extend it), plus each
    whole word before it, walking backwards, while ``may_belong(word)`` says it
    could be part of a match still being written (``f u c`` spelled out, the
    groups of a phone number).  Never more than ``max_match`` characters.
    """
    tail = text[-max_match:]
    i = len(tail)
    while i > 0 and not tail[i - 1].isspace():
        i -= 1
    while True:
        j = i
        while j > 0 and tail[j - 1].isspace():
            j -= 1
        k = j
        while k > 0 and not tail[k - 1].isspace():
            k -= 1
        if k == j or not may_belong(tail[k:j]):
            break
        i = k
    return len(tail) - i
