"""The embedded model's confidence (issue 18): from llama.cpp's logits, the same after a resume, text unchanged."""

from __future__ import annotations

import pytest

from agents.confidence import answer_confidence
from agents.events import Done, TextDelta
from agents.faults import FaultInjector, FaultSpec
from agents.providers.base import ChatMessage, GenerationParams, Scored
from agents.providers.local import LocalProvider
from agents.retry import RetryPolicy
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import FakeClock, RecordingSleep, answer_events

pytestmark = pytest.mark.model

QUESTION = "What is the capital of France? Answer in two sentences."
MESSAGES = [ChatMessage("user", QUESTION)]
STORY = [ChatMessage("user", "Tell me a short story about a lighthouse keeper.")]
PARAMS = GenerationParams(temperature=0.0, max_tokens=40, logprobs=True)


def greedy(guards: str = "") -> ChatSession:
    return ChatSession(Settings(provider="local", temperature=0.0, max_tokens=40, guards=guards, buffer="token"))


async def test_the_local_answer_has_a_confidence_and_the_same_text() -> None:
    plain = (await answer_events(greedy(), QUESTION))[-1]
    events = await answer_events(greedy("hallucination=flag"), QUESTION)
    checked = events[-1]
    assert isinstance(plain, Done) and isinstance(checked, Done)
    assert checked.text == plain.text, "the check never changes greedy output"
    assert plain.stats.confidence is None  # off: nothing asked, nothing claimed
    assert checked.stats.confidence is not None and 0.0 < checked.stats.confidence <= 1.0
    assert checked.text == "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_each_piece_is_scored_with_a_log_probability_and_its_top_five() -> None:
    pieces = [p async for p in LocalProvider().stream(MESSAGES, PARAMS)]
    scored = [p for p in pieces if isinstance(p, Scored)]
    assert scored and all(isinstance(p, Scored) for p in pieces if isinstance(p, str))
    for piece in scored:
        assert "".join(t.text for t in piece.tokens) == piece.text
        for token in piece.tokens:
            assert token.logprob <= 0.0 and 1 <= len(token.top) <= 5
            assert list(token.top) == sorted(token.top, reverse=True)
            assert token.top[0] >= token.logprob - 1e-4  # greedy: the chosen token is the best one


async def run(spec: FaultSpec | None) -> tuple[Done, Runner]:
    runner = Runner(
        LocalProvider(), clock=FakeClock(), retry=RetryPolicy(max_attempts=3), stall_timeout=None,
        faults=FaultInjector(spec) if spec else None, sleep=RecordingSleep(),
    )  # fmt: skip
    events = [e async for e in runner.run(STORY, PARAMS)]
    done = events[-1]
    assert isinstance(done, Done)
    return done, runner


@pytest.mark.parametrize("kind", ["disconnect", "server_error"])
async def test_a_resumed_local_answer_has_the_confidence_of_an_uninterrupted_one(kind: str) -> None:
    reference, ref_runner = await run(None)
    assert reference.stats.tokens >= 20
    resumed, runner = await run(FaultSpec(kind, "once", at=reference.stats.tokens // 2))  # type: ignore[arg-type]
    assert resumed.stats.retries >= 1 and resumed.text == reference.text
    assert reference.stats.confidence is not None
    assert resumed.stats.confidence == pytest.approx(reference.stats.confidence, abs=1e-6)
    assert runner.tokens is not None and ref_runner.tokens is not None
    assert [t.text for t in runner.tokens] == [t.text for t in ref_runner.tokens]
    assert answer_confidence(runner.tokens) == resumed.stats.confidence
