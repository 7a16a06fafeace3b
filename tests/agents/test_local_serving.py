"""Several sessions on the embedded model: turns, the queue, Stop, the prompt cache and greedy byte-identity."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.events import Done, Event, Notice
from agents.providers.base import ChatMessage, Finish, GenerationParams, Waiting
from agents.providers.local import LocalModel, LocalProvider, locate_model
from agents.runner import Runner
from tests.agents.local_chat import first_text, model_with, text_of

pytestmark = pytest.mark.model

SYSTEM = ChatMessage("system", "You are a helpful assistant.")
STORY = [SYSTEM, ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]
QUESTION = [SYSTEM, ChatMessage("user", "What is 3+4?")]
GREEDY = GenerationParams(temperature=0.0, max_tokens=24)
LONG = GenerationParams(temperature=0.0, max_tokens=400)


@pytest.fixture(scope="module")
def two_slots() -> Iterator[LocalModel]:
    yield from model_with(2)


@pytest.fixture(scope="module")
def one_slot() -> Iterator[LocalModel]:
    yield from model_with(1)


# -- fairness ---------------------------------------------------------------------------------------


async def test_a_short_question_finishes_while_a_long_story_streams(two_slots: LocalModel) -> None:
    story = two_slots.stream(STORY, LONG)
    await first_text(story)
    story_pieces = 1
    question = asyncio.create_task(text_of(two_slots.stream(QUESTION, GREEDY)))
    # The story keeps streaming while the question is answered: both progress, in turns.
    while not question.done():
        piece = await anext(story)
        story_pieces += isinstance(piece, str)
        assert story_pieces < 400, "the story ended before the question was answered"
    answer = await question
    more = await first_text(story)
    await story.aclose()
    assert answer.strip() and more


async def test_a_queued_answer_is_told_its_place_until_it_starts(one_slot: LocalModel) -> None:
    story = one_slot.stream(STORY, LONG)
    await first_text(story)
    runner = Runner(LocalProvider(one_slot), stall_timeout=0.5)
    events: list[Event] = []

    async def follow() -> None:
        async for event in runner.run(QUESTION, GREEDY):
            events.append(event)

    waiting_task = asyncio.create_task(follow())
    while not any(isinstance(e, Notice) and e.kind == "waiting" for e in events):
        await anext(story)  # the story goes on; the question waits for the only slot
    notice = next(e for e in events if isinstance(e, Notice))
    assert notice.message == "waiting for the model (next in line)" and notice.data == {"ahead": 0}
    await story.aclose()  # Stop on the story: the question gets the slot
    await waiting_task
    done = events[-1]
    assert isinstance(done, Done) and done.text.strip()
    assert done.stats.retries == 0, "waiting in the queue is not a stall"


async def test_stop_on_one_answer_leaves_the_other_byte_identical(two_slots: LocalModel) -> None:
    alone = await text_of(two_slots.stream(QUESTION, LONG))
    story = two_slots.stream(STORY, LONG)
    await first_text(story)
    question = asyncio.create_task(text_of(two_slots.stream(QUESTION, LONG)))
    for _ in range(5):
        await anext(story)
    await story.aclose()  # Stop on the story while the question is being answered
    assert await question == alone, "greedy output does not depend on another session generating or stopping"


# -- the prompt cache -------------------------------------------------------------------------------


#: A first turn of several canonical chunks, so a follow-up has whole chunks to reuse.
BRIEFED = [
    ChatMessage("system", "You are a careful maths tutor. " + "Explain each step in one short sentence. " * 12),
    ChatMessage("user", "What is 3+4?"),
]


def follow_up(first_answer: str) -> list[ChatMessage]:
    return [*BRIEFED, ChatMessage("assistant", first_answer), ChatMessage("user", "And what is 5+6?")]


async def test_a_follow_up_reuses_the_cache_and_matches_an_uncached_run(two_slots: LocalModel) -> None:
    first = await text_of(two_slots.stream(BRIEFED, GREEDY))
    before = two_slots.prompt_tokens_evaluated
    cached = await text_of(two_slots.stream(follow_up(first), GREEDY))
    evaluated = two_slots.prompt_tokens_evaluated - before

    fresh = LocalModel(locate_model(), slots=1)
    try:
        uncached = await text_of(fresh.stream(follow_up(first), GREEDY))
        full = fresh.prompt_tokens_evaluated
    finally:
        fresh.close()
    assert cached == uncached, "a cache hit gives the same greedy answer as a cold run"
    assert 0 < evaluated < full, f"the follow-up evaluated {evaluated} of its {full} prompt tokens"


async def test_the_same_prompt_twice_is_a_cache_hit_with_the_same_answer(two_slots: LocalModel) -> None:
    first = await text_of(two_slots.stream(STORY, GREEDY))
    before = two_slots.prompt_tokens_evaluated
    second = await text_of(two_slots.stream(STORY, GREEDY))
    assert second == first
    assert two_slots.prompt_tokens_evaluated - before < 64, "at most the last canonical chunk is evaluated again"


async def test_a_continuation_after_its_cache_was_evicted_matches_the_unbroken_answer(two_slots: LocalModel) -> None:
    pieces = [p async for p in two_slots.stream(STORY, GREEDY) if isinstance(p, str)]
    whole, partial = "".join(pieces), "".join(pieces[: len(pieces) // 2])  # the runner resumes at a piece boundary
    others = [[SYSTEM, ChatMessage("user", f"Name {n} colours.")] for n in (2, 3)]
    await asyncio.gather(*(text_of(two_slots.stream(m, GREEDY)) for m in others))  # both slots now hold others
    rest = await text_of(two_slots.stream(STORY, GREEDY, continue_from=partial))
    assert partial + rest == whole


# -- the token limit --------------------------------------------------------------------------------


async def test_the_local_model_marks_an_answer_cut_by_the_limit(two_slots: LocalModel) -> None:
    items = [p async for p in two_slots.stream(STORY, GenerationParams(temperature=0.0, max_tokens=8))]
    assert items[0] == Waiting() and items[-1] == Finish("length", 8)
    runner = Runner(LocalProvider(two_slots))
    events = [e async for e in runner.run(STORY, GenerationParams(temperature=0, max_tokens=8))]
    done = events[-1]
    assert isinstance(done, Done) and done.stats.cut_off and done.stats.cut_off_at == 8
    yes_or_no = [SYSTEM, ChatMessage("user", "Reply with one word: yes or no. Is the sky blue?")]
    short = [e async for e in runner.run(yes_or_no, GenerationParams(temperature=0, max_tokens=60))]
    assert isinstance(short[-1], Done) and short[-1].stats.finish_reason == "stop"


# -- issue 12: a long prompt is not a stall; a long history is trimmed linearly and can be stopped --


async def test_reading_a_long_prompt_does_not_count_as_a_stall(two_slots: LocalModel) -> None:
    long_prompt = "Summarise this. " + "The keeper logged the weather, trimmed the wick and watched the sea. " * 160
    runner = Runner(LocalProvider(two_slots), stall_timeout=0.3)
    params = GenerationParams(temperature=0, max_tokens=4)
    events = [e async for e in runner.run([ChatMessage("user", long_prompt)], params)]
    done = events[-1]
    assert isinstance(done, Done) and done.stats.retries == 0, [e for e in events if isinstance(e, Notice)]


class CountingModel(LocalModel):
    """A real ``LocalModel`` that counts the characters it renders and tokenizes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, slots=1)
        self.tokenized_chars = 0

    def _tokens(self, llm, messages):  # type: ignore[no-untyped-def]
        self.tokenized_chars += sum(len(m["content"]) for m in messages)
        return super()._tokens(llm, messages)


