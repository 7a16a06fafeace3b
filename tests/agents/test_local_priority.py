"""The embedded model's queue and turns: places counted right, watched answers served first, none starved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator

import pytest

from agents.providers.base import Audience, ChatMessage, GenerationParams, Piece, Waiting
from agents.providers.local import UNWATCHED_EVERY, LocalModel
from tests.agents.local_chat import first_text, model_with

pytestmark = pytest.mark.model

SYSTEM = ChatMessage("system", "You are a helpful assistant.")
STORY = [SYSTEM, ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]
QUESTION = [SYSTEM, ChatMessage("user", "What is 3+4?")]
LONG = GenerationParams(temperature=0.0, max_tokens=400)
#: A question whose answer runs to the token limit, so the counts below have room.
LISTING = [SYSTEM, ChatMessage("user", "List twenty kinds of fruit, one per line.")]
SHORT = 24


def params(tokens: int, *, watched: bool = True) -> GenerationParams:
    return GenerationParams(temperature=0.7, seed=1, max_tokens=tokens, audience=Audience(watched))


@pytest.fixture(scope="module")
def one_slot() -> Iterator[LocalModel]:
    yield from model_with(1)


@pytest.fixture(scope="module")
def three_slots() -> Iterator[LocalModel]:
    yield from model_with(3)


class Log:
    """Every text piece of several concurrent streams, in the order they arrived, by name."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.waits: dict[str, list[int | None]] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def follow(self, name: str, stream: AsyncGenerator[Piece, None]) -> None:
        self.waits[name] = []

        async def read() -> None:
            async for item in stream:
                if isinstance(item, Waiting):
                    self.waits[name].append(item.ahead)
                elif isinstance(item, str) and item:
                    self.order.append(name)

        self.tasks[name] = asyncio.create_task(read())

    def count(self, name: str, since: int = 0) -> int:
        return self.order[since:].count(name)

    async def until(self, name: str, pieces: int) -> None:
        while self.count(name) < pieces:
            assert not self.tasks[name].done(), f"{name} ended early"
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


async def test_a_queued_answer_counts_the_answers_queued_before_it_not_itself(one_slot: LocalModel) -> None:
    story = one_slot.stream(STORY, LONG)
    await first_text(story)
    log = Log()
    log.follow("first", one_slot.stream(QUESTION, params(4)))
    log.follow("second", one_slot.stream(QUESTION, params(4)))
    while not (log.waits["first"][1:] and log.waits["second"][1:]):
        await anext(story)  # the story holds the only slot; both questions queue
    assert log.waits["first"] == [None, 0], "first in the queue: nobody is ahead of it"
    assert log.waits["second"] == [None, 1]
    await story.aclose()
    await asyncio.gather(*log.tasks.values())
    assert log.count("first") and log.count("second")


async def test_a_watched_answer_is_admitted_before_an_unwatched_one_that_queued_first(one_slot: LocalModel) -> None:
    story = one_slot.stream(STORY, LONG)
    await first_text(story)
    log = Log()
    log.follow("unwatched", one_slot.stream(QUESTION, params(4, watched=False)))
    while not log.waits["unwatched"][1:]:
        await anext(story)
    log.follow("watched", one_slot.stream(QUESTION, params(4)))
    while not (log.waits["watched"][1:] and log.waits["unwatched"][-1] == 1):
        await anext(story)
    assert log.waits["watched"] == [None, 0] and log.waits["unwatched"] == [None, 0, 1]
    await story.aclose()
    await asyncio.gather(*log.tasks.values())
    assert log.order.index("watched") < log.order.index("unwatched")


async def test_with_two_slots_busy_one_unwatched_a_new_watched_question_gets_the_turns_first(
    three_slots: LocalModel,
) -> None:
    log = Log()
    log.follow("watched story", three_slots.stream(STORY, params(400)))
    await log.until("watched story", 1)
    log.follow("unwatched story", three_slots.stream(STORY, params(400, watched=False)))
    await log.until("unwatched story", 1)
    since = len(log.order)
    log.follow("question", three_slots.stream(LISTING, params(SHORT)))
    await log.tasks["question"]
    question = log.count("question", since)
    assert question >= SHORT // 2, question
    watched, unwatched = log.count("watched story", since), log.count("unwatched story", since)
    # The question and the watched story take turns; the unwatched story steps once in UNWATCHED_EVERY rounds.
    assert watched >= question - 3, (watched, question)
    assert unwatched <= question // UNWATCHED_EVERY + 3, (unwatched, question)
    # It is slowed, never stopped: it keeps going while the watched story streams, then at full speed alone.
    since = len(log.order)
    await log.until("watched story", log.count("watched story") + 4 * UNWATCHED_EVERY)
    assert log.count("unwatched story", since) >= 2
    log.tasks["watched story"].cancel()
    since = len(log.order)
    await log.until("unwatched story", log.count("unwatched story") + 10)
    assert log.count("unwatched story", since) >= 10
    await log.stop()


async def test_an_answer_whose_viewer_comes_back_is_served_as_watched_again(three_slots: LocalModel) -> None:
    log = Log()
    audience = Audience(False)
    log.follow("story", three_slots.stream(STORY, GenerationParams(temperature=0.7, max_tokens=400, audience=audience)))
    log.follow("other", three_slots.stream(STORY, params(400)))
    await log.until("story", 1)
    await log.until("other", 1)
    audience.watched = True  # the tab reopened: equal turns again
    await log.until("story", log.count("story") + 2)  # let the worker see it
    since = len(log.order)
    await log.until("other", log.count("other") + 3 * UNWATCHED_EVERY)
    assert log.count("story", since) >= 3 * UNWATCHED_EVERY - 3
    await log.stop()
