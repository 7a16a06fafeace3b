"""The confidence score: fixed inputs give known outputs, and sentence spans map back to the text exactly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences, words
from agents.providers.base import TokenLogprob


def toks(*pairs: tuple[str, float]) -> list[TokenLogprob]:
    return [TokenLogprob(text, logprob) for text, logprob in pairs]


def test_no_tokens_means_no_score() -> None:
    assert answer_confidence([]) is None
    assert sentence_confidences("", []) == []
    assert sentence_confidences("Paris.", []) == []


def test_sub_word_tokens_make_one_word_and_punctuation_stands_alone() -> None:
    tokens = toks(("The", -0.1), (" K", -1.0), ("ou", -2.0), ("il", -0.5), ("é", -0.5), (".", -0.2))
    assert words(tokens) == [("The", -0.1), (" Kouilé", -4.0), (".", -0.2)]
    assert [w for w, _ in words(toks(("Port", -1), ("-", -1), ("au", -1), ("\n", -1), ("", -1), ("x", -1)))] == [
        "Port",
        "-",
        "au",
        "\n",
        "x",  # the empty piece of a split character joins what it precedes
    ]


def test_the_score_is_the_geometric_mean_probability_per_word() -> None:
    tokens = toks(("The", -0.1), (" K", -1.0), ("ou", -2.0), ("il", -0.5), ("é", -0.5), (".", -0.2))
    assert answer_confidence(tokens) == pytest.approx(math.exp((-0.1 - 4.0 - 0.2) / 3))
    # A sure answer scores near 1, and certainty is capped at 1 even if a provider rounds above 0.
    assert answer_confidence(toks(("Paris", 0.0))) == 1.0
    assert answer_confidence(toks(("Paris", 1e-9))) == 1.0


def test_an_invented_name_scores_lower_per_word_than_per_token() -> None:
    """The reason for the formula: an invented word's pieces count once, at their full improbability."""
    sure = [("The", -0.05), (" capital", -0.05), (" of", -0.05), (" X", -0.05), (" is", -0.05)]
    tokens = toks(*sure, (" K", -0.8), ("ou", -0.8), ("il", -0.8), ("ou", -0.8), (".", -0.1))
    per_token = math.exp(sum(t.logprob for t in tokens) / len(tokens))
    score = answer_confidence(tokens)
    assert score is not None and score < DEFAULT_THRESHOLD < per_token


def test_sentences_are_scored_separately_and_tile_the_text() -> None:
    tokens = toks(
        ("The", -0.1), (" capital", -0.1), (" is", -0.1), (" Paris", -0.1), (".", -0.1),
        (" It", -0.1), (" has", -0.1), (" Zq", -3.0), ("ran", -3.0), (" towers", -0.1), (".", -0.1),
    )  # fmt: skip
    text = "".join(t.text for t in tokens)
    spans = sentence_confidences(text, tokens)
    assert [(s, e) for s, e, _ in spans] == [(0, 22), (22, len(text))]
    assert text[0:22] == "The capital is Paris. "  # the space stays with the first sentence's text...
    first, second = (score for _, _, score in spans)
    assert first == pytest.approx(math.exp(-0.1))
    # ...while the " It" token counts for the second sentence: It, has, Zqran, towers, "."
    assert second == pytest.approx(math.exp((-0.1 - 0.1 - 6.0 - 0.1 - 0.1) / 5))
    assert first >= DEFAULT_THRESHOLD > second


def test_abbreviations_and_decimals_do_not_split_a_sentence() -> None:
    tokens = toks(("Dr", -0.1), (".", -0.1), (" Smith", -0.1), (" paid", -0.1), (" $3", -0.1), (".", -0.1),
                  ("50", -0.1), (".", -0.1))  # fmt: skip
    text = "".join(t.text for t in tokens)
    assert [(s, e) for s, e, _ in sentence_confidences(text, tokens)] == [(0, len(text))]


@given(st.lists(st.tuples(st.sampled_from(["The", " cat", ".", " Dr.", " ", "\n", "Yes", "!", " 3.5", "é", ""]),
                          st.floats(min_value=-20, max_value=0)), min_size=1, max_size=40))  # fmt: skip
def test_sentence_spans_map_back_to_the_text_exactly(pairs: list[tuple[str, float]]) -> None:
    tokens = toks(*pairs)
    text = "".join(t.text for t in tokens)
    spans = sentence_confidences(text, tokens)
    if not text:
        assert spans == []
        return
    # Every token lands in some sentence, so no sentence is left out and the spans tile the text.
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    assert "".join(text[s:e] for s, e, _ in spans) == text
    assert all(0.0 <= score <= 1.0 for _, _, score in spans)
