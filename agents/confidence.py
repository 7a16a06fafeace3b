"""How sure the model was of an answer, from its own token log-probabilities.

The hallucination check scores an answer, and each of its sentences, from the
log-probabilities the provider reports for the tokens it emitted
(``agents.providers.base.TokenLogprob``): no extra request, no extra model.
A score is in [0, 1]; higher means the model was surer.

The score is the geometric-mean probability *per word*: ``exp`` of the mean,
over the words of the text, of each word's log-probability (the sum of its
tokens').  A model that makes a name up spells it out of several unlikely
sub-word pieces; per token, the pieces of one invented word are diluted among
the sure template words around it ("The capital of X is ..."), while per word
the invented name counts once, at its full improbability.  It does not grow or
shrink with the length of the text, so a long answer and a short one are
judged alike.  Words (``words``): a token continues the current word when it
starts with a letter or digit and the word so far ends with one; a token
starting with a space or punctuation starts a new one, and punctuation stands
alone.

Measured with the embedded model (SmolLM2-135M, greedy) on 248 "What is the
capital of X?" questions (``bench/data/capitals.tsv``, 91 answered right),
``bench/bench_hallucination.py``: AUROC for telling right answers from wrong
ones 0.902, against 0.877 for the plain mean token log-probability in the same
run.  The formula was chosen on the even-numbered half of the questions among
length-free candidates (mean, minimum, first token, lowest-k means, top-1/top-2
margins, top-5 entropy, per-word mean/minimum) and held its lead on the other
half (0.859 against 0.848).  The total log-probability scored higher (0.913)
only because wrong answers are longer here (length alone: 0.84); it would mark
every long answer as doubtful, so it was not taken.

``DEFAULT_THRESHOLD`` is the point that best separates the two on that first
half (Youden's J, rounded down to flag fewer right answers): below 0.65 an
answer or a sentence is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.buffering.sentence import sentence_ends
from agents.providers.base import TokenLogprob

#: Below this, an answer or a sentence is flagged (chosen from the bench's measurements, see above).
DEFAULT_THRESHOLD = 0.65
#: The figure an unusable log-probability (NaN, -inf) counts as: the least likely token, so the check fails closed.
FLOOR = -1e4


def _usable(logprob: float) -> float:
    """``logprob`` as a log-probability can be: NaN and -inf count as ``FLOOR``, anything above 0 as 0.

    A buggy or hostile provider (or a model whose logits went NaN) can report
    figures no probability has; one NaN or +inf used to carry the whole mean
    to a "sure" 1.0, a silent pass.
    """
    if math.isnan(logprob):
        return FLOOR
    return min(0.0, max(FLOOR, logprob))


def _continues(word_end: str, token: str) -> bool:
    """True when ``token`` carries on the word that ends with ``word_end``: letters or digits on both sides."""
    if not token:
        return True  # a piece of a split UTF-8 character: part of whatever it joins
    return token[0].isalnum() and word_end[-1:].isalnum()


def words(tokens: Sequence[TokenLogprob]) -> list[tuple[str, float]]:
    """The tokens grouped into words: ``(text, log-probability)``, the log-probability summed over its tokens."""
    out: list[tuple[str, float]] = []
    for token in tokens:
        if out and _continues(out[-1][0], token.text):
            text, logprob = out[-1]
            out[-1] = (text + token.text, logprob + _usable(token.logprob))
        else:
            out.append((token.text, _usable(token.logprob)))
    return out


def _score(tokens: Sequence[TokenLogprob]) -> float | None:
    grouped = words(tokens)
    if not grouped:
        return None
    mean = sum(logprob for _, logprob in grouped) / len(grouped)
    return math.exp(mean)  # every figure is in [FLOOR, 0] (``_usable``), so this is in [0, 1]


def answer_confidence(tokens: Sequence[TokenLogprob]) -> float | None:
    """The answer's confidence in [0, 1]; ``None`` when there are no scored tokens.

    The geometric-mean probability per word (see the module's docstring).
    """
    return _score(tokens)


def _token_starts(tokens: Sequence[TokenLogprob], limit: int) -> list[int]:
    """Where each token's first visible character is in the text the tokens spell (clipped to ``limit``)."""
    starts = []
    pos = 0
    for token in tokens:
        lead = len(token.text) - len(token.text.lstrip())
        starts.append(min(pos + lead, limit))
        pos += len(token.text)
    return starts


def sentence_confidences(text: str, tokens: Sequence[TokenLogprob]) -> list[tuple[int, int, float]]:
    """``(start, end, score)`` for each sentence of ``text``; ``tokens`` concatenated spell ``text``.

    Sentences are split as ``agents.buffering.sentence`` splits them (pysbd),
    and the spans tile the text: ``text[start:end]`` over all of them gives it
    back exactly, trailing spaces included.  A token belongs to the sentence of
    its first visible character (so " The" opens the next sentence, not the
    last).  A sentence no token falls in has no score and is left out.

    pysbd reads the whole text, so the cost grows with it (about 18 ms for a
    500-token text of 37 sentences on a busy 2-core machine): call it on a
    finished answer or on each released window, not on every token.
    """
    if not text or not tokens:
        return []
    bounds = [0, *sentence_ends(text), len(text)]
    spans = list(zip(bounds, bounds[1:], strict=False))
    per_sentence: list[list[TokenLogprob]] = [[] for _ in spans]
    index = 0
    for token, start in zip(tokens, _token_starts(tokens, len(text) - 1), strict=True):
        while index + 1 < len(spans) and start >= spans[index][1]:
            index += 1
        per_sentence[index].append(token)
    out = []
    for (start, end), own in zip(spans, per_sentence, strict=True):
        score = _score(own)
        if score is not None:
            out.append((start, end, score))
    return out