def history(turns: int) -> list[dict[str, str]]:
    said = [{"role": "system", "content": "Be brief."}]
    for i in range(turns):
        said.append({"role": "user", "content": f"Message number {i}: tell me one more fact about lighthouses."})
        said.append({"role": "assistant", "content": f"Fact {i}: lighthouses guide ships away from rocks at night."})
    return [*said, {"role": "user", "content": "And the last one?"}]


@pytest.fixture(scope="module")
def counting() -> Iterator[CountingModel]:
    model = CountingModel(locate_model())
    model._load()
    yield model
    model.close()


def drain_steps(steps: Iterator[None]) -> tuple[list[int], int]:
    yields = 0
    while True:
        try:
            next(steps)
            yields += 1
        except StopIteration as end:
            return end.value, yields


def test_trimming_a_long_history_costs_what_fits_not_its_square(counting: CountingModel) -> None:
    messages = history(500)  # 1,002 messages, about 100 KB
    llm = counting._load()
    counting.tokenized_chars = 0
    tokens, yields = drain_steps(counting._prompt_tokens(llm, messages, reserve=512))
    assert len(tokens) <= counting.n_ctx - 512
    kept_text = llm.detokenize(tokens).decode()
    assert "And the last one?" in kept_text and "Message number 499" in kept_text
    assert "Message number 0:" not in kept_text
    assert counting.tokenized_chars < 4 * len(kept_text), "each kept turn is tokenized a bounded number of times"
    assert yields > 0, "the trimming yields to other answers while it works"


