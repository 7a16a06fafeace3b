"""The runner's confidence (issue 18): the tokens of exactly the text shown, across resume, seams, Continue, Stop."""

from __future__ import annotations

import math

import pytest

from agents.confidence import answer_confidence
from agents.errors import ConnectionLost
from agents.events import Done, Failed, TextDelta
from agents.providers.base import ChatMessage, GenerationParams, Scored, TokenLogprob
from agents.retry import RetryPolicy
from agents.runner import Runner
from agents.tokentrail import TokenTrail, aligned
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import FakeClock, RecordingSleep, ScriptedProvider, answer_events

CHUNKS = ("The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog.")
LOGPROBS = tuple(math.log(p) for p in (0.9, 0.8, 0.3, 0.7, 0.95, 0.6, 0.99, 0.4, 0.85))
MESSAGES = [ChatMessage("user", "Say the sentence.")]
PARAMS = GenerationParams(logprobs=True)


def runner_for(provider: ScriptedProvider) -> Runner:
    return Runner(provider, clock=FakeClock(), retry=RetryPolicy(max_attempts=3), sleep=RecordingSleep())


async def run(provider: ScriptedProvider) -> tuple[Done | Failed, Runner]:
    runner = runner_for(provider)
    events = [e async for e in runner.run(MESSAGES, PARAMS)]
    end = events[-1]
    assert isinstance(end, Done | Failed)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert all((e.tokens is not None) == (provider.logprobs is not None) for e in deltas)
    return end, runner


async def uninterrupted() -> Done | Failed:
    end, _ = await run(ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS))
    return end


async def test_the_confidence_is_that_of_the_tokens_shown() -> None:
    end, runner = await run(ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS))
    assert isinstance(end, Done) and end.text == "".join(CHUNKS)
    tokens = runner.tokens
    assert tokens is not None and "".join(t.text for t in tokens) == end.text
    assert end.stats.confidence == pytest.approx(answer_confidence(tokens))


async def test_a_resumed_exact_answer_has_the_confidence_of_an_uninterrupted_one() -> None:
    reference = await uninterrupted()
    broken = ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS, failures={4: [ConnectionLost("drop")]})
    end, _ = await run(broken)
    assert isinstance(end, Done) and end.stats.retries == 1 and end.text == reference.text
    assert end.stats.confidence == pytest.approx(reference.stats.confidence)


async def test_a_seam_repeat_the_runner_trims_does_not_count() -> None:
    reference = await uninterrupted()
    broken = ScriptedProvider(
        chunks=CHUNKS, logprobs=LOGPROBS, failures={5: [ConnectionLost("drop")]}, exact_continuation=False, repeat=2
    )
    end, runner = await run(broken)
    assert isinstance(end, Done) and end.text == reference.text
    assert len(broken.calls[1].yielded) > len(CHUNKS) - 5, "the continuation repeated chunks"
    tokens = runner.tokens
    assert tokens is not None and "".join(t.text for t in tokens) == end.text
    assert end.stats.confidence == pytest.approx(reference.stats.confidence)


async def test_text_without_logprobs_cannot_be_checked() -> None:
    end, runner = await run(ScriptedProvider(chunks=CHUNKS))
    assert end.stats.confidence is None and runner.tokens is None


async def test_stop_reports_the_confidence_of_what_was_shown() -> None:
    runner = runner_for(ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS))
    seen: list[str] = []
    stream = runner.run(MESSAGES, PARAMS)
    async for event in stream:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 4:
                break
    await stream.aclose()
    assert runner.stats is not None and runner.stats.outcome == "cancelled"
    shown = [TokenLogprob(c, lp) for c, lp in zip(CHUNKS[:4], LOGPROBS[:4], strict=True)]
    assert runner.stats.confidence == pytest.approx(answer_confidence(shown))


async def test_continue_extends_the_same_answers_confidence() -> None:
    reference = await uninterrupted()
    session = ChatSession(Settings(provider="echo", guards="hallucination=flag", retries=1, buffer="token"))
    provider = ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS, failures={4: [ConnectionLost("a")] * 3})
    session._provider, session._provider_key = provider, ("echo", None, 50.0)
    first = (await answer_events(session, "Say the sentence."))[-1]
    assert isinstance(first, Failed) and first.stats.outcome == "interrupted"
    assert first.text == "".join(CHUNKS[:4])
    provider.failures.clear()
    turn = session.continue_last()
    events: list[object] = []

    async def keep(event: object) -> None:
        events.append(event)

    await turn.run(keep)  # type: ignore[arg-type]
    done = events[-1]
    assert isinstance(done, Done) and done.text == reference.text
    assert done.stats.confidence == pytest.approx(reference.stats.confidence)


def test_a_trail_attributes_tokens_to_the_suffix_a_trimmer_releases() -> None:
    trail = TokenTrail()
    trail.hold("brown ", (TokenLogprob("brown ", -1.0),))
    trail.hold("fox ", (TokenLogprob("fox ", -2.0),))
    trail.hold("jumps", (TokenLogprob("jum", -3.0), TokenLogprob("ps", -4.0)))
    got = trail.deliver("ps")  # the rest was a repeat
    assert got == (TokenLogprob("ps", -4.0),)
    trail.hold("x", None)
    assert trail.deliver("x") is None and trail.snapshot() is None


def test_token_texts_that_do_not_spell_the_piece_are_aligned() -> None:
    piece = Scored("é!", (TokenLogprob("\ufffd", -1.0), TokenLogprob("\ufffd!", -2.0)))
    tokens = aligned(piece)
    assert "".join(t.text for t in tokens) == "é!" and [t.logprob for t in tokens] == [-1.0, -2.0]
