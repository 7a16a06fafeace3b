"""Scripted fakes shared by the tests: a provider, a sleep and a clock.  No unittest.mock anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agents.errors import ProviderError
from agents.events import Event
from agents.providers.base import ChatMessage, GenerationParams, Piece, Scored, TokenLogprob, Waiting

if TYPE_CHECKING:
    from chat.session import ChatSession


async def answer_events(session: ChatSession, text: str) -> list[Event]:
    """Every event of the answer to ``text`` in ``session``, in order."""
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    await session.start(text).run(keep)
    return events


@dataclass
class Call:
    """One recorded ``stream`` call."""

    messages: list[ChatMessage]
    params: GenerationParams
    continue_from: str
    #: Set once the stream was closed (however it ended).
    closed: bool = False
    #: The chunks this call yielded.
    yielded: list[str] = field(default_factory=list)


@dataclass
class ScriptedProvider:
    """Yields ``chunks``, failing, hanging or repeating itself where told; records every call.

    - ``failures[n]``: errors raised, one per call, when ``n`` chunks have been delivered;
      ``fail_at``/``fail_with``: raised on every call at chunk ``fail_at``.
    - Continues exactly: after ``continue_from`` (a chunk boundary) it yields the chunks
      that follow that text.  ``repeat`` (for inexact providers) is how many chunks it
      repeats at the start of each continuation, as a remote model does.
    - ``hang_at``: hangs there once, as a stalled connection would.
    - ``gate``: awaited before every chunk, so a test sets the pace.
    - ``yielded``/``closed`` count chunks and closed streams over all calls.
    - ``logprobs``: one log-probability per chunk; chunks then come as ``Scored`` (one token each),
      as from a provider that reports them (the hallucination check).
    """

    chunks: Sequence[str] = ("Hello", ", ", "world", "!")
    failures: dict[int, list[ProviderError]] = field(default_factory=dict)
    fail_at: int | None = None
    fail_with: ProviderError | None = None
    hang_at: int | None = None
    repeat: int = 0
    gate: asyncio.Event | None = None
    name: str = "scripted"
    model: str = "script-1"
    exact_continuation: bool = True
    logprobs: Sequence[float] | None = None
    calls: list[Call] = field(default_factory=list)
    yielded: int = 0
    closed: int = 0

    def __post_init__(self) -> None:
        self.chunks = list(self.chunks)
        self.failures = {k: list(v) for k, v in self.failures.items()}

    def _start(self, continue_from: str) -> int:
        text = ""
        for i, chunk in enumerate(self.chunks):
            if text == continue_from:
                return i
            text += chunk
        if text == continue_from:
            return len(self.chunks)
        raise AssertionError(f"continue_from {continue_from!r} is not a chunk boundary of the script")

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[str | Scored, None]:
        """Yield the script from ``continue_from`` on, failing where told."""
        call = Call(list(messages), params, continue_from)
        self.calls.append(call)
        start = self._start(continue_from)
        try:
            if continue_from and self.repeat:
                for j in range(max(0, start - self.repeat), start):
                    await asyncio.sleep(0)
                    call.yielded.append(self.chunks[j])
                    yield self._piece(j, self.chunks[j])
            for i in range(start, len(self.chunks) + 1):
                if self.failures.get(i):
                    raise self.failures[i].pop(0)
                if self.fail_at == i and self.fail_with is not None:
                    raise self.fail_with
                if self.hang_at == i:
                    self.hang_at = None
                    await asyncio.Event().wait()
                if i == len(self.chunks):
                    return
                if self.gate is not None:
                    await self.gate.wait()
                    self.gate.clear()
                self.yielded += 1
                call.yielded.append(self.chunks[i])
                yield self._piece(i, self.chunks[i])
                await asyncio.sleep(0)
        finally:
            call.closed = True
            self.closed += 1

    def _piece(self, i: int, chunk: str) -> str | Scored:
        if self.logprobs is None:
            return chunk
        return Scored(chunk, (TokenLogprob(chunk, self.logprobs[i]),))


class RecordingSleep:
    """An injected sleep that returns at once and records every wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


class BlockingSleep:
    """An injected sleep that blocks until cancelled, signalling when it starts."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def __call__(self, seconds: float) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class FakeClock:
    """A clock that moves only when told (``advance``) or by ``step`` per reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
