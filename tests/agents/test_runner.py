"""The runner: typed events, stats, and resuming a broken stream in the same answer."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest

from agents.errors import AuthError, ConnectionLost, RateLimited, ServerError
from agents.events import Done, Event, Failed, Notice, TextDelta
from agents.providers.base import ChatMessage, GenerationParams
from agents.retry import RetryPolicy
from agents.runner import Runner
from tests.fakes import BlockingSleep, FakeClock, RecordingSleep, ScriptedProvider

CHUNKS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog."]
FULL = "".join(CHUNKS)
MESSAGES = [ChatMessage("user", "go")]
PARAMS = GenerationParams()


def lost(n: int = 1) -> list[ConnectionLost]:
    return [ConnectionLost("socket closed") for _ in range(n)]


def runner(provider: ScriptedProvider, **kw: object) -> tuple[Runner, RecordingSleep]:
    sleep = RecordingSleep()
    options: dict[str, object] = {"clock": FakeClock(), "sleep": sleep, "random": lambda: 0.0}
    options.update(kw)
    return Runner(provider, **options), sleep  # type: ignore[arg-type]


async def collect(r: Runner, continue_from: str = "") -> list[Event]:
    return [e async for e in r.run(MESSAGES, PARAMS, continue_from=continue_from)]


def shown(events: list[Event], start: str = "") -> str:
    """What a sink that only appends deltas would show."""
    text = start
    for event in events:
        if isinstance(event, TextDelta):
            assert event.offset == len(text), "a delta's offset is the length shown before it"
            text += event.text
    return text


def notices(events: list[Event], kind: str | None = None) -> list[Notice]:
    return [e for e in events if isinstance(e, Notice) and (kind is None or e.kind == kind)]


def terminal(events: list[Event]) -> Done | Failed:
    ends = [e for e in events if isinstance(e, Done | Failed)]
    assert len(ends) == 1 and ends[0] is events[-1], "exactly one Done/Failed, and it comes last"
    return ends[0]


async def test_complete_run_streams_every_piece_and_ends_with_done() -> None:
    r, sleep = runner(ScriptedProvider(CHUNKS))
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Done) and end.text == FULL == shown(events) == r.text
    assert r.stats is not None and r.stats.outcome == "complete" and r.stats.tokens == len(CHUNKS)
    assert r.stats.retries == 0 and r.stats.resumes == () and sleep.waits == []


async def test_disconnect_mid_stream_resumes_in_the_same_answer() -> None:
    provider = ScriptedProvider(CHUNKS, failures={4: lost()})
    r, sleep = runner(provider)
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Done) and end.text == FULL == shown(events)
    assert [c.continue_from for c in provider.calls] == ["", "".join(CHUNKS[:4])]
    assert all(c.closed for c in provider.calls)
    assert end.stats.outcome == "complete" and end.stats.retries == 1 and end.stats.resumes == (4,)
    retrying = notices(events, "retrying")
    assert [n.message for n in retrying] == ["connection lost after 4 tokens: resuming (attempt 1/3, in 0.5 s)"]
    assert retrying[0].data["attempt"] == 1 and retrying[0].data["max_attempts"] == 3
    resumed = notices(events, "resumed")
    assert len(resumed) == 1 and resumed[0].data["tokens"] == 4
    # The notices come in order: retrying before the wait, resumed just before the next text.
    kinds = [type(e).__name__ if not isinstance(e, Notice) else e.kind for e in events]
    assert kinds.index("retrying") < kinds.index("resumed") == kinds.index("TextDelta", kinds.index("retrying")) - 1
    assert sleep.waits == [0.5]


async def test_backoff_grows_then_gives_up_keeping_the_partial_answer() -> None:
    provider = ScriptedProvider(CHUNKS, failures={3: lost(4)})
    r, sleep = runner(provider)
    events = await collect(r)
    end = terminal(events)
    partial = "".join(CHUNKS[:3])
    assert isinstance(end, Failed) and isinstance(end.error, ConnectionLost)
    assert end.text == partial == shown(events) == r.text
    assert end.stats.outcome == "interrupted" and end.stats.retries == 3 and end.stats.resumes == (3, 3, 3)
    assert sleep.waits == [0.5, 1.0, 2.0]
    assert [n.data["attempt"] for n in notices(events, "retrying")] == [1, 2, 3]
    assert len(notices(events, "gave_up")) == 1 and notices(events, "resumed") == []
    assert len(provider.calls) == 4 and all(c.continue_from == partial for c in provider.calls[1:])


async def test_jitter_shrinks_the_wait_by_up_to_its_fraction() -> None:
    r, sleep = runner(ScriptedProvider(CHUNKS, failures={2: lost(2)}), random=lambda: 1.0)
    await collect(r)
    assert sleep.waits == [0.25, 0.5]  # jitter 0.5, random 1.0: half of 0.5 s and of 1 s


async def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    limited = [RateLimited("429", retry_after=7.0), RateLimited("429", retry_after=None)]
    r, sleep = runner(ScriptedProvider(CHUNKS, failures={0: limited}))
    events = await collect(r)
    assert isinstance(terminal(events), Done)
    assert sleep.waits == [7.0, 1.0]
    assert notices(events, "retrying")[0].message.startswith("rate limited (429) after 0 tokens: resuming")


async def test_server_error_is_named_with_its_status() -> None:
    r, _ = runner(ScriptedProvider(CHUNKS, failures={1: [ServerError("boom", status=503)]}))
    events = await collect(r)
    assert notices(events, "retrying")[0].message.startswith("server error (503) after 1 token: resuming")
    assert shown(events) == FULL


async def test_total_time_bound_gives_up_before_the_attempts_run_out() -> None:
    clock = FakeClock(step=4.0)  # every reading is 4 s later
    policy = RetryPolicy(max_attempts=10, max_elapsed=10.0)
    r, sleep = runner(ScriptedProvider(CHUNKS, failures={2: lost(10)}), clock=clock, retry=policy)
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Failed) and end.stats.outcome == "interrupted"
    assert 0 < len(sleep.waits) < 10


async def test_attempts_reset_once_the_stream_makes_progress() -> None:
    failures = {i: lost() for i in (1, 3, 5, 7)}  # four outages, each after progress
    r, sleep = runner(ScriptedProvider(CHUNKS, failures=failures), retry=RetryPolicy(max_attempts=1))
    events = await collect(r)
    assert isinstance(terminal(events), Done) and shown(events) == FULL
    assert r.stats is not None and r.stats.retries == 4 and r.stats.resumes == (1, 3, 5, 7)
    assert sleep.waits == [0.5] * 4


async def test_zero_attempts_fails_at_once() -> None:
    r, sleep = runner(ScriptedProvider(CHUNKS, failures={2: lost()}), retry=RetryPolicy(max_attempts=0))
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Failed) and end.stats.outcome == "interrupted" and end.text == "".join(CHUNKS[:2])
    assert sleep.waits == []


async def test_fatal_errors_are_not_retried() -> None:
    provider = ScriptedProvider(CHUNKS, failures={2: [AuthError("bad key")]})
    r, sleep = runner(provider)
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Failed) and isinstance(end.error, AuthError)
    assert end.stats.outcome == "error" and end.text == "".join(CHUNKS[:2])
    assert sleep.waits == [] and len(provider.calls) == 1


async def test_an_untyped_provider_bug_becomes_one_typed_failure() -> None:
    class Broken(ScriptedProvider):
        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[no-untyped-def, override]
            yield "a"
            raise KeyError("oops")

    r, _ = runner(Broken(CHUNKS))
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Failed) and "KeyError" in str(end.error) and end.text == "a"


async def test_a_stalled_stream_counts_as_a_dropped_connection() -> None:
    provider = ScriptedProvider(CHUNKS, hang_at=5)
    r, _ = runner(provider, stall_timeout=0.05)
    events = await collect(r)
    assert isinstance(terminal(events), Done) and shown(events) == FULL
    retrying = notices(events, "retrying")
    assert len(retrying) == 1 and retrying[0].data["error"] == "stall"
    assert retrying[0].message.startswith("stalled (no token for 0.05 s) after 5 tokens: resuming")
    # The hung read was cancelled and the generator unwound its own finally.
    assert provider.calls[0].closed and provider.calls[0].yielded == CHUNKS[:5]


async def test_continue_from_carries_on_after_a_partial_answer() -> None:
    partial = "".join(CHUNKS[:6])
    provider = ScriptedProvider(CHUNKS)
    r, _ = runner(provider)
    events = await collect(r, continue_from=partial)
    end = terminal(events)
    assert isinstance(end, Done) and end.text == FULL == shown(events, partial)
    assert provider.calls[0].continue_from == partial and end.stats.tokens == len(CHUNKS) - 6


async def test_failover_sends_the_continuation_to_the_next_provider() -> None:
    primary = ScriptedProvider(CHUNKS, failures={4: lost()}, name="primary")
    backup = ScriptedProvider(CHUNKS, name="backup")
    r, _ = runner(primary, failover=[backup])
    events = await collect(r)
    assert isinstance(terminal(events), Done) and shown(events) == FULL
    assert [c.continue_from for c in backup.calls] == ["".join(CHUNKS[:4])]
    assert len(primary.calls) == 1
    assert "continuing on backup (attempt 1/3" in notices(events, "retrying")[0].message


async def test_inexact_provider_has_the_repeat_at_the_seam_removed() -> None:
    provider = ScriptedProvider(CHUNKS, failures={5: lost()}, exact_continuation=False, repeat=2)
    r, _ = runner(provider)
    events = await collect(r)
    assert provider.calls[1].yielded[:2] == [" fox", " jumps"]  # the model repeated itself ...
    assert shown(events) == FULL  # ... and the user does not see it
    assert notices(events, "resumed")[0].data["seam_removed"] == len(" fox jumps")


async def test_exact_provider_text_is_never_trimmed() -> None:
    chunks = ["ha", " ha ha", " ha ha", " ha ha"]
    r, _ = runner(ScriptedProvider(chunks, failures={2: lost()}))
    events = await collect(r)
    assert shown(events) == "".join(chunks)


async def test_closing_early_cancels_and_closes_the_provider_stream() -> None:
    provider = ScriptedProvider(CHUNKS)
    r, _ = runner(provider)
    async with aclosing(r.run(MESSAGES, PARAMS)) as events:
        async for event in events:
            if isinstance(event, TextDelta) and r.text.count(" ") == 2:
                break
    assert r.stats is not None and r.stats.outcome == "cancelled" and r.stats.tokens == 3
    assert provider.calls[0].closed and provider.calls[0].yielded == CHUNKS[:3]


async def test_stop_during_the_backoff_wait_stops_cleanly() -> None:
    provider = ScriptedProvider(CHUNKS, failures={3: lost()})
    sleep = BlockingSleep()
    r = Runner(provider, clock=FakeClock(), sleep=sleep)
    seen: list[Event] = []

    async def consume() -> None:
        async with aclosing(r.run(MESSAGES, PARAMS)) as events:
            async for event in events:
                seen.append(event)

    task = asyncio.create_task(consume())
    await sleep.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sleep.cancelled
    assert r.stats is not None and r.stats.outcome == "cancelled" and r.stats.retries == 1
    assert r.text == "".join(CHUNKS[:3]) == shown(seen)
    assert len(provider.calls) == 1 and provider.calls[0].closed  # nothing was requested after Stop
    assert not any(isinstance(e, Done | Failed) for e in seen)


async def test_stop_while_a_read_is_in_flight_closes_the_provider() -> None:
    provider = ScriptedProvider(CHUNKS, hang_at=2)
    r = Runner(provider, clock=FakeClock(), stall_timeout=None)
    seen: list[Event] = []

    async def consume() -> None:
        async with aclosing(r.run(MESSAGES, PARAMS)) as events:
            async for event in events:
                seen.append(event)

    task = asyncio.create_task(consume())
    while len(provider.calls) == 0 or len(provider.calls[0].yielded) < 2:
        await asyncio.sleep(0)
    for _ in range(5):  # let the runner start its read of the hung third piece
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.calls[0].closed
    assert r.stats is not None and r.stats.outcome == "cancelled" and r.text == "".join(CHUNKS[:2])


async def test_an_answer_that_breaks_after_every_token_still_ends() -> None:
    failures = {i: lost() for i in range(1, len(CHUNKS))}
    policy = RetryPolicy(max_attempts=1, max_resumes=4)
    r, sleep = runner(ScriptedProvider(CHUNKS, failures=failures), retry=policy)
    events = await collect(r)
    end = terminal(events)
    assert isinstance(end, Failed) and end.stats.outcome == "interrupted"
    assert end.stats.resumes == (1, 2, 3, 4) and end.text == "".join(CHUNKS[:5]) and len(sleep.waits) == 4


def test_policy_settings_are_validated() -> None:
    from agents.errors import InvalidSetting

    for bad in ({"max_attempts": -1}, {"jitter": 2.0}, {"multiplier": 0.5}, {"base_delay": float("nan")},
                {"max_attempts": 5, "max_resumes": 2}):
        with pytest.raises(InvalidSetting):
            RetryPolicy(**bad)  # type: ignore[arg-type]
