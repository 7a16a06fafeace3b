"""Live answers: a running turn that outlives the page or connection that asked for it.

The websocket session or the HTTP response is only a *view* of an answer
(STYLE.md idea 12).  An answer belongs to a ``LiveAnswer``, kept in a
``LiveAnswers`` registry under an id; its events go into an append-only log
with sequence numbers 1, 2, 3...  Any number of followers attach at an offset
(``follow(after=N)``) and get every later event exactly once, then follow the
live stream until the answer ends.  Any holder of the id can cancel it.

Who keeps an answer alive:

* while at least one follower is attached, it runs to its end;
* when the last follower leaves before the end, a grace timer starts
  (``grace`` seconds, 30 by default); a follower attaching in that time stops
  the timer, otherwise the answer is cancelled (within one token: ``Turn.run``
  closes the provider's stream);
* a finished answer stays readable for ``retention`` seconds (5 minutes by
  default), then the registry forgets it and its id is unknown.

While nobody follows it, the turn's ``audience`` says so, and the embedded
model serves answers someone is watching first.

Everything here runs on one event loop; nothing blocks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace

from agents.errors import InternalError
from agents.events import Done, Event, Failed, Replace, Stats, TextDelta
from chat import selfcheck
from chat.session import Turn

DEFAULT_GRACE_S = 30.0
DEFAULT_RETENTION_S = 300.0
GRACE_VAR = "STREAM_GRACE_SECONDS"
RETENTION_VAR = "STREAM_RETENTION_SECONDS"

log = logging.getLogger(__name__)


def _seconds(var: str, default: float) -> float:
    raw = os.environ.get(var, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value >= 0 else default


def new_id() -> str:
    """An unguessable id: holding it is what lets a client follow or cancel the answer."""
    return secrets.token_urlsafe(16)


class LiveAnswer:
    """One answer being generated: its event log, its followers and its producer task."""

    def __init__(
        self, answer_id: str, turn: Turn, *, grace: float, on_end: Callable[[LiveAnswer], None], selfcheck: bool = False
    ) -> None:
        self.id = answer_id
        self.turn = turn
        #: Run the session's self-check after ``Done`` and log its ``SelfChecked`` (the HTTP API's streams).
        self.selfcheck = selfcheck
        self.grace = grace
        #: Every event so far; event number N (as sent to clients) is ``log[N - 1]``.
        self.log: list[Event] = []
        self.followers = 0
        self._changed = asyncio.Condition()
        self._grace_timer: asyncio.TimerHandle | None = None
        self._on_end = on_end
        self._ended = False
        self.task = asyncio.get_running_loop().create_task(self._produce(), name=f"live-answer-{answer_id}")

    @property
    def finished(self) -> bool:
        """Whether the answer has ended (its last event is in the log)."""
        return self._ended

    @property
    def last_id(self) -> int:
        """The number of the latest event (0 before the first)."""
        return len(self.log)

    def text_at(self, number: int) -> str:
        """The answer's text as shown after event ``number`` (deltas appended, replaces and ends applied)."""
        text: list[str] = []
        for event in self.log[:number]:
            match event:
                case TextDelta(text=delta):
                    text.append(delta)
                case Replace(text=whole) | Done(text=whole) | Failed(text=whole):
                    text = [whole]
                case _:
                    pass
        return "".join(text)

    async def _append(self, event: Event) -> None:
        async with self._changed:
            self.log.append(event)
            self._changed.notify_all()

    async def _produce(self) -> None:
        try:
            await self.turn.run(self._append)
            if self.selfcheck and selfcheck.wanted(self.turn):  # Done is in the log already: followers have it
                await self._append(await selfcheck.check(self.turn))
        except asyncio.CancelledError:
            # Cancelled (Stop, DELETE, grace expired): followers still get a typed end.
            if not self.log or not isinstance(self.log[-1], Done | Failed):
                stats = self.turn.stats
                if stats is not None:
                    if stats.outcome != "cancelled":
                        stats = replace(stats, outcome="cancelled")
                    self.log.append(Done(self.turn.text, stats))
        except Exception:
            # A bug in a stage must not end the stream silently: followers get a typed error as its end.
            log.exception("answer %s failed", self.id)
            if not self.log or not isinstance(self.log[-1], Done | Failed):
                stats = self.turn.stats or Stats("", "", "error", None, 0.0, 0, None)
                error = InternalError("The server failed while streaming the answer.")
                self.log.append(Failed(error, self.text_at(len(self.log)), replace(stats, outcome="error")))
        finally:
            self._stop_grace()
            self._ended = True  # before waking followers: they check it to know the log is complete
            async with self._changed:
                self._changed.notify_all()
            self._on_end(self)

    async def follow(self, after: int = 0) -> AsyncGenerator[tuple[int, Event], None]:
        """Events numbered after ``after``, as ``(number, event)``, live until the answer ends.

        While iterating, the caller counts as a follower; closing the iterator
        (a disconnect) detaches it, and the last one to leave starts the grace timer.
        """
        self.followers += 1
        self.turn.audience.watched = True
        self._stop_grace()
        try:
            position = max(0, after)
            while True:
                while position < len(self.log):
                    position += 1
                    yield position, self.log[position - 1]
                if self.finished:
                    return
                async with self._changed:
                    await self._changed.wait_for(self._moved_past(position))
        finally:
            self.followers -= 1
            if self.followers == 0 and not self.finished:
                self.turn.audience.watched = False  # providers serve watched answers first
                self._start_grace()

    def _moved_past(self, position: int) -> Callable[[], bool]:
        return lambda: position < len(self.log) or self.finished

    def cancel(self) -> bool:
        """Stop generating now; ``False`` if the answer had already ended."""
        if self.finished:
            return False
        self.task.cancel()
        return True

    async def wait(self) -> None:
        """Wait for the answer to end, however it ends."""
        await asyncio.wait({self.task})

    def _start_grace(self) -> None:
        self._stop_grace()
        if self.grace <= 0:
            self.cancel()
        else:
            self._grace_timer = asyncio.get_running_loop().call_later(self.grace, self.cancel)

    def _stop_grace(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None


class LiveAnswers:
    """The registry of live and recently finished answers, by id."""

    def __init__(self, *, grace: float | None = None, retention: float | None = None) -> None:
        #: Seconds an answer nobody follows keeps running (``STREAM_GRACE_SECONDS``, default 30).
        self.grace = _seconds(GRACE_VAR, DEFAULT_GRACE_S) if grace is None else grace
        #: Seconds a finished answer stays readable (``STREAM_RETENTION_SECONDS``, default 300).
        self.retention = _seconds(RETENTION_VAR, DEFAULT_RETENTION_S) if retention is None else retention
        self._answers: dict[str, LiveAnswer] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}

    def start(self, turn: Turn, answer_id: str | None = None, *, selfcheck: bool = False) -> LiveAnswer:
        """Run ``turn`` as a live answer; raises ``KeyError`` if ``answer_id`` is taken.

        ``selfcheck``: the answer's self-check (if its settings ask for one) runs after ``Done``, in the log.
        """
        answer_id = answer_id or new_id()
        if answer_id in self._answers:
            raise KeyError(answer_id)
        answer = LiveAnswer(answer_id, turn, grace=self.grace, on_end=self._ended, selfcheck=selfcheck)
        self._answers[answer_id] = answer
        return answer

    def get(self, answer_id: str) -> LiveAnswer | None:
        """The answer with this id, or ``None`` if unknown or expired."""
        return self._answers.get(answer_id)

    def running(self) -> list[LiveAnswer]:
        """Answers still generating."""
        return [a for a in self._answers.values() if not a.finished]

    def _ended(self, answer: LiveAnswer) -> None:
        if self.retention <= 0:
            self._forget(answer.id)
            return
        loop = asyncio.get_running_loop()
        self._expiry[answer.id] = loop.call_later(self.retention, self._forget, answer.id)

    def _forget(self, answer_id: str) -> None:
        self._answers.pop(answer_id, None)
        if (timer := self._expiry.pop(answer_id, None)) is not None:
            timer.cancel()
