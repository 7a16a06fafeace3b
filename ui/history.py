"""A thread's history in the database: what each answer put in the model's context, and getting it back.

Each answer's message carries, in its step metadata::

    {"answer": "streaming" | OUTCOME | "interrupted",   # how it ended (streaming: not ended yet)
     "context": [["user", "..."], ["assistant", "..."]], # what this exchange added to the model's context
     "for": "<the user message's id>",
     "cut_off_at": N}                                    # only when the token limit cut it (N may be null)

An answer is *continuable* (Continue is offered again after a reload or a
resume, and acts on it) while its stored state says it did not finish: cut
off by a crash (``streaming`` with nobody generating it), ``interrupted``
(the retries gave up), or cut off by the token limit.  Continue acts on the
stored state, not on what a page remembers (``ui.resume``).

``context`` is what the session's history gained, so a resumed thread's
context equals the one before, message for message, whatever the screen
shows (a redacted prompt, a block line, notices and stats are not context).
While an answer streams, a checkpoint rewrites its step at most once per
``CHECKPOINT_S`` with the text so far, so a crash loses at most that much; a
step still marked ``streaming`` when nobody is generating it was cut off by a
crash or a restart, and resumes as interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.events import Done, Failed, Replace, TextDelta
from agents.providers.base import ChatMessage
from chat.live import LiveAnswer

log = logging.getLogger(__name__)
ANSWER = "answer"
STREAMING = "streaming"
INTERRUPTED = "interrupted"
#: At most this much text (in seconds of generation) is lost if the server dies mid-answer.
CHECKPOINT_S = 1.0
ROLES = ("user", "assistant")


def data_layer() -> Any | None:
    """Chainlit's data layer when persistence is on, else ``None``.

    Also while its database fails: the layer keeps the writes it misses and makes them when the
    database answers again (``store.datalayer``), so an answer's checkpoints are still handed to it.
    """
    from chainlit.data import get_data_layer

    return get_data_layer()


def context_rows(messages: Sequence[ChatMessage]) -> list[list[str]]:
    """History entries as JSON-ready ``[role, content]`` pairs."""
    return [[m.role, m.content] for m in messages]


#: The metadata key of an answer the token limit cut off: the answer's length in tokens where it was cut.
CUT_OFF_AT = "cut_off_at"
#: The metadata key of the "cut off when the server stopped" line's message id, while that line holds.
CUT_OFF_LINE = "cut_off_line"


def answer_metadata(
    state: str,
    context: Sequence[ChatMessage],
    for_id: str | None,
    *,
    cut_off: bool = False,
    cut_off_at: int | None = None,
) -> dict[str, Any]:
    """The metadata an answer's step carries (see the module docstring)."""
    meta: dict[str, Any] = {ANSWER: state, "context": context_rows(context), "for": for_id}
    if cut_off:
        meta[CUT_OFF_AT] = cut_off_at
    return meta


def continuable(meta: Mapping[str, Any]) -> bool:
    """Whether an answer with this stored metadata did not finish, so Continue can carry it on."""
    return meta.get(ANSWER) in (STREAMING, INTERRUPTED) or CUT_OFF_AT in meta


@dataclass
class Restored:
    """What a stored thread gives back."""

    history: list[ChatMessage] = field(default_factory=list)
    #: User message id -> length of the history before that message (for edits).
    marks: dict[str, int] = field(default_factory=dict)
    #: The last answer's step if it was cut off mid-stream (a crash or restart), else ``None``.
    cut_off: dict[str, Any] | None = None
    #: The last answer's step if Continue can carry it on (see ``continuable``), else ``None``.
    unfinished: dict[str, Any] | None = None


def restore(steps: Sequence[Mapping[str, Any]]) -> Restored:
    """Rebuild the model's context from a thread's steps, in order."""
    out = Restored()
    for step in steps:
        meta = step.get("metadata") or {}
        if not isinstance(meta, Mapping) or ANSWER not in meta:
            continue
        if for_id := meta.get("for"):
            out.marks[str(for_id)] = len(out.history)
        rows = meta.get("context") or []
        if meta[ANSWER] == STREAMING:  # its checkpoint: the prompt, and the text as of the last write
            rows = [r for r in rows if r[0] == "user"]
            if text := step.get("output") or "":
                rows = [*rows, ["assistant", text]]
        out.history += [ChatMessage(role, str(content)) for role, content in rows if role in ROLES]
        out.cut_off = dict(step) if meta[ANSWER] in (STREAMING, INTERRUPTED) else None
        out.unfinished = dict(step) if continuable(meta) else None
    return out


class Checkpoints:
    """Follows a live answer and writes its step: at most once per ``interval``, and once at the end.

    It counts as a follower, so with persistence on an answer runs to its end
    even when every page has gone (the user can come back to it).
    """

    def __init__(
        self,
        answer: LiveAnswer,
        step: Callable[[], dict[str, Any]],
        *,
        interval: float = CHECKPOINT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.answer = answer
        self._step = step
        self.interval = interval
        self._clock = clock
        #: Database writes made, for the benchmark.
        self.writes = 0

    async def run(self) -> None:
        """Write checkpoints until the answer ends; the final state is written by ``finish``.

        The first text is written at once, so an answer the server dies on in its first second
        still shows after a restart (interrupted, with Continue); then at most once per ``interval``.
        """
        last: float | None = None
        events = self.answer.follow(0)
        try:
            async for _, event in events:
                if isinstance(event, Done | Failed):
                    break
                if last is None and not isinstance(event, TextDelta | Replace):
                    continue  # nothing of the answer to keep yet
                if last is None or self._clock() - last >= self.interval:
                    await self.write()
                    last = self._clock()
        finally:
            await events.aclose()

    async def write(self) -> None:
        """Write the step as it is now; a database error never reaches the answer."""
        if (layer := data_layer()) is None:
            return
        try:
            await layer.update_step(self._step())
            self.writes += 1
        except Exception:  # noqa: BLE001 - the data layer says its own failure once; the answer goes on
            log.exception("saving a partial answer failed")


def spawn(coro: Any) -> asyncio.Task[Any]:
    """A background task kept referenced until it ends."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


_tasks: set[asyncio.Task[Any]] = set()
