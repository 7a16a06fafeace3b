"""The stall timer counts only a provider that has started: queueing and prompt reading are not stalls."""

from __future__ import annotations

import asyncio

from agents.events import Done, Event, Notice, TextDelta
from agents.providers.base import ChatMessage, GenerationParams
from agents.runner import Runner
from tests.fakes import QueuedProvider

MESSAGES = [ChatMessage("user", "hi")]
STALL = 0.05


async def run(provider: QueuedProvider) -> list[Event]:
    runner = Runner(provider, stall_timeout=STALL, sleep=_no_wait)
    return [event async for event in runner.run(MESSAGES, GenerationParams())]


async def _no_wait(delay: float) -> None:
    return None


async def test_waiting_longer_than_the_stall_timeout_is_not_a_stall() -> None:
    start = asyncio.Event()
    asyncio.get_running_loop().call_later(STALL * 6, start.set)  # silent for six stall timeouts
    events = await run(provider := QueuedProvider(start))
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Seven." and done.stats.retries == 0
    assert provider.calls == [""], "no retry re-sent the prompt"
    notices = [(e.kind, e.message) for e in events if isinstance(e, Notice)]
    assert notices == [
        ("waiting", "waiting for the model (2 ahead)"),
        ("waiting", "waiting for the model (1 ahead)"),
        ("waiting", "waiting for the model (next in line)"),  # none before it: it takes the next free slot
    ]
    assert isinstance(events[3], TextDelta), "the place in the queue is shown before the first token"


async def test_silence_after_the_first_token_is_still_a_stall() -> None:
    start = asyncio.Event()
    start.set()
    events = await run(provider := QueuedProvider(start, hang_after=1))
    retrying = [e for e in events if isinstance(e, Notice) and e.kind == "retrying"]
    assert len(retrying) == 1 and retrying[0].data["error"] == "stall"
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Seven." and provider.calls == ["", "Seven"]
