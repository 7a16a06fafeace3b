"""Measuring one answer: time to first token, tokens, tokens/s, outcome."""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.events import Outcome, Stats
from agents.providers.base import FinishReason

Clock = Callable[[], float]


class StatsRecorder:
    """Accumulates an answer's figures; ``snapshot()`` freezes them into ``Stats``.

    The clock is injected so tests need not wait in real time.
    """

    def __init__(self, provider: str, model: str, *, clock: Clock = time.perf_counter) -> None:
        self.provider = provider
        self.model = model
        self._clock = clock
        self.started = clock()
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.tokens = 0
        self.retries = 0
        self.resumes: list[int] = []
        #: Why the answer ended, when the provider said (a ``Finish`` item) or a filter stopped it.
        self.finish_reason: FinishReason | None = None
        self.cut_off_at: int | None = None

    def token(self) -> None:
        """Count one token (a provider piece) arriving now."""
        now = self._clock()
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        self.tokens += 1

    def snapshot(self, outcome: Outcome) -> Stats:
        """The figures so far, with ``outcome``."""
        now = self._clock()
        ttft = None if self.first_token_at is None else (self.first_token_at - self.started) * 1000
        rate = None
        if self.first_token_at is not None and self.last_token_at is not None and self.tokens > 1:
            span = self.last_token_at - self.first_token_at
            if span > 0:
                # Measured after the first token, so TTFT does not drag it down.
                rate = (self.tokens - 1) / span
        return Stats(
            provider=self.provider,
            model=self.model,
            outcome=outcome,
            ttft_ms=ttft,
            total_ms=(now - self.started) * 1000,
            tokens=self.tokens,
            tokens_per_s=rate,
            retries=self.retries,
            resumes=tuple(self.resumes),
            finish_reason=self.finish_reason or ("stop" if outcome == "complete" else None),
            cut_off_at=self.cut_off_at,
        )
