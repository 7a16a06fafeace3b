"""The runner: the one place that turns a provider's stream into typed events.

Every sink (Chainlit, the CLI, SSE) consumes ``Runner.run``'s events.  A run
ends with exactly one ``Done`` or ``Failed``; if the consumer stops iterating
(Stop, Ctrl-C, a client disconnect) the provider's stream is closed at once and
``runner.stats`` holds the figures with outcome ``cancelled``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from agents.errors import ChatError, ProviderError
from agents.events import Done, Event, Failed, Stats, TextDelta
from agents.providers.base import ChatMessage, GenerationParams, Provider
from agents.stats import Clock, StatsRecorder

log = logging.getLogger(__name__)


class Runner:
    """Streams one answer from ``provider`` as events, recording its stats."""

    def __init__(self, provider: Provider, *, clock: Clock = time.perf_counter) -> None:
        self.provider = provider
        self._clock = clock
        #: The last run's figures; set when the run ends, however it ends.
        self.stats: Stats | None = None
        self._parts: list[str] = []
        self._length = 0

    @property
    def text(self) -> str:
        """Text delivered so far in the current (or last) run."""
        return "".join(self._parts)

    async def run(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Event, None]:
        """Stream the answer to ``messages``."""
        recorder = StatsRecorder(self.provider.name, self.provider.model, clock=self._clock)
        self._parts = []
        self._length = 0
        self.stats = None
        try:
            try:
                async with aclosing(self.provider.stream(messages, params)) as stream:
                    async for piece in stream:
                        if not piece:
                            continue
                        recorder.token()
                        offset = self._length
                        self._parts.append(piece)
                        self._length += len(piece)
                        yield TextDelta(piece, offset)
            except ChatError as err:
                self.stats = recorder.snapshot("error")
                yield Failed(err, self.text, self.stats)
                return
            except Exception as err:  # a provider bug must not take the session down
                log.exception("provider %s raised an untyped error", self.provider.name)
                wrapped = ProviderError(
                    f"The {self.provider.name} provider failed: {type(err).__name__}: {err}",
                    provider=self.provider.name,
                    partial=self.text,
                )
                self.stats = recorder.snapshot("error")
                yield Failed(wrapped, self.text, self.stats)
                return
            self.stats = recorder.snapshot("complete")
            yield Done(self.text, self.stats)
        finally:
            if self.stats is None:
                self.stats = recorder.snapshot("cancelled")
