"""Scripted fakes for the runner's tests (no tests here): a provider, a sleep and a clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from agents.errors import ProviderError
from agents.providers.base import ChatMessage, GenerationParams


@dataclass
class Call:
    """One ``stream`` call the fake received."""

    continue_from: str
    closed: bool = False
    yielded: list[str] = field(default_factory=list)


class ScriptedProvider:
    """Yields ``chunks``; ``failures[n]`` errors are raised, one per call, when ``n`` chunks are delivered.

    Continues exactly: after ``continue_from`` it yields the chunks that follow that
    text.  ``hang_at`` makes it hang (as a stalled connection would) at that position,
    once.  ``repeat`` (for inexact providers) is text it repeats at the start of each
    continuation, as a remote model does.
    """

    def __init__(
        self,
        chunks: Sequence[str],
        *,
        failures: dict[int, list[ProviderError]] | None = None,
        hang_at: int | None = None,
        name: str = "scripted",
        exact: bool = True,
        repeat: int = 0,
    ) -> None:
        self.chunks = list(chunks)
        self.failures = {k: list(v) for k, v in (failures or {}).items()}
        self.hang_at = hang_at
        self.name = name
        self.exact_continuation = exact
        self.repeat = repeat
        self.calls: list[Call] = []

    @property
    def model(self) -> str:
        return "scripted-1"

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
    ) -> AsyncGenerator[str, None]:
        call = Call(continue_from)
        self.calls.append(call)
        start = self._start(continue_from)
        try:
            if continue_from and self.repeat:
                # An inexact provider repeating the last ``repeat`` chunks at the seam.
                for chunk in self.chunks[max(0, start - self.repeat) : start]:
                    await asyncio.sleep(0)
                    call.yielded.append(chunk)
                    yield chunk
            for i in range(start, len(self.chunks) + 1):
                if self.failures.get(i):
                    raise self.failures[i].pop(0)
                if self.hang_at == i:
                    self.hang_at = None
                    await asyncio.Event().wait()
                if i == len(self.chunks):
                    return
                await asyncio.sleep(0)
                call.yielded.append(self.chunks[i])
                yield self.chunks[i]
        finally:
            call.closed = True


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
