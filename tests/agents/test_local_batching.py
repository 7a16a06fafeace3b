"""Batched decoding on the embedded model: answers that generate together share one decode per round,
and sharing it changes no answer (greedy or seeded), resumed or not, whatever else is in the batch."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence

import pytest

from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.local import LocalModel, locate_model
from tests.agents.local_chat import text_of

pytestmark = pytest.mark.model

# Each its own system prompt: on a fresh model every answer then starts in a cold slot of its own.
ASKS = [
    [ChatMessage("system", "You tell stories."), ChatMessage("user", "Write a long story about a lighthouse keeper.")],
    [ChatMessage("system", "You explain science."), ChatMessage("user", "Explain why the sky is blue.")],
    [ChatMessage("system", "You like lists."), ChatMessage("user", "List ten fruits and say one thing about each.")],
    [ChatMessage("system", "You describe places."), ChatMessage("user", "Describe a busy market on a rainy morning.")],
]
GREEDY = GenerationParams(temperature=0.0, max_tokens=60)
SEEDED = GenerationParams(temperature=0.9, seed=1234, max_tokens=60)


class Recorder:
    """Wraps the engine's decode to record which sequences each decode carried."""

    def __init__(self, model: LocalModel) -> None:
        self.decodes: list[list[int]] = []
        engine = model.engine
        real = engine.decode

        def decode(items: Sequence[tuple[int, int, int, bool]]) -> None:
            self.decodes.append([seq for _, _, seq, _ in items])
            real(items)

        engine.decode = decode  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def four() -> Iterator[LocalModel]:
    model = LocalModel(locate_model(), slots=4)
    model._load()
    yield model
    model.close()


def fresh() -> LocalModel:
    model = LocalModel(locate_model(), slots=4)
    model._load()
    return model


@pytest.mark.parametrize("params", [GREEDY, SEEDED], ids=["greedy", "seeded"])
async def test_an_answer_is_the_same_alone_and_batched_with_three_others(
    four: LocalModel, params: GenerationParams
) -> None:
    # A sampled answer may differ between a cache hit and a cold run (docs/local-serving.md), so the
    # seeded case starts both runs cold; the greedy one must match with whatever the cache holds.
    first, second = (four, four) if params is GREEDY else (fresh(), fresh())
    try:
        alone = [await text_of(first.stream(ask, params)) for ask in ASKS]
        recorder = Recorder(second)
        # Different lengths and start times: the batch grows and shrinks while each answer generates.
        together = await asyncio.gather(
            *(
                text_of(second.stream(ask, dataclasses.replace(params, max_tokens=60 - 10 * i)))
                for i, ask in enumerate(ASKS)
            )
        )
    finally:
        if first is not four:
            first.close()
            second.close()
    assert together[0] == alone[0]
    for i in range(1, 4):
        assert alone[i].startswith(together[i]) and together[i], f"answer {i} changed beside the others"
    shared = [seqs for seqs in recorder.decodes if len(set(seqs)) > 1]
    assert len(shared) >= 20, "the answers' tokens went through the model together"
    assert max(len(seqs) for seqs in shared) == 4
    for seqs in recorder.decodes:
        assert len(set(seqs)) == len(seqs) or len(set(seqs)) == 1, (
            "a decode is either one token of each of several answers or one answer's own chunk"
        )


async def test_a_continuation_in_a_batch_matches_the_unbroken_answer(four: LocalModel) -> None:
    pieces = [p async for p in four.stream(ASKS[0], GREEDY) if isinstance(p, str)]
    whole = "".join(pieces)
    partial = "".join(pieces[: len(pieces) // 2])  # a resume continues after a piece the user saw
    # Evict the cache of ASKS[0] so the continuation re-evaluates its prefix, beside three other answers.
    others = [four.stream(ask, GREEDY) for ask in ASKS[1:]]
    rest, *_ = await asyncio.gather(
        text_of(four.stream(ASKS[0], GREEDY, continue_from=partial)), *(text_of(o) for o in others)
    )
    assert partial + rest == whole


async def test_four_answers_take_fewer_decodes_than_their_tokens(four: LocalModel) -> None:
    batches, tokens = four.batches, four.batched_tokens
    await asyncio.gather(*(text_of(four.stream(ask, GREEDY)) for ask in ASKS))
    carried = four.batched_tokens - tokens
    decodes = four.batches - batches
    assert carried >= 3 * decodes, f"{carried} tokens in {decodes} decodes: the answers were not batched"
