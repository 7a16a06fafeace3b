"""How sure the model was of an answer, from its own token log-probabilities.

The hallucination check scores an answer, and each of its sentences, from the
log-probabilities the provider reports for the tokens it emitted
(``agents.providers.base.TokenLogprob``): no extra request, no extra model.
A score is in [0, 1]; higher means the model was surer.  Which formula scores
best was chosen by measurement (``bench/bench_hallucination.py``).

Interface (kept stable for the rest of the code):

- ``answer_confidence(tokens)``: the answer's score, ``None`` without tokens;
- ``sentence_confidences(text, tokens)``: ``(start, end, score)`` per sentence of ``text``;
- ``DEFAULT_THRESHOLD``: below it an answer or a sentence is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agents.providers.base import TokenLogprob

#: Below this, an answer or a sentence is flagged (placeholder until measured).
DEFAULT_THRESHOLD = 0.5


def answer_confidence(tokens: Sequence[TokenLogprob]) -> float | None:
    """The answer's confidence in [0, 1]; ``None`` when there are no scored tokens.

    Placeholder: the geometric mean of the token probabilities (exp of the mean log-probability).
    """
    if not tokens:
        return None
    return math.exp(sum(t.logprob for t in tokens) / len(tokens))


def sentence_confidences(text: str, tokens: Sequence[TokenLogprob]) -> list[tuple[int, int, float]]:
    """``(start, end, score)`` for each sentence of ``text``; ``tokens`` concatenated spell ``text``.

    Placeholder: the whole text as one sentence.
    """
    score = answer_confidence(tokens)
    if score is None or not text:
        return []
    return [(0, len(text), score)]
