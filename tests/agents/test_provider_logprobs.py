"""Providers' token log-probabilities (issue 18): OpenAI-compatible and Gemini servers on loopback, scripted."""

from __future__ import annotations

import math
from typing import Any

import pytest

from agents.confidence import answer_confidence
from agents.events import Done, Event, Notice, NoticeKind, TextDelta
from agents.providers.base import ChatMessage, GenerationParams, Scored, TokenLogprob
from agents.providers.gemini_provider import GeminiProvider
from agents.providers.openai_provider import OpenAIProvider
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from guardrails.hallucination import UNCHECKED
from tests.fakes import answer_events
from tests.servers.payloads import gemini_chunk, openai_error, openai_scored_stream, openai_stream
from tests.servers.scripted import Reply, ScriptedServer

MESSAGES = [ChatMessage("user", "What is the capital of France?")]
PIECES = [("Paris", math.log(0.9)), (" is", math.log(0.8)), (" the", math.log(0.95)), (" capital.", math.log(0.4))]
TEXT = "".join(t for t, _ in PIECES)
TOKENS = [TokenLogprob(t, lp) for t, lp in PIECES]


def openai_for(server: ScriptedServer) -> OpenAIProvider:
    return OpenAIProvider("test-model", api_key="sk-test", base_url=f"{server.url}/v1")


def gemini_for(server: ScriptedServer) -> GeminiProvider:
    return GeminiProvider("gemini-test", api_key="test-key", base_url=server.url)


def session_on(provider: Any, guards: str = "hallucination=flag") -> ChatSession:
    session = ChatSession(Settings(provider="echo", guards=guards, buffer="token"))
    session._provider, session._provider_key = provider, ("echo", None, 50.0)
    return session


def guard_notices(events: list[Event]) -> list[Notice]:
    return [e for e in events if isinstance(e, Notice) and e.kind == NoticeKind.GUARDRAIL]


async def test_openai_asks_for_logprobs_only_when_the_check_wants_them(scripted: ScriptedServer) -> None:
    provider = openai_for(scripted)
    assert "logprobs" not in provider.request(MESSAGES, GenerationParams())
    body = provider.request(MESSAGES, GenerationParams(logprobs=True))
    assert body["logprobs"] is True and body["top_logprobs"] == 5


async def test_openai_compatible_logprobs_give_the_answer_a_confidence(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_scored_stream(PIECES), done=True))
    session = session_on(openai_for(scripted))
    events = await answer_events(session, "What is the capital of France?")
    done = events[-1]
    assert isinstance(done, Done) and done.text == TEXT
    assert scripted.requests[-1].body["logprobs"] is True
    assert done.stats.confidence == pytest.approx(answer_confidence(TOKENS))
    assert not any(UNCHECKED in n.message for n in guard_notices(events))


async def test_openai_pieces_carry_their_tokens_and_top_alternatives(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_scored_stream(PIECES), done=True))
    pieces = [p async for p in openai_for(scripted).stream(MESSAGES, GenerationParams(logprobs=True))]
    scored = [p for p in pieces if isinstance(p, Scored)]
    assert [p.text for p in scored] == [t for t, _ in PIECES]
    first = scored[0].tokens[0]
    assert first.logprob == pytest.approx(math.log(0.9)) and len(first.top) == 3
    assert list(first.top) == sorted(first.top, reverse=True)


async def test_a_server_that_refuses_logprobs_still_answers_and_cannot_be_checked(scripted: ScriptedServer) -> None:
    scripted.enqueue(
        Reply.error(400, openai_error("logprobs is not supported by this server")),
        Reply.sse(openai_stream(["Paris", " it is."]), done=True),
        Reply.sse(openai_stream(["Still", " Paris."]), done=True),
    )
    provider = openai_for(scripted)
    session = session_on(provider)
    events = await answer_events(session, "What is the capital of France?")
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Paris it is."
    first, retried = scripted.requests[-2:]
    assert first.body["logprobs"] is True and "logprobs" not in retried.body
    assert done.stats.confidence is None
    assert any(UNCHECKED in n.message for n in guard_notices(events))
    await answer_events(session, "Again?")
    assert "logprobs" not in scripted.requests[-1].body, "a server that refused is not asked again"


async def test_a_server_that_ignores_logprobs_cannot_be_checked(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Paris", "."]), done=True))
    events = await answer_events(session_on(openai_for(scripted)), "Capital?")
    assert events[-1].stats.confidence is None  # type: ignore[union-attr]
    assert any(UNCHECKED in n.message for n in guard_notices(events))


def gemini_scored(text: str, logprob: float) -> dict[str, Any]:
    chunk = gemini_chunk(text)
    best = [{"token": text, "logProbability": logprob}, {"token": "x", "logProbability": logprob - 1}]
    chunk["candidates"][0]["logprobsResult"] = {
        "chosenCandidates": [{"token": text, "logProbability": logprob}],
        "topCandidates": [{"candidates": best}],
    }
    return chunk


async def test_gemini_logprobs_give_the_answer_a_confidence(scripted: ScriptedServer) -> None:
    chunks = [gemini_scored(t, lp) for t, lp in PIECES] + [gemini_chunk(finish_reason="STOP")]
    scripted.enqueue(Reply.sse(chunks))
    runner = Runner(gemini_for(scripted))
    events = [e async for e in runner.run(MESSAGES, GenerationParams(logprobs=True))]
    done = events[-1]
    assert isinstance(done, Done) and done.text == TEXT
    config = scripted.requests[-1].body["generationConfig"]
    assert config["responseLogprobs"] is True and config["logprobs"] == 5
    assert done.stats.confidence == pytest.approx(answer_confidence(TOKENS))
    assert all(isinstance(e, TextDelta) and e.tokens for e in events if isinstance(e, TextDelta))


async def test_a_gemini_model_without_logprobs_is_asked_again_without(scripted: ScriptedServer) -> None:
    from tests.servers.payloads import gemini_error, gemini_stream

    scripted.enqueue(
        Reply.error(400, gemini_error(400, "INVALID_ARGUMENT", "Logprobs is not supported for the current model.")),
        Reply.sse(gemini_stream(["Paris", "."])),
    )
    runner = Runner(gemini_for(scripted))
    events = [e async for e in runner.run(MESSAGES, GenerationParams(logprobs=True))]
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Paris." and done.stats.confidence is None
    assert "responseLogprobs" not in scripted.requests[-1].body.get("generationConfig", {})
