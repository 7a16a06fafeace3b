"""Live answers: an event log numbered from 1, followers that attach at an offset, grace, retention, cancel."""

from __future__ import annotations

import asyncio

from agents.events import Done, Event, TextDelta
from chat.live import LiveAnswer, LiveAnswers
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider

CHUNKS = [f"w{i} " for i in range(12)]


class Gate(asyncio.Event):
    """The provider waits on it before each chunk and clears it; once ``open`` it stays set."""

    free = False

    def clear(self) -> None:
        if not self.free:
            super().clear()

    def open(self) -> None:
        self.free = True
        self.set()


def gated_turn(gate: asyncio.Event, chunks: list[str] = CHUNKS) -> tuple[ChatSession, ScriptedProvider]:
    """A session whose provider yields one chunk each time the test sets ``gate``."""
    provider = ScriptedProvider(chunks=chunks, gate=gate)
    session = ChatSession(Settings(provider="echo", buffer="token"))
    session._provider = provider  # the fake stands in for the registry's provider
    session._provider_key = ("echo", None, session.settings.echo_rate)
    return session, provider


def text_of(events: list[tuple[int, Event]]) -> str:
    return "".join(e.text for _, e in events if isinstance(e, TextDelta))


async def take(answer: LiveAnswer, after: int, count: int, gate: asyncio.Event) -> list[tuple[int, Event]]:
    """Follow from ``after`` until ``count`` events arrived (releasing the gate chunk by chunk), then detach."""
    got: list[tuple[int, Event]] = []
    events = answer.follow(after)
    try:
        while len(got) < count:
            if gate is not None:
                gate.set()
            item = await anext(events)
            if gate is not None:
                gate.clear()
            got.append(item)
    finally:
        await events.aclose()
    return got


async def drain(answer: LiveAnswer, after: int, provider: ScriptedProvider | None = None) -> list[tuple[int, Event]]:
    if provider is not None and isinstance(provider.gate, Gate):
        provider.gate.open()  # let the rest flow freely
    return [item async for item in answer.follow(after)]


async def test_a_follower_that_reattaches_after_n_gets_the_rest_once_and_in_order() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    live = LiveAnswers(grace=30, retention=60)
    answer = live.start(session.start("hi"))
    first = await take(answer, 0, 4, gate)
    assert [n for n, _ in first] == [1, 2, 3, 4]
    assert not answer.finished  # the client left, the answer goes on (grace 30 s)
    rest = await drain(answer, first[-1][0], provider)
    numbers = [n for n, _ in first + rest]
    assert numbers == list(range(1, len(numbers) + 1))  # no gap, no duplicate
    assert text_of(first + rest) == "".join(CHUNKS)
    final = rest[-1][1]
    assert isinstance(final, Done) and final.stats.outcome == "complete" and final.text == "".join(CHUNKS)
    # An uninterrupted follower from 0 sees exactly the same log.
    assert [e for _, e in await drain(answer, 0)] == [e for _, e in first + rest]
    assert live.get(answer.id) is answer


async def test_two_followers_see_the_same_events_live() -> None:
    session, _ = gated_turn(asyncio.Event(), ["a", "b", "c"])
    session._provider = ScriptedProvider(chunks=["a", "b", "c"])
    answer = LiveAnswers(grace=30, retention=60).start(session.start("hi"))
    one, two = await asyncio.gather(drain(answer, 0), drain(answer, 0))
    assert one == two and text_of(one) == "abc"


async def test_nobody_following_past_the_grace_period_cancels_within_one_token() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    answer = LiveAnswers(grace=0.05, retention=60).start(session.start("hi"))
    await take(answer, 0, 2, gate)
    await asyncio.wait_for(answer.wait(), 5)  # the grace timer fired: nobody came back
    final = answer.log[-1]
    assert isinstance(final, Done) and final.stats.outcome == "cancelled"
    assert provider.closed == 1 and provider.yielded <= 3  # the provider stopped, it did not run to the end
    assert final.text == "".join(CHUNKS[: provider.yielded])[: len(final.text)]


async def test_reattaching_within_the_grace_period_keeps_the_answer_alive() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    answer = LiveAnswers(grace=0.2, retention=60).start(session.start("hi"))
    first = await take(answer, 0, 2, gate)
    events = answer.follow(first[-1][0])  # back before the timer fires
    gate.set()
    second = [await anext(events)]
    await asyncio.sleep(0.3)  # well past the grace period, while attached
    assert not answer.finished
    gate.open()
    second += [item async for item in events]
    assert isinstance(second[-1][1], Done) and second[-1][1].stats.outcome == "complete"
    assert text_of(first + second) == "".join(CHUNKS)


async def test_cancel_by_id_ends_every_follower_with_a_cancelled_done() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    live = LiveAnswers(grace=30, retention=60)
    answer = live.start(session.start("hi"))
    await take(answer, 0, 1, gate)
    watcher = asyncio.create_task(drain(answer, 0))
    await asyncio.sleep(0)
    found = live.get(answer.id)
    assert found is not None and found.cancel()
    events = await asyncio.wait_for(watcher, 5)
    assert isinstance(events[-1][1], Done) and events[-1][1].stats.outcome == "cancelled"
    assert events[-1][1].text == "w0 " and provider.closed == 1
    assert not answer.cancel()  # already ended


async def test_a_finished_answer_is_forgotten_after_the_retention_time() -> None:
    session, _ = gated_turn(asyncio.Event())
    session._provider = ScriptedProvider(chunks=["x"])
    live = LiveAnswers(grace=30, retention=0.05)
    answer = live.start(session.start("hi"))
    await drain(answer, 0)
    assert live.get(answer.id) is answer  # still readable right after the end
    await asyncio.sleep(0.2)
    assert live.get(answer.id) is None
    assert live.running() == []


async def test_grace_and_retention_come_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STREAM_GRACE_SECONDS", "7")
    monkeypatch.setenv("STREAM_RETENTION_SECONDS", "bad")
    live = LiveAnswers()
    assert live.grace == 7 and live.retention == 300


async def test_text_at_any_event_is_what_a_follower_had_been_shown() -> None:
    session, _ = gated_turn(Gate())
    session._provider = ScriptedProvider(chunks=["ab", "cd", "ef"])
    answer = LiveAnswers(grace=30, retention=60).start(session.start("hi"))
    events = await drain(answer, 0)
    assert [answer.text_at(n) for n in range(len(events) + 1)][:4] == ["", "ab", "abcd", "abcdef"]
    assert answer.text_at(len(events)) == "abcdef"
