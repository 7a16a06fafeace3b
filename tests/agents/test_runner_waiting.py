"""The stall timer counts only a provider that has started: queueing and prompt reading are not stalls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from agents.events import Done, Event, Notice, TextDelta
from agents.providers.base import ChatMessage, GenerationParams, Piece, Waiting
from agents.runner import Runner

MESSAGES = [ChatMessage("user", "hi")]
STALL = 0.05


@dataclass
class QueuedProvider:
    """Says it waits (``places``, counting down), stays silent until ``start`` is set, then streams ``chunks``.

    ``hang_after`` makes it go silent for good after that many chunks, once (a real stall).
    """

    start: asyncio.Event
    places: Sequence[int] = (2, 1, 0)
    chunks: Sequence[str] = ("Seven", ".")
    hang_after: int | None = None
    name: str = "queued"
    model: str = "queue-1"
    exact_continuation: bool = True
    calls: list[str] = field(default_factory=list)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[Piece, None]:
        self.calls.append(continue_from)
        if len(self.calls) == 1:
            for place in self.places:
                yield Waiting(place)
            await self.start.wait()
        done = self.chunks.index(continue_from) + 1 if continue_from else 0
        for index, chunk in enumerate(self.chunks[done:], start=done):
            if self.hang_after is not None and index == self.hang_after and len(self.calls) == 1:
                await asyncio.Event().wait()
            yield chunk


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
