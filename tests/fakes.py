"""Scripted fakes shared by the tests: no unittest.mock anywhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

from agents.errors import ProviderError
from agents.providers.base import ChatMessage, GenerationParams


@dataclass
class Call:
    """One recorded ``stream`` call."""

    messages: list[ChatMessage]
    params: GenerationParams
    continue_from: str


@dataclass
class ScriptedProvider:
    """Yields the given chunks; optionally raises ``fail_with`` before chunk ``fail_at``.

    ``gate`` (if set) is awaited before every chunk, so a test controls the pace.
    Every call is recorded in ``calls``; ``closed`` counts streams that were closed.
    """

    chunks: Sequence[str] = ("Hello", ", ", "world", "!")
    fail_at: int | None = None
    fail_with: ProviderError | None = None
    gate: asyncio.Event | None = None
    name: str = "scripted"
    model: str = "script-1"
    calls: list[Call] = field(default_factory=list)
    yielded: int = 0
    closed: int = 0

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[str, None]:
        """Yield the script, failing where told."""
        self.calls.append(Call(list(messages), params, continue_from))
        try:
            for index, chunk in enumerate(self.chunks):
                if self.fail_at is not None and index == self.fail_at and self.fail_with is not None:
                    raise self.fail_with
                if self.gate is not None:
                    await self.gate.wait()
                    self.gate.clear()
                self.yielded += 1
                yield chunk
                await asyncio.sleep(0)
        finally:
            self.closed += 1