def test_trimming_stops_when_the_answer_is_stopped(counting: CountingModel) -> None:
    messages = history(500)
    llm = counting._load()
    stop = threading.Event()
    steps = counting._prompt_tokens(llm, messages, reserve=512, stop=stop)
    next(steps)
    stop.set()
    counting.tokenized_chars = 0
    tokens, _ = drain_steps(steps)
    assert tokens == [] and counting.tokenized_chars == 0


# -- threads ----------------------------------------------------------------------------------------


def test_the_thread_tuner_follows_the_faster_count() -> None:
    from agents.providers.local import ThreadTuner

    tuner = ThreadTuner([1, 2])
    assert tuner.choose() == 2, "all cores until something is measured"
    tuner.record(2, 0.100)
    assert tuner.choose() == 1, "the other count is measured early"
    tuner.record(1, 0.015)
    picks = []
    for _ in range(64):
        n = tuner.choose()
        picks.append(n)
        tuner.record(n, 0.015 if n == 1 else 0.100)  # a busy machine: two threads wait on each other
    assert picks.count(1) >= 60 and 2 in picks, "the fast count is used; the other is re-measured now and then"
    for _ in range(400):
        n = tuner.choose()
        tuner.record(n, 0.024 if n == 1 else 0.015)  # the machine went idle: 42 against 66 tok/s
    assert tuner.best == 2


async def test_greedy_output_does_not_depend_on_the_thread_count() -> None:
    model = LocalModel(locate_model(), n_threads=1, slots=1)
    try:
        one = await text_of(model.stream(QUESTION, GREEDY))
    finally:
        model.close()
    model = LocalModel(locate_model(), n_threads=2, slots=1)
    try:
        two = await text_of(model.stream(QUESTION, GREEDY))
    finally:
        model.close()
    assert one == two


async def test_while_idle_the_last_answer_is_cached_for_the_follow_up_and_greedy_stays_exact(
    two_slots: LocalModel,
) -> None:
    # An answer that ends by itself (about 80 tokens): one cut off at its limit is kept as generated, for Continue.
    first = await text_of(two_slots.stream(BRIEFED, GenerationParams(temperature=0.0, max_tokens=120)))
    await two_slots.wait_idle()  # the user reads the answer: the worker evaluates it for the next turn
    before = two_slots.prompt_tokens_evaluated
    cached = await text_of(two_slots.stream(follow_up(first), GREEDY))
    evaluated = two_slots.prompt_tokens_evaluated - before
    fresh = LocalModel(locate_model(), slots=1)
    try:
        uncached = await text_of(fresh.stream(follow_up(first), GREEDY))
    finally:
        fresh.close()
    assert cached == uncached
    assert evaluated < 64 + 16, f"only the last chunk and the new question are evaluated, not {evaluated} tokens"
