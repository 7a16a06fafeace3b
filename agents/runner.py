"""The runner: the one place that turns a provider's stream into typed events.

Every sink (Chainlit, the CLI, SSE) consumes ``Runner.run``'s events.  A run
ends with exactly one ``Done`` or ``Failed``; if the consumer stops iterating
(Stop, Ctrl-C, a client disconnect) the provider's stream is closed at once and
``runner.stats`` holds the figures with outcome ``cancelled``.

Resume on error: when the stream breaks with a ``RetryableError`` (including
``Stalled``: no token within ``stall_timeout``), the runner says so with a
``Notice(NoticeKind.RETRYING)``, waits as its ``RetryPolicy`` says, and asks the provider
(or the next failover provider) to ``continue_from`` the text already
delivered, in the same answer.  For providers without ``exact_continuation``
the repeat at the seam is removed, and a word the break cut in two is asked
for again from its start (``agents.seam``).  Only text that reaches the answer
counts as progress for the retry budget; a repeat the trimmer drops does not.
When the budget runs out, the run ends with ``Failed`` and outcome
``interrupted``; the partial answer stays.

Reads from a provider's generator run in a task that is kept across the stall
timer, so a timeout never abandons a read half-way: the task is cancelled and
awaited (the generator unwinds its own ``finally``), then the stream is closed.

The stall timer measures silence from a provider that has started: after a
``Waiting`` item (queued, or reading a long prompt) it is off until the next
text piece, and a queue place is shown as a ``Notice(NoticeKind.WAITING)``.  A
``Finish("length")`` item marks the answer cut off: the stats record it and a
``Notice(NoticeKind.CUT_OFF)`` tells every sink, before ``Done``.

Confidence (the hallucination check): a provider that reports log-probabilities
yields ``Scored`` pieces.  The runner keeps the tokens of exactly the text it
delivers (``agents.tokentrail``: a trimmed seam repeat or a taken-back word
drops its tokens; a Continue passes the earlier tokens in), hands each delta's
tokens on in ``TextDelta.tokens``, and ends with ``Stats.confidence`` from
``agents.confidence``; ``None`` when any delivered text came without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random as _random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any

from agents.confidence import answer_confidence
from agents.errors import (
    ChatError,
    ConnectionLost,
    ContentBlocked,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RetryableError,
    ServerError,
    Stalled,
)
from agents.events import (
    Done,
    Event,
    Failed,
    Notice,
    NoticeKind,
    Outcome,
    Replace,
    Stats,
    TextDelta,
    cut_off_message,
)
from agents.faults import FaultInjector, parse_fault
from agents.providers import registry
from agents.providers.base import (
    ChatMessage,
    Finish,
    GenerationParams,
    Piece,
    Provider,
    Scored,
    TokenLogprob,
    Waiting,
)
from agents.retry import Backoff, RetryPolicy
from agents.seam import CutWord, SeamTrimmer, split_cut_word
from agents.settings import RunSettings
from agents.stats import Clock, StatsRecorder
from agents.tokentrail import TokenTrail, aligned

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
#: Seconds without a token after which a stream counts as dropped.
DEFAULT_STALL_TIMEOUT = 30.0
_END = object()


class _Reader:
    """Reads one provider stream piece by piece, with a stall timer that never abandons a read."""

    def __init__(self, stream: AsyncGenerator[Piece, None], timeout: float | None, provider: str) -> None:
        self._stream = stream
        self._timeout = timeout
        self._provider = provider
        self._task: asyncio.Task[object] | None = None
        #: The provider said it is queued or reading the prompt: silence is expected until its next text.
        self._waiting = False

    async def _read(self) -> object:
        try:
            return await anext(self._stream)
        except StopAsyncIteration:
            return _END

    async def next(self) -> Piece | None:
        """The next item, ``None`` at the end; raises ``Stalled`` after ``timeout`` without one.

        The timer runs only while the provider is producing, not while it said it is ``Waiting``.
        """
        if self._task is None:
            self._task = asyncio.ensure_future(self._read())
        done, _ = await asyncio.wait((self._task,), timeout=None if self._waiting else self._timeout)
        if not done:
            raise Stalled(
                f"No token from {self._provider} for {self._timeout:g} s.", provider=self._provider
            )
        task, self._task = self._task, None
        item = task.result()
        if item is _END:
            return None
        assert isinstance(item, str | Scored | Waiting | Finish), f"a provider yielded {type(item).__name__}"
        if isinstance(item, Waiting):
            self._waiting = True
        elif isinstance(item, str | Scored) and (item if isinstance(item, str) else item.text):
            self._waiting = False
        return item

    async def aclose(self) -> None:
        """Cancel a read under way, let the generator unwind, then close it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait((task,))
            if not task.cancelled() and task.exception() is not None:
                log.debug("a cancelled read from %s ended with %r", self._provider, task.exception())
        await self._stream.aclose()


