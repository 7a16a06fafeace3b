"""The token log-probabilities behind the answer text actually delivered, for the hallucination check.

A provider's ``Scored`` pieces carry the tokens that spell them; the runner
delivers text that is not always the text the provider sent: a continuation's
seam repeat is trimmed, a cut-off word is taken back, a Continue carries an
earlier answer on.  ``TokenTrail`` keeps the tokens of exactly the delivered
text (their texts concatenated spell it), so the confidence is that of what the
user was shown, and a resumed answer scores as the same answer uninterrupted.

Attribution rule: the seam trimmer and the cut-word matcher only ever drop a
*prefix* of what they held, and release everything up to the newest piece, so
released text is a suffix of the pending pieces: tokens are taken from the end.
Text that came without log-probabilities makes the trail ``scored = False``:
the answer cannot be checked, and nothing pretends otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.providers.base import Scored, TokenLogprob

Tokens = tuple[TokenLogprob, ...]


def aligned(piece: Scored) -> Tokens:
    """``piece.tokens`` with texts that concatenate to ``piece.text`` (a provider's split may differ)."""
    tokens = piece.tokens
    if "".join(t.text for t in tokens) == piece.text or not tokens:
        return tokens
    # The token texts do not spell the piece (bytes split differently): keep the figures, put the text on the last.
    head = tuple(TokenLogprob("", t.logprob, t.top) for t in tokens[:-1])
    last = tokens[-1]
    return (*head, TokenLogprob(piece.text, last.logprob, last.top))


def tail_tokens(tokens: Sequence[TokenLogprob], length: int) -> Tokens:
    """The tokens spelling the last ``length`` characters of their text (a straddling token is cut)."""
    out: list[TokenLogprob] = []
    need = length
    for token in reversed(tokens):
        if need <= 0:
            break
        size = len(token.text)
        if size > need:
            token = TokenLogprob(token.text[-need:], token.logprob, token.top)
            size = need
        elif size == 0 and not out:
            continue  # an empty token after the text: attach nothing past the end
        out.append(token)
        need -= size
    out.reverse()
    return tuple(out)


def head_tokens(tokens: Sequence[TokenLogprob], length: int) -> Tokens:
    """The tokens spelling the first ``length`` characters of their text (a straddling token is cut)."""
    out: list[TokenLogprob] = []
    used = 0
    for token in tokens:
        if used >= length and token.text:
            break
        size = len(token.text)
        if used + size > length:
            token = TokenLogprob(token.text[: length - used], token.logprob, token.top)
            size = length - used
        out.append(token)
        used += size
    return tuple(out)


class TokenTrail:
    """The tokens of the delivered text, kept in step with it (``hold``, ``deliver``, ``truncate``)."""

    def __init__(self, text: str = "", tokens: Sequence[TokenLogprob] | None = None) -> None:
        #: Every delivered character came with log-probabilities (an empty answer trivially does).
        self.scored = not text or (tokens is not None and "".join(t.text for t in tokens) == text)
        self.tokens: list[TokenLogprob] = list(tokens) if self.scored and tokens is not None else []
        #: Pieces read from the provider but not yet delivered: ``(text, tokens or None)``.
        self._pending: list[tuple[str, Tokens | None]] = []
        #: Whether any piece at all came with log-probabilities.
        self.seen_scores = bool(self.tokens)

    def hold(self, text: str, tokens: Tokens | None) -> None:
        """A piece read from the provider, not yet delivered (it may be trimmed)."""
        if tokens is not None:
            self.seen_scores = True
        self._pending.append((text, tokens))

    def deliver(self, text: str) -> Tokens | None:
        """``text`` was delivered: the pending pieces' tokens that spell it (``None``: not scored)."""
        pending, self._pending = self._pending, []
        if not self.scored:  # already unscored (a provider without log-probabilities): nothing to keep
            return None
        if not text:
            return ()
        need = len(text)
        spans: list[tuple[str, Tokens | None]] = []
        for piece, tokens in reversed(pending):
            if need <= 0:
                break
            spans.append((piece, tokens))
            need -= len(piece)
        spans.reverse()
        if need > 0 or any(tokens is None for _, tokens in spans):
            self.scored = False
        if not self.scored:
            self.tokens = []
            return None
        found = tail_tokens([t for _, tokens in spans for t in tokens or ()], len(text))
        self.tokens.extend(found)
        return found

    def truncate(self, length: int) -> None:
        """The delivered text was cut back to ``length`` characters (a cut-off word taken back)."""
        if self.scored:
            self.tokens = list(head_tokens(self.tokens, length))

    def snapshot(self) -> Tokens | None:
        """The tokens of all the delivered text, ``None`` if some of it came without log-probabilities."""
        return tuple(self.tokens) if self.scored else None
