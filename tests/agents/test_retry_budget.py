"""Each answer has a hard retry budget: upstream requests are counted for ``--retries N``.

The reported failure: a server that drops every stream after repeating what
the user already has.  The seam trimmer threw the repeat away, but each
repeated token still counted as progress and reset the attempts, so
``--retries 1`` made 101 requests.  The runner is built from ``Settings``
(what ``--retries`` sets) and talks to the scripted loopback server through
the OpenAI provider; only its backoff sleep is replaced, so no test waits.
"""

from __future__ import annotations

import pytest

from agents.errors import ConnectionLost
from agents.events import Done, Failed, Notice
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.openai_provider import OpenAIProvider
from agents.retry import RESUMES_PER_ATTEMPT, Backoff, RetryPolicy
from agents.runner import Runner
from chat.settings import Settings
from tests.fakes import FakeClock, RecordingSleep
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer

WORDS = [f"w{i}" for i in range(300)]
MESSAGES = [ChatMessage("user", "Count.")]
#: More replies than the old per-answer cap (100 resumes) could use.
PLENTY = 110


def words(n: int) -> str:
    return "".join(w + " " for w in WORDS[:n])


def broken(text: str) -> Reply:
    """A stream that sends ``text`` and then drops (the role chunk, the text, then a cut)."""
    return Reply.sse(openai_stream([text, "never sent"]), done=True, cut_after=2)


async def answer(scripted: ScriptedServer, retries: int) -> tuple[list, RecordingSleep]:
    settings = Settings(provider="openai", retries=retries, stall_timeout=10)
    provider = OpenAIProvider("test-model", api_key="sk-test", base_url=f"{scripted.url}/v1")
    runner = Runner.for_settings(provider, settings, clock=FakeClock())
    runner.sleep = sleep = RecordingSleep()
    events = [e async for e in runner.run(MESSAGES, GenerationParams())]
    return events, sleep


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
async def test_repeats_the_trimmer_drops_are_not_progress(scripted: ScriptedServer, retries: int) -> None:
    # Every continuation repeats the three words the user has, then drops: nothing new, ever.
    scripted.enqueue(*[broken(words(3)) for _ in range(PLENTY)])
    events, sleep = await answer(scripted, retries)
    assert len(scripted.requests) == retries + 1
    end = events[-1]
    assert isinstance(end, Failed) and end.stats.outcome == "interrupted" and end.text == words(3)
    assert [e.kind for e in events if isinstance(e, Notice)].count("retrying") == retries == len(sleep.waits)


@pytest.mark.parametrize("retries", [1, 2, 3])
async def test_a_stream_that_gains_a_word_per_request_still_ends(scripted: ScriptedServer, retries: int) -> None:
    # Each continuation repeats the answer so far, adds one word, and drops: progress every time.
    scripted.enqueue(*[broken(words(3 + i)) for i in range(PLENTY)])
    events, _ = await answer(scripted, retries)
    budget = RESUMES_PER_ATTEMPT * retries
    assert len(scripted.requests) == budget + 1
    end = events[-1]
    assert isinstance(end, Failed) and end.stats.retries == budget and end.text == words(3 + budget)


async def test_a_healthy_answer_uses_one_request(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream([words(5)]), done=True))
    events, _ = await answer(scripted, 1)
    assert isinstance(events[-1], Done) and len(scripted.requests) == 1


def test_the_answer_has_a_wall_clock_budget() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=3, max_answer_elapsed=300.0, max_elapsed=60.0)
    backoff = Backoff(policy, clock=clock, random=lambda: 0.0)
    for _ in range(3):  # short outages, each ended by new text: fine
        clock.advance(50.0)
        assert backoff.next_delay(ConnectionLost("x")) is not None
        backoff.progress()
    clock.advance(149.8)  # 299.8 s into the answer: the next wait would end past 300 s
    assert backoff.next_delay(ConnectionLost("x")) is None


def test_the_default_answer_budget_grows_with_the_retries() -> None:
    assert RetryPolicy(max_attempts=0).resume_budget == 0
    assert RetryPolicy(max_attempts=1).resume_budget == RESUMES_PER_ATTEMPT
    assert RetryPolicy(max_attempts=3, max_resumes=5).resume_budget == 5
