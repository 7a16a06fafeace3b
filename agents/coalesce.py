"""The buffering stage: applies a strategy to the event stream, with a time bound on its own clock.

    upstream ──► pump task ──► mailbox ──► strategy.feed/flush ──► TextDelta chunks ──► sink

Why a pump task: the time bound must fire even when no token arrives (a slow
provider must not hold text past the bound), but cancelling an in-flight
``anext()`` of the upstream generator on a timeout would throw into the
provider.  So a task reads upstream into a mailbox, and the stage waits on the
mailbox or on a timer, whichever comes first.

Backpressure: while the sink is busy, the pump keeps reading (the provider is
never blocked by the UI) and text piles up in the mailbox; when the sink asks
for the next event, everything that is ready goes out as one larger chunk.
Nothing is dropped.

Any event other than ``TextDelta`` first flushes the held text, so order is
kept; ``Done``/``Failed`` carry ``stats.chunks``, the number of ``TextDelta``
this stage emitted.  If the consumer stops early (Stop, Ctrl-C), the pump is
cancelled and the upstream closed at once, and the text held at that moment
is kept in ``leftover()`` for the turn to show.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from agents.buffering import BufferSpec, Strategy, parse
from agents.events import Done, Event, Failed, Replace, TextDelta

EventStream = AsyncGenerator[Event, None]  # as chat.pipeline, which imports this module
#: A chat UI such as Chainlit re-renders a message's whole Markdown on every update, so an update
#: costs in proportion to the text already shown, and a fixed rate of updates costs the page the
#: square of the answer's length.  So the time bound grows with the text shown: up to
#: ``STEEP_FROM`` characters, at most ``RENDER_CHARS_PER_S`` characters re-rendered per second
#: (short answers keep the spec's own interval: ~22 updates/s up to 4,500 characters, 10/s at
#: 10,000); past it the bound grows with the square of the length, so a long answer's updates
#: cost a bounded share of the page's time however long it gets...
RENDER_CHARS_PER_S = 100_000
STEEP_FROM = 20_000
#: ...but an update still comes at least this often (seconds) while text streams in.
MAX_BOUND_S = 2.0
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


class _End:
    """The upstream ended without a Done/Failed."""


class _Raised:
    """The upstream raised; the error is re-raised after the held text is flushed."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_END = _End()
Item = tuple[Event | _End | _Raised, float]