def _what_broke(err: RetryableError, timeout: float | None) -> str:
    """A short phrase for the retry notice."""
    match err:
        case Stalled():
            return "stalled (no token for {:g} s)".format(timeout or 0)
        case ConnectionLost():
            return "connection lost"
        case RateLimited():
            return "rate limited (429)"
        case ServerError(status=status):
            return f"server error ({status})" if status else "server error"
        case ProviderTimeout():
            return "request timed out"
        case _:
            return "stream broke"


class Runner:
    """Streams one answer from ``provider`` as events, resuming it on retryable errors."""

    def __init__(
        self,
        provider: Provider,
        *,
        clock: Clock = time.perf_counter,
        retry: RetryPolicy | None = None,
        stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
        faults: FaultInjector | None = None,
        failover: Sequence[Provider] = (),
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.provider = provider
        self.retry = retry or RetryPolicy()
        self.stall_timeout = stall_timeout
        self.faults = faults
        self.failover = tuple(failover)
        self._clock = clock
        #: Waits out each backoff; injectable so tests need not wait.
        self.sleep = sleep
        self._random = random
        #: The last run's figures; set when the run ends, however it ends.
        self.stats: Stats | None = None
        self._parts: list[str] = []
        self._length = 0
        self._trail = TokenTrail()

    @classmethod
    def for_settings(
        cls,
        provider: Provider,
        settings: RunSettings,
        *,
        clock: Clock = time.perf_counter,
        faults: FaultInjector | None = None,
    ) -> Runner:
        """A runner as a session's settings ask: retries, stall timeout, failover providers.

        ``faults`` is the answer's fault state; ``None`` starts a fresh one from
        ``settings.fault`` (a continuation passes the interrupted answer's).
        Raises ``ConfigError`` if a failover provider is not usable.
        """
        if faults is None and (spec := parse_fault(settings.fault, seed=settings.seed or 0)) is not None:
            faults = FaultInjector(spec)
        failover = [
            registry.create(name, **settings.provider_options())
            for name in settings.failover_providers()
            if name != settings.provider
        ]
        return cls(
            provider,
            clock=clock,
            retry=RetryPolicy(max_attempts=settings.retries),
            stall_timeout=settings.stall_timeout or None,
            faults=faults,
            failover=failover,
        )

    @property
    def text(self) -> str:
        """Text delivered so far in the current (or last) run, including any ``continue_from``."""
        return "".join(self._parts)

    @property
    def tokens(self) -> tuple[TokenLogprob, ...] | None:
        """The log-probabilities of the tokens spelling ``text``; ``None`` if some of it came without them."""
        return self._trail.snapshot()

    def _deliver(self, piece: str) -> TextDelta:
        offset = self._length
        self._parts.append(piece)
        self._length += len(piece)
        return TextDelta(piece, offset, self._trail.deliver(piece))

    def _snapshot(self, recorder: StatsRecorder, outcome: Outcome) -> Stats:
        """The run's stats, with the confidence of the text delivered (``None``: it cannot be checked)."""
        stats = recorder.snapshot(outcome)
        tokens = self._trail.snapshot() if self._trail.seen_scores else None
        return dataclasses.replace(stats, confidence=answer_confidence(tokens) if tokens else None)

    async def run(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
        continue_tokens: Sequence[TokenLogprob] | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Stream the answer to ``messages``, carrying on after ``continue_from`` if given.

        ``continue_tokens`` are the log-probabilities of ``continue_from`` (an earlier run's ``tokens``), so a
        continued answer's confidence covers all of it.
        """
        recorder = StatsRecorder(self.provider.name, self.provider.model, clock=self._clock)
        self._parts = [continue_from] if continue_from else []
        self._length = len(continue_from)
        self._trail = TokenTrail(continue_from, continue_tokens)
        self.stats = None
        backoff = Backoff(self.retry, clock=self._clock, random=self._random)
        chain = (self.provider, *self.failover)
        current = 0
        resuming = False
        if continue_from:
            # Tell every stage and sink what is already on screen, so their text starts from it.
            yield Replace(continue_from, reason="continuing the answer", tokens=self._trail.snapshot())
        try:
            while True:
                provider = chain[current]
                attempt = self._attempt(provider, messages, params, recorder, backoff, resuming)
                try:
                    async with aclosing(attempt):
                        async for event in attempt:
                            yield event
                except RetryableError as err:
                    delay = backoff.next_delay(err)
                    if delay is None:
                        yield self._gave_up(err, recorder, backoff.attempt)
                        self.stats = self._snapshot(recorder, "interrupted")
                        yield Failed(err, self.text, self.stats)
                        return
                    current = min(current + 1, len(chain) - 1)
                    recorder.retries += 1
                    recorder.resumes.append(recorder.tokens)
                    yield self._retrying(err, recorder.tokens, backoff.attempt, delay, chain[current])
                    await self.sleep(delay)
                    resuming = True
                    continue
                break
            if recorder.finish_reason == "length":
                at = recorder.cut_off_at
                yield Notice(NoticeKind.CUT_OFF, cut_off_message(at), {"tokens": at, "finish_reason": "length"})
            self.stats = self._snapshot(recorder, "complete")
            yield Done(self.text, self.stats)
        except ChatError as err:
            if isinstance(err, ContentBlocked):
                recorder.finish_reason = "content_filter"
            self.stats = self._snapshot(recorder, "error")
            yield Failed(err, self.text, self.stats)
            return
        except Exception as err:  # a provider bug must not take the session down
            log.exception("provider %s raised an untyped error", self.provider.name)
            wrapped = ProviderError(
                f"The {self.provider.name} provider failed: {type(err).__name__}: {err}",
                provider=self.provider.name,
                partial=self.text,
            )
            self.stats = self._snapshot(recorder, "error")
            yield Failed(wrapped, self.text, self.stats)
            return
        finally:
            if self.stats is None:
                self.stats = self._snapshot(recorder, "cancelled")

    async def _attempt(
        self,
        provider: Provider,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        recorder: StatsRecorder,
        backoff: Backoff,
        resuming: bool,
    ) -> AsyncGenerator[Event, None]:
        """One request to ``provider``, continuing after the text delivered so far."""
        delivered = ask = self.text
        trimmer: SeamTrimmer | None = None
        cut: CutWord | None = None
        if delivered and not provider.exact_continuation:
            ask, cut_off = split_cut_word(delivered)
            trimmer = SeamTrimmer(ask)
            cut = CutWord(cut_off) if cut_off else None
        source = self.faults.wrap(provider) if self.faults is not None else provider
        reader = _Reader(source.stream(messages, params, continue_from=ask), self.stall_timeout, provider.name)
        recorder.finish_reason = recorder.cut_off_at = None
        waiting: int | None = None
        try:
            while (piece := await reader.next()) is not None:
                if isinstance(piece, Waiting):
                    if piece.ahead is not None and piece.ahead != waiting:
                        place = f"{piece.ahead} ahead" if piece.ahead else "next in line"
                        yield Notice(NoticeKind.WAITING, f"waiting for the model ({place})", {"ahead": piece.ahead})
                    waiting = piece.ahead
                    continue
                if isinstance(piece, Finish):
                    recorder.finish_reason = piece.reason
                    if piece.reason == "length":
                        recorder.cut_off_at = piece.tokens or params.max_tokens or recorder.tokens
                    continue
                if isinstance(piece, Scored):
                    self._trail.hold(piece.text, aligned(piece))
                    piece = piece.text
                elif piece:
                    self._trail.hold(piece, None)
                if not piece:
                    continue
                recorder.token()
                if trimmer is not None:
                    piece = trimmer.feed(piece)
                    if cut is not None:
                        piece = cut.feed(piece)
                    if not piece:
                        continue  # a repeat being dropped: not progress
                backoff.progress()
                for event in self._fresh_text(piece, resuming, recorder, provider, trimmer, cut):
                    yield event
                resuming = False
            if trimmer is not None:
                tail = trimmer.flush()
                if cut is not None:
                    tail = cut.feed(tail) + cut.flush()
                if tail:
                    backoff.progress()
                    for event in self._fresh_text(tail, resuming, recorder, provider, trimmer, cut):
                        yield event
                    resuming = False
            if resuming:
                yield self._resumed(recorder, provider, trimmer, cut)
        finally:
            await reader.aclose()

    def _fresh_text(
        self,
        piece: str,
        resuming: bool,
        recorder: StatsRecorder,
        provider: Provider,
        trimmer: SeamTrimmer | None,
        cut: CutWord | None,
    ) -> list[Event]:
        """The events for new answer text: the resumed notice first after a break, a take-back, the delta."""
        out: list[Event] = []
        if resuming:
            out.append(self._resumed(recorder, provider, trimmer, cut))
        if cut is not None and (taken := cut.take_back()):
            out.append(self._retract(taken))
        out.append(self._deliver(piece))
        return out

    def _retract(self, cut: str) -> Replace:
        """Take the cut-off word (``cut``) off the end of the answer: the continuation wrote another."""
        text = self.text
        if text.endswith(cut):
            text = text[: -len(cut)]
        self._parts = [text]
        self._length = len(text)
        self._trail.truncate(len(text))
        return Replace(text, reason="the continuation rewrote the cut-off word", tokens=self._trail.snapshot())

    def _retrying(self, err: RetryableError, tokens: int, attempt: int, delay: float, nxt: Provider) -> Notice:
        where = "resuming" if nxt is self.provider or nxt.name == self.provider.name else f"continuing on {nxt.name}"
        wait = f", in {delay:.1f} s" if delay >= 0.05 else ""
        plural = "" if tokens == 1 else "s"
        message = (
            f"{_what_broke(err, self.stall_timeout)} after {tokens} token{plural}: "
            f"{where} (attempt {attempt}/{self.retry.max_attempts}{wait})"
        )
        data = {
            "error": err.kind,
            "tokens": tokens,
            "attempt": attempt,
            "max_attempts": self.retry.max_attempts,
            "delay": delay,
            "provider": nxt.name,
        }
        return Notice(NoticeKind.RETRYING, message, data)

    def _resumed(
        self, recorder: StatsRecorder, provider: Provider, trimmer: SeamTrimmer | None, cut: CutWord | None = None
    ) -> Notice:
        position = recorder.resumes[-1] if recorder.resumes else 0
        data: dict[str, Any] = {"tokens": position, "provider": provider.name, "retries": recorder.retries}
        if trimmer is not None:
            data["seam_removed"] = trimmer.removed + (cut.removed if cut is not None else 0)
        return Notice(NoticeKind.RESUMED, f"resumed after {position} token{'' if position == 1 else 's'}", data)

    def _gave_up(self, err: RetryableError, recorder: StatsRecorder, attempts: int) -> Notice:
        message = (
            f"{_what_broke(err, self.stall_timeout)} after {recorder.tokens} tokens: gave up after "
            f"{attempts} attempt{'' if attempts == 1 else 's'} to resume; the answer so far is kept"
        )
        data = {"error": err.kind, "tokens": recorder.tokens, "retries": recorder.retries}
        return Notice(NoticeKind.GAVE_UP, message, data)
