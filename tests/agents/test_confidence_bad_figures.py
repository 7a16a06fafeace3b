"""A provider's broken log-probabilities (NaN, infinities, positive values) never make an answer look sure.

A hostile or buggy OpenAI-compatible server, or a model whose logits went
NaN, can send figures no probability has.  Before, one such token made the
per-word mean NaN or +inf, and ``min(1.0, ...)`` turned that into a perfect
1.0: a silent pass.  The check must fail closed: an unusable figure counts as
the least likely token, and a probability is never above 1.
"""

from __future__ import annotations

import math

import pytest

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences
from agents.providers.base import TokenLogprob as T

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("bad", [NAN, INF, -INF, 30.0])
def test_a_broken_figure_never_lifts_an_unsure_answer(bad: float) -> None:
    tokens = [T("Zorb", -6.0), T("ville", -5.0), T(" is", bad), T(" it", -4.0)]
    score = answer_confidence(tokens)
    assert score is not None and math.isfinite(score)
    assert 0.0 <= score < DEFAULT_THRESHOLD


def test_a_nan_figure_counts_as_unsure_not_sure() -> None:
    score = answer_confidence([T("Paris", -0.01), T(".", NAN)])
    assert score is not None and score < DEFAULT_THRESHOLD


def test_a_positive_figure_counts_as_certain_not_more() -> None:
    # Only the sure word may rise to probability 1; it must not make up for the unsure one.
    score = answer_confidence([T("Paris", 5.0), T(" Zorbville", -2.0)])
    assert score == pytest.approx(math.exp(-1.0))


def test_a_sentence_with_a_nan_token_is_flagged() -> None:
    text = "Zorb is. Paris is."
    tokens = [T("Zorb", -3.0), T(" is.", NAN), T(" Paris", -0.01), T(" is.", -0.01)]
    spans = sentence_confidences(text, tokens)
    assert [(s, e) for s, e, _ in spans] == [(0, 9), (9, 18)]
    assert spans[0][2] < DEFAULT_THRESHOLD
    assert spans[1][2] > DEFAULT_THRESHOLD
