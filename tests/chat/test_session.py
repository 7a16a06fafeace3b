"""The session and runner seen from a sink: events, stats, history, cancellation, errors."""

from __future__ import annotations

import asyncio

import pytest

from agents.errors import AuthError, ConnectionLost, EmptyInput, InputTooLong, InvalidSetting, UnknownProvider
from agents.events import Done, Event, Failed, TextDelta
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider, answer_events


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def session_with(provider: ScriptedProvider, **settings: object) -> ChatSession:
    settings.setdefault("buffer", "token")  # these tests see the runner's deltas one for one
    session = ChatSession(Settings(provider="echo", **settings))  # type: ignore[arg-type]
    session._provider = provider  # the fake stands in for the registry's provider
    session._provider_key = ("echo", None, session.settings.echo_rate)
    return session




async def test_deltas_then_done_with_offsets_and_text() -> None:
    events = await answer_events(session_with(ScriptedProvider(), buffer="token"), "hi")
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert [d.text for d in deltas] == ["Hello", ", ", "world", "!"]
    assert [d.offset for d in deltas] == [0, 5, 7, 12]
    assert isinstance(events[-1], Done)
    assert events[-1].text == "Hello, world!"
    assert events[-1].stats.outcome == "complete"
    assert events[-1].stats.tokens == 4


async def test_stats_use_the_injected_clock() -> None:
    clock = Clock()

    class Timed(ScriptedProvider):
        """Moves the clock before each chunk: 250 ms to the first, then 500 ms apart."""

        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[override]
            for step, chunk in zip((0.25, 0.5, 0.5), ("a", "b", "c"), strict=True):
                clock.now += step
                yield chunk

    session = ChatSession(Settings(provider="echo"), clock=clock)
    session._provider, session._provider_key = Timed(), ("echo", None, 50.0)
    turn = session.start("x")

    async def handle(event: Event) -> None:
        return None

    stats = await turn.run(handle)
    assert stats is not None
    assert stats.ttft_ms == pytest.approx(250)
    assert stats.tokens == 3
    assert stats.tokens_per_s == pytest.approx(2.0)  # 2 tokens after the first, in 1 s
    assert stats.total_ms == pytest.approx(1250)


async def test_history_is_multi_turn_and_carries_the_system_prompt() -> None:
    provider = ScriptedProvider(chunks=("ok",))
    session = session_with(provider, system_prompt="Be brief.")
    await answer_events(session, "first")
    await answer_events(session, "second")
    sent = provider.calls[-1].messages
    assert [(m.role, m.content) for m in sent] == [
        ("system", "Be brief."),
        ("user", "first"),
        ("assistant", "ok"),
        ("user", "second"),
    ]


async def test_provider_error_keeps_the_partial_answer_and_the_session_works() -> None:
    provider = ScriptedProvider(fail_at=2, fail_with=AuthError("bad key", provider="scripted"))
    session = session_with(provider)  # a fatal error: never retried
    events = await answer_events(session, "hi")
    last = events[-1]
    assert isinstance(last, Failed)
    assert last.text == "Hello, "
    assert str(last.error) == "bad key"
    assert last.stats.outcome == "error"
    provider.fail_at = None
    events = await answer_events(session, "again")
    assert isinstance(events[-1], Done)


async def test_untyped_provider_bug_becomes_one_line_error() -> None:
    class Broken(ScriptedProvider):
        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[override]
            yield "part"
            raise ZeroDivisionError("oops")

    events = await answer_events(session_with(Broken()), "hi")
    last = events[-1]
    assert isinstance(last, Failed)
    assert last.text == "part"
    assert "ZeroDivisionError" in str(last.error) and "\n" not in str(last.error)


async def test_cancelling_the_sink_closes_the_provider_and_keeps_partial_text() -> None:
    provider = ScriptedProvider(chunks=tuple("abcdefgh"))
    session = session_with(provider)
    turn = session.start("hi")
    seen: list[str] = []
    three = asyncio.Event()
    hold = asyncio.Event()  # never set: the sink is busy with the third delta when Stop comes

    async def handle(event: Event) -> None:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 3:
                three.set()
                await hold.wait()

    task = asyncio.create_task(turn.run(handle))
    await three.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.closed == 1
    assert provider.yielded <= 4  # the runner may have read one piece ahead, never more
    assert turn.text == "abc" == "".join(seen)
    assert turn.stats is not None and turn.stats.outcome == "cancelled"
    # the partial answer is part of the conversation
    assert [m.content for m in session.history] == ["hi", "abc"]


async def test_retryable_errors_are_typed_with_partial_text_when_resuming_is_off() -> None:
    err = ConnectionLost("dropped", provider="scripted", partial="He")
    events = await answer_events(session_with(ScriptedProvider(fail_at=1, fail_with=err), retries=0), "hi")
    assert isinstance(events[-1], Failed) and isinstance(events[-1].error, ConnectionLost)
    assert events[-1].text == "Hello"


def test_input_errors_are_raised_before_anything_streams() -> None:
    session = ChatSession(Settings(provider="echo", max_input_chars=100))
    with pytest.raises(EmptyInput):
        session.start(" \n\t\x00 ")
    with pytest.raises(InputTooLong) as info:
        session.start("x" * 200_000)
    assert "200,000" in str(info.value) and "\n" not in str(info.value)
    assert session.history == []


def test_invalid_update_keeps_the_old_settings() -> None:
    session = ChatSession(Settings(provider="echo"))
    with pytest.raises(InvalidSetting):
        session.update(temperature=9)
    with pytest.raises(UnknownProvider):
        session.update(provider="nope")
    assert session.settings == Settings(provider="echo")
    session.update(temperature=0.0)
    assert session.settings.temperature == 0.0


@pytest.mark.parametrize("guards", [(), ("pii=redact",), ("profanity=block",)])
async def test_continue_keeps_the_partial_answer_through_every_stage(guards: tuple[str, ...]) -> None:
    """Continue after giving up: guardrails and buffering start from the text already shown."""
    text = "one two three four five six seven eight nine ten"
    session = ChatSession(Settings(provider="echo", echo_rate=0, fault="server_error@6x9", retries=1, guards=guards))
    first = await answer_events(session, text)
    assert isinstance(first[-1], Failed) and first[-1].stats.outcome == "interrupted"
    partial = first[-1].text
    assert partial and text.startswith(partial) and partial != text
    session.update(fault="off")  # simulation switched off: the spent fault must not follow the answer
    events: list[Event] = []

    async def handle(event: Event) -> None:
        events.append(event)

    await session.continue_last().run(handle)
    assert isinstance(events[-1], Done) and events[-1].text == text
    assert [m.content for m in session.history] == [text, text]
