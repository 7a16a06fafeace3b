"""The embedded model's batched decoding under faults: one answer's failed decode, a context already full."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Sequence

import pytest

from agents.errors import ProviderError
from agents.providers.base import ChatMessage, Finish, GenerationParams, Piece
from agents.providers.local import LocalModel, locate_model
from tests.agents.local_chat import first_text

pytestmark = pytest.mark.model

ASKS = [
    [ChatMessage("system", "You tell stories."), ChatMessage("user", "Write a long story about a lighthouse keeper.")],
    [ChatMessage("system", "You explain science."), ChatMessage("user", "Explain why the sky is blue.")],
    [ChatMessage("system", "You like lists."), ChatMessage("user", "List ten fruits and say one thing about each.")],
]
GREEDY = GenerationParams(temperature=0.0, max_tokens=40)


class BrokenSequence:
    """Wraps the engine's decode: once armed, every token of one sequence goes to a position far past its
    cache, so llama.cpp itself refuses any batch that carries it (a real failed ``llama_decode``)."""

    def __init__(self, model: LocalModel, seq: int) -> None:
        self.armed = False
        self.failed: list[list[int]] = []
        real = model.engine.decode

        def decode(items: Sequence[tuple[int, int, int, bool]]) -> None:
            if self.armed:
                items = [(t, p + 100_000 if s == seq else p, s, lg) for t, p, s, lg in items]
            try:
                real(items)
            except ProviderError:
                self.failed.append([s for _, _, s, _ in items])
                raise

        model.engine.decode = decode  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def model() -> Iterator[LocalModel]:
    model = LocalModel(locate_model(), slots=3)
    model._load()
    yield model
    model.close()


async def outcome(stream: AsyncGenerator[Piece, None]) -> tuple[str, BaseException | None]:
    text: list[str] = []
    try:
        async for piece in stream:
            if isinstance(piece, str):
                text.append(piece)
    except ProviderError as err:
        return "".join(text), err
    return "".join(text), None


async def test_one_answers_failed_decode_leaves_its_neighbours_in_the_batch_unharmed(model: LocalModel) -> None:
    alone = [(await outcome(model.stream(ask, GREEDY)))[0] for ask in ASKS]
    await model.wait_idle()
    broken = BrokenSequence(model, seq=0)
    streams = [model.stream(ask, GREEDY) for ask in ASKS]
    heads = [await first_text(s) for s in streams]  # every answer is generating now
    broken.armed = True
    tails = await asyncio.gather(*(outcome(s) for s in streams))
    results = [(head + text, err) for head, (text, err) in zip(heads, tails, strict=True)]
    assert any(len(seqs) > 1 for seqs in broken.failed), "the fault hit a batch shared with other answers"
    failed = [(i, err) for i, (_, err) in enumerate(results) if err is not None]
    assert len(failed) == 1, f"only the answer whose sequence broke fails, not {failed}"
    assert "\n" not in str(failed[0][1])
    for i, (text, err) in enumerate(results):
        if err is None:
            assert text == alone[i], f"answer {i} changed after its neighbour failed"
    broken.armed = False
    text, err = await outcome(model.stream(ASKS[0], GREEDY))
    assert err is None and text == alone[0], "the worker serves the next answer as before"


async def test_a_continuation_that_fills_the_context_is_marked_cut_off() -> None:
    small = LocalModel(locate_model(), n_ctx=256, slots=1)
    try:
        words = "one two three four five six seven eight nine ten " * 40  # over 256 tokens
        items = [p async for p in small.stream(ASKS[0], GenerationParams(temperature=0.0, max_tokens=2000), words)]
    finally:
        small.close()
    assert [p for p in items if isinstance(p, Finish)], f"no Finish: the answer looks complete ({items})"
    assert [p for p in items if isinstance(p, Finish)][0].reason == "length"


async def test_the_model_serves_again_after_its_scheduler_failed(model: LocalModel) -> None:
    await model.wait_idle()
    engine = model.engine
    real = engine.set_threads
    armed = [False]

    def set_threads(n: int) -> None:
        if armed[0]:
            armed[0] = False
            raise RuntimeError("thread count refused")  # a fault outside any one answer's steps
        real(n)

    engine.set_threads = set_threads  # type: ignore[method-assign]
    try:
        streams = [model.stream(ask, GREEDY) for ask in ASKS]
        for s in streams:
            await first_text(s)
        armed[0] = True
        results = await asyncio.gather(*(outcome(s) for s in streams))
    finally:
        engine.set_threads = real  # type: ignore[method-assign]
    assert all(isinstance(err, ProviderError) for _, err in results), results
    # Every slot was held by an answer when the scheduler failed: they must be free for the next ones.
    later = await asyncio.wait_for(asyncio.gather(*(outcome(model.stream(ask, GREEDY)) for ask in ASKS)), timeout=120)
    assert all(err is None and text for text, err in later), later
