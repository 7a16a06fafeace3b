"""Seam de-duplication: the repeat a remote model makes when asked to continue is removed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.seam import SeamTrimmer, overlap

LOWER = st.text(alphabet="abcdefgh", min_size=1, max_size=6)
UPPER = st.text(alphabet="PQRSTUVW", min_size=1, max_size=6)
SEP = st.sampled_from([" ", ", ", ". ", "\n", " - "])


@st.composite
def words(draw: st.DrawFn, word: st.SearchStrategy[str], min_size: int = 1) -> str:
    parts = draw(st.lists(word, min_size=min_size, max_size=12))
    seps = draw(st.lists(SEP, min_size=len(parts), max_size=len(parts)))
    return "".join(w + s for w, s in zip(parts, seps, strict=True)).rstrip(" ,.-\n") or parts[0]


def trim_streamed(delivered: str, continuation: str, cuts: list[int]) -> str:
    trimmer = SeamTrimmer(delivered)
    out, last = [], 0
    for cut in sorted({c % (len(continuation) + 1) for c in cuts}):
        out.append(trimmer.feed(continuation[last:cut]))
        last = cut
    out.append(trimmer.feed(continuation[last:]))
    out.append(trimmer.flush())
    return "".join(out)


@pytest.mark.parametrize(
    ("delivered", "continuation", "expected"),
    [
        ("The capital of France is", " Paris.", " Paris."),
        ("The capital of France is", "France is Paris.", " Paris."),
        ("The capital of France is", " of France is Paris.", " Paris."),
        ("The capital of France is", "The capital of France is Paris.", " Paris."),
        ("The capital of France is ", "France is Paris.", "Paris."),
        ("Lists:\n1. one\n2. two", "\n2. two\n3. three", "\n3. three"),
        ("we studied it in the", " theory of groups", " theory of groups"),  # "the" inside "theory"
        ("I would rather not bother", "other people", "other people"),  # "other" inside "bother"
        ("x a b", "a b c", "a b c"),  # too short to call a repeat
        ("Hello", "", ""),
    ],
)
def test_examples(delivered: str, continuation: str, expected: str) -> None:
    assert continuation[overlap(delivered, continuation) :] == expected
    assert trim_streamed(delivered, continuation, [1, 3, 7]) == expected


@given(head=words(LOWER), rest=words(UPPER), sep=SEP, k=st.integers(min_value=1, max_value=12))
def test_a_repeated_word_aligned_suffix_is_removed(head: str, rest: str, sep: str, k: int) -> None:
    # The answer is head + sep + rest; the model repeats the last k words of head, then goes on.
    tokens = head.split(" ")
    repeated = " ".join(tokens[-k:])
    if len(repeated.strip()) < 4:
        return  # too short to be told apart from a coincidence: covered by the examples
    continuation = repeated + sep + rest
    assert head + continuation[overlap(head, continuation) :] == head + sep + rest


@given(head=words(LOWER), rest=words(UPPER), sep=SEP)
def test_a_continuation_that_repeats_nothing_is_kept_whole(head: str, rest: str, sep: str) -> None:
    continuation = sep + rest
    assert overlap(head, continuation) == 0


@given(delivered=st.text(max_size=40), continuation=st.text(max_size=40), cuts=st.lists(st.integers(0, 50)))
def test_only_a_prefix_is_ever_removed_and_streaming_matches_the_pure_rule(
    delivered: str, continuation: str, cuts: list[int]
) -> None:
    n = overlap(delivered, continuation)
    assert 0 <= n <= len(continuation)
    assert trim_streamed(delivered, continuation, cuts) == continuation[n:]


@given(delivered=words(LOWER), continuation=words(LOWER), cuts=st.lists(st.integers(0, 80)))
def test_streaming_matches_the_pure_rule_on_lookalike_text(delivered: str, continuation: str, cuts: list[int]) -> None:
    assert trim_streamed(delivered, continuation, cuts) == continuation[overlap(delivered, continuation) :]


def test_nothing_delivered_means_nothing_held() -> None:
    trimmer = SeamTrimmer("")
    assert trimmer.feed("Hello") == "Hello" and trimmer.flush() == ""


def test_held_text_is_released_as_soon_as_it_cannot_be_a_repeat() -> None:
    trimmer = SeamTrimmer("The capital of France is")
    assert trimmer.feed(" France") == ""  # could still be "France is"
    assert trimmer.feed(" is") == ""  # a full repeat, but the next character decides its end
    assert trimmer.feed(" Paris") == " Paris"
    assert trimmer.feed(".") == "."
