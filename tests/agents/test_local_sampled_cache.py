"""A follow-up sent at once reuses the whole cache, greedy or sampled; greedy answers stay exact (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.local import LocalModel, locate_model
from tests.agents.local_chat import first_text, model_with, text_of, then

pytestmark = pytest.mark.model

SYSTEM = ChatMessage("system", "You are a helpful assistant.")
STORY = [SYSTEM, ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]
TALE = [SYSTEM, ChatMessage("user", "Tell me a story about a fox and a crow.")]
SAMPLED = GenerationParams(temperature=0.7, seed=3, max_tokens=100)
GREEDY = GenerationParams(temperature=0.0, max_tokens=24)


@pytest.fixture(scope="module")
def two_slots() -> Iterator[LocalModel]:
    yield from model_with(2)


async def test_a_sampled_follow_up_sent_at_once_evaluates_only_the_new_turn(two_slots: LocalModel) -> None:
    # Another answer keeps the worker busy meanwhile: the sampled answers are batched beside it.
    story = two_slots.stream(STORY, GenerationParams(temperature=0.0, max_tokens=400))
    await first_text(story)
    try:
        first = await text_of(two_slots.stream(TALE, SAMPLED))
        assert len(first) > 200, "the first answer must be long enough for the count below to mean something"
        second_turn = then(TALE, first, "Give it a title.")
        before = two_slots.prompt_tokens_evaluated
        second = await text_of(two_slots.stream(second_turn, SAMPLED))
        evaluated = two_slots.prompt_tokens_evaluated - before
        assert second.strip()
        assert evaluated < 48, f"only the new turn is evaluated, not the previous answer again ({evaluated} tokens)"

        # A greedy answer in the same slot afterwards keeps only the canonical cache: it matches a cold run.
        third_turn = then(second_turn, second, "Now say it in one sentence.")
        cached = await text_of(two_slots.stream(third_turn, GREEDY))
    finally:
        await story.aclose()
    fresh = LocalModel(locate_model(), slots=1)
    try:
        cold = await text_of(fresh.stream(third_turn, GREEDY))
    finally:
        fresh.close()
    assert cached == cold


async def test_a_sampled_follow_up_after_a_pause_evaluates_only_the_new_turn(two_slots: LocalModel) -> None:
    # The worker is idle during the pause: the answer stays cached as generated.
    first = await text_of(two_slots.stream(TALE, SAMPLED))
    assert len(first) > 200
    await asyncio.sleep(1.0)
    await two_slots.wait_idle()
    before = two_slots.prompt_tokens_evaluated
    second = await text_of(two_slots.stream(then(TALE, first, "Give it a title."), SAMPLED))
    evaluated = two_slots.prompt_tokens_evaluated - before
    assert second.strip()
    assert evaluated < 48, f"only the new turn is evaluated ({evaluated} tokens)"


async def test_a_greedy_follow_up_sent_at_once_evaluates_only_the_new_turn_and_matches_a_cold_run(
    two_slots: LocalModel,
) -> None:
    # The previous answer is cached as it was generated, one token at a time, which is the layout a
    # cold run gives an answer in the history too (``_layout``): nothing is read again, nothing differs.
    story = two_slots.stream(STORY, GenerationParams(temperature=0.0, max_tokens=400))
    await first_text(story)
    try:
        first = await text_of(two_slots.stream(TALE, GenerationParams(temperature=0.0, max_tokens=100)))
        follow = then(TALE, first, "Give it a title.")
        before = two_slots.prompt_tokens_evaluated
        cached = await text_of(two_slots.stream(follow, GREEDY))
        evaluated = two_slots.prompt_tokens_evaluated - before
    finally:
        await story.aclose()
    assert evaluated < 48, f"only the new turn is evaluated, not the previous answer again ({evaluated} tokens)"
    fresh = LocalModel(locate_model(), slots=1)
    try:
        cold_before = fresh.prompt_tokens_evaluated
        assert cached == await text_of(fresh.stream(follow, GREEDY))
        assert fresh.prompt_tokens_evaluated - cold_before > 100, "the cold run read the whole conversation"
    finally:
        fresh.close()


async def test_a_cold_sampled_conversation_reads_earlier_answers_in_chunks() -> None:
    # Greedy answers lay earlier answers out one token at a time (to match the cache a conversation
    # leaves); a sampled one need not match anything, so a cold sampled run reads at prompt speed.
    history = then(TALE, "Once upon a time a fox met a crow who held a piece of cheese. " * 4, "Give it a title.")
    model = LocalModel(locate_model(), slots=1)
    try:
        await model.ensure_loaded()
        sizes: list[int] = []
        real = model.engine.decode

        def decode(items: list[tuple[int, int, int, bool]]) -> None:
            sizes.append(len(items))
            real(items)

        model.engine.decode = decode  # type: ignore[method-assign]
        await text_of(model.stream(history, GenerationParams(temperature=0.7, seed=1, max_tokens=1)))
        sampled = list(sizes)
        model.close()
        model = LocalModel(locate_model(), slots=1)
        await model.ensure_loaded()
        sizes.clear()
        real = model.engine.decode
        model.engine.decode = decode  # type: ignore[method-assign]
        await text_of(model.stream(history, GenerationParams(temperature=0.0, max_tokens=1)))
        greedy = list(sizes)
    finally:
        model.close()
    assert sampled.count(1) <= 1, f"the sampled run read in chunks: {sampled}"
    assert greedy.count(1) > 40, "the greedy run read the earlier answer one token at a time"