class _Mailbox:
    """An unbounded queue with one waiter that a timer can also wake."""

    __slots__ = ("items", "quiet", "_waiter")

    def __init__(self) -> None:
        self.items: deque[Item] = deque()
        #: Text cannot change anything before the timer fires: queue it without waking the stage.
        self.quiet = False
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Item) -> None:
        self.items.append(item)
        if not (self.quiet and type(item[0]) is TextDelta):
            self.poke()

    def poke(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        if self.items:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


async def _pump(upstream: EventStream, box: _Mailbox, clock: Clock) -> None:
    try:
        async for event in upstream:
            box.put((event, clock()))
    except Exception as err:  # handed to the stage, which flushes and re-raises it
        box.put((_Raised(err), clock()))
    else:
        box.put((_END, clock()))


class _Held:
    """One stream's buffering state: what was fed, released and emitted, and when text arrived."""

    def __init__(self, spec: BufferSpec) -> None:
        self.strategy: Strategy = spec.new()
        self.leading = spec.leading
        self.base_bound = math.inf if spec.time_ms is None else spec.time_ms / 1000
        self.fed = 0  # characters fed to the strategy (or released past it)
        self.released = 0  # characters the strategy has given back
        self.arrivals: deque[tuple[int, float]] = deque()  # (fed after this token, its arrival time)
        self.ready: list[str] = []
        self.visible = 0  # length of the visible text, for TextDelta.offset
        self.chunks = 0
        self.last_emit = -math.inf

    @property
    def bound(self) -> float:
        """The time bound now: the spec's, stretched as the visible text grows (``RENDER_CHARS_PER_S``)."""
        base = self.base_bound
        shown = self.visible
        if base == math.inf or shown <= base * RENDER_CHARS_PER_S:
            return base
        stretched = shown / RENDER_CHARS_PER_S * max(1.0, shown / STEEP_FROM)
        return max(base, min(stretched, MAX_BOUND_S))

    def text(self, text: str, at: float) -> None:
        """Feed one upstream delta that arrived at ``at``."""
        if self.leading and self.fed == self.released and at - self.last_emit >= self.bound:
            # Time-only spec, nothing held and the last update is old: this text goes out at once.
            self.fed += len(text)
            self._release([text])
            return
        self.fed += len(text)
        self.arrivals.append((self.fed, at))
        if chunks := self.strategy.feed(text):
            self._release(chunks)

    def flush(self) -> None:
        """Release everything the strategy holds."""
        if self.fed > self.released:
            self._release(self.strategy.flush())

    def deadline(self) -> float | None:
        """When the oldest held text reaches the time bound; ``None`` if nothing is held or no bound."""
        if self.fed == self.released or self.bound == math.inf:
            return None
        while self.arrivals and self.arrivals[0][0] <= self.released:
            self.arrivals.popleft()
        return self.arrivals[0][1] + self.bound

    def take(self, now: float) -> TextDelta | None:
        """The released text as one chunk, or ``None``."""
        if not self.ready:
            return None
        text = "".join(self.ready)
        self.ready.clear()
        delta = TextDelta(text, self.visible)
        self.visible += len(text)
        self.chunks += 1
        self.last_emit = now
        return delta

    def _release(self, chunks: list[str]) -> None:
        for chunk in chunks:
            if chunk:
                self.ready.append(chunk)
                self.released += len(chunk)
        if self.released == self.fed:
            self.arrivals.clear()


class Coalesce:
    """The buffering stage for one spec; call it on an event stream.

    ``clock`` and ``sleep`` are injected so tests can run on virtual time;
    they must agree (``sleep(d)`` returns once ``clock()`` has advanced by ``d``).
    """

    def __init__(self, spec: BufferSpec | str, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.spec = parse(spec) if isinstance(spec, str) else spec
        self._clock = clock
        self._sleep = sleep
        self._leftover: list[Event] = []

    def __call__(self, events: EventStream) -> EventStream:
        return self._run(events)

    def leftover(self) -> list[Event]:
        """Text (and redactions) this stage had not yet emitted when its last stream was closed early."""
        return list(self._leftover)

    async def _alarm(self, delay: float, box: _Mailbox) -> None:
        await self._sleep(max(delay, 0.0))
        box.poke()

    async def _run(self, upstream: EventStream) -> EventStream:
        clock = self._clock
        held = _Held(self.spec)
        box = _Mailbox()
        self._leftover = []
        pump = asyncio.create_task(_pump(upstream, box, clock), name="coalesce-pump")
        timer: asyncio.Task[None] | None = None
        ended = False
        try:
            while True:
                if not box.items:
                    deadline = held.deadline()
                    if deadline is not None and (timer is None or timer.done()):
                        timer = asyncio.create_task(self._alarm(deadline - clock(), box), name="coalesce-timer")
                    # A time-only spec holding text only acts at the deadline, so tokens need not
                    # wake the stage one by one (most of its cost per token).
                    box.quiet = deadline is not None and held.leading
                    await box.wait()
                    box.quiet = False
                while box.items:
                    item, at = box.items.popleft()
                    if type(item) is TextDelta:
                        if item.text:
                            held.text(item.text, at)
                        continue
                    held.flush()
                    if (delta := held.take(clock())) is not None:
                        yield delta
                    match item:
                        case Done() | Failed():
                            ended = True
                            yield dataclasses.replace(item, stats=dataclasses.replace(item.stats, chunks=held.chunks))
                            return
                        case _End():
                            ended = True
                            return
                        case _Raised(error=error):
                            ended = True
                            raise error
                        case Replace(text=text):
                            held.visible = len(text)
                            yield item
                        case _:
                            yield item
                now = clock()
                deadline = held.deadline()
                if deadline is not None and now >= deadline:
                    held.flush()
                if (delta := held.take(now)) is not None:
                    yield delta
        finally:
            if timer is not None:
                timer.cancel()
            if not ended:
                self._leftover = _spill(held, box)
            if not pump.done():
                pump.cancel()  # the provider stops at its current await, within one token
                await asyncio.wait([pump])
            await upstream.aclose()


def _spill(held: _Held, box: _Mailbox) -> list[Event]:
    """What the stage held when closed early: text fed, released or still in the mailbox."""
    held.flush()
    events: list[Event] = []
    parts = held.ready
    visible = held.visible
    for item, _ in box.items:
        if type(item) is TextDelta:
            parts.append(item.text)
        elif type(item) is Replace:  # a redaction supersedes what came before it
            events, parts, visible = [item], [], len(item.text)
    if text := "".join(parts):
        events.append(TextDelta(text, visible))
    return events


def leftover(stages: list[Any]) -> list[Event]:
    """Events that stages held back from the sink when the stream was closed early."""
    return [event for stage in stages if isinstance(stage, Coalesce) for event in stage.leftover()]
