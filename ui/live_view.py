"""Live answers in the Chainlit UI: an answer belongs to its thread; a page only shows it.

A page that sends a message starts a ``LiveAnswer`` and renders it (follows
its events into one message).  A reload or a closed tab leaves the answer
running: with persistence on, ``Checkpoints`` follows it to the end and keeps
the database current, and a page that reopens the thread shows the text so
far in the same message, then follows the live stream (``reattach``).  Stop
on any page showing the thread cancels the answer.  With persistence off,
nobody can come back, so a disconnect cancels the answer at once
(``abandon``, from ``on_chat_end``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import chainlit as cl
from chainlit.chat_context import chat_context
from chainlit.context import context
from chainlit.utils import utc_now

from agents.events import Done, Failed, Notice, NoticeKind, Replace, TextDelta
from chat.live import LiveAnswer, LiveAnswers
from chat.session import ChatSession, Turn
from ui import history
from ui.sink import ChainlitSink

#: Seconds a re-attaching page waits for Chainlit to send the stored thread before it streams on top of it.
SETTLE_S = 0.3


@dataclass
class Watched:
    """A thread's latest answer and where it is shown."""

    answer: LiveAnswer
    message_id: str
    for_id: str | None
    #: The history's length before this exchange (the exchange's context is what comes after).
    base: int
    checkpoints: history.Checkpoints | None = None
    #: The Step the answer's message hangs under (the question's run), so another page shows it in place.
    parent_id: str | None = None
    checkpoints_task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


_registry: LiveAnswers | None = None
_by_thread: dict[str, Watched] = {}


def registry() -> LiveAnswers:
    """The UI's live answers (grace and retention from the environment, like the HTTP API's)."""
    global _registry
    if _registry is None:
        _registry = LiveAnswers()
    return _registry


def watching(thread_id: str | None) -> Watched | None:
    """The thread's answer if it is still generating."""
    watched = _by_thread.get(thread_id or "")
    return watched if watched is not None and not watched.answer.finished else None


async def play(
    session: ChatSession,
    turn: Turn,
    *,
    for_id: str | None,
    message: cl.Message | None = None,
    base: int | None = None,
    asked: cl.Message | None = None,
) -> None:
    """Start ``turn`` as the thread's live answer and render it here; Stop cancels it.

    ``asked``, the user's message, is updated to show what the model received (``ui.question``).
    """
    thread_id = context.session.thread_id
    message = message or cl.Message(content="")
    # Chainlit stamps a message when it is sent, at the end; a checkpoint needs its place in the thread now.
    message.created_at = message.created_at or utc_now()
    answer = registry().start(turn)
    watched = Watched(answer, message.id, for_id, len(session.history) if base is None else base)
    watched.parent_id = message.parent_id
    for old in [k for k, w in _by_thread.items() if w.answer.finished]:  # only live answers are looked up
        del _by_thread[old]
    _by_thread[thread_id] = watched
    if history.data_layer() is not None:

        def checkpoint() -> dict[str, Any]:
            prompt = turn.messages()[-1:]  # the user's message as the model sees it (screened)
            meta = history.answer_metadata(history.STREAMING, prompt, for_id)
            step: dict[str, Any] = dict(message.to_dict())
            step.update(output=answer.text_at(answer.last_id), streaming=False, metadata=meta)
            return step

        watched.checkpoints = history.Checkpoints(answer, checkpoint)
        watched.checkpoints_task = history.spawn(watched.checkpoints.run())
    sink = ChainlitSink(message)
    if asked is not None:
        sink.asking(asked, turn)
    try:
        await _render(sink, watched, 0)
    finally:
        await _settle(watched, message)


async def _render(sink: ChainlitSink, watched: Watched, after: int) -> None:
    """Follow the answer into ``sink``; if this page's task is cancelled (Stop), the answer is cancelled.

    Before the sink shows the end (and Chainlit stores the message), the
    message gets its final metadata, so no later write can store a stale one.
    """
    answer = watched.answer
    events = answer.follow(after)
    try:
        async for _, event in events:
            if isinstance(event, Done | Failed):
                await asyncio.shield(answer.wait())  # the turn has recorded its exchange in the history
                sink.message.metadata = _final_metadata(watched)
            await sink.handle(event)
    except asyncio.CancelledError:
        answer.cancel()
        await asyncio.shield(answer.wait())
        final = answer.log[-1] if answer.log else None
        stats = final.stats if isinstance(final, Done | Failed) else None
        sink.message.metadata = _final_metadata(watched)
        await asyncio.shield(sink.cancelled(answer.text_at(answer.last_id), stats))
        raise
    finally:
        await events.aclose()


def _final_metadata(watched: Watched) -> dict[str, Any]:
    turn = watched.answer.turn
    stats = turn.stats
    outcome = stats.outcome if stats is not None else "cancelled"
    cut_off = stats is not None and stats.cut_off and outcome == "complete"
    return history.answer_metadata(
        outcome, turn.session.history[watched.base :], watched.for_id,
        cut_off=cut_off, cut_off_at=stats.cut_off_at if stats is not None else None,
    )  # fmt: skip


async def _settle(watched: Watched, message: cl.Message) -> None:
    """Once the answer ended: its step is written last, with its outcome and the context it added."""
    await asyncio.shield(watched.answer.wait())
    if watched.checkpoints_task is not None:
        await asyncio.shield(watched.checkpoints_task)  # no checkpoint may land after the final write
    message.metadata = _final_metadata(watched)
    watched.done.set()
    if (layer := history.data_layer()) is not None:
        step = {**message.to_dict(), "streaming": False}
        if not step.get("output"):
            step["output"] = watched.answer.text_at(watched.answer.last_id)
        await asyncio.shield(layer.update_step(step))


async def reattach(session: ChatSession, watched: Watched, base: int) -> None:
    """On a page that reopened the thread: show the text so far in the same message, then follow it live.

    ``base`` is where the exchange starts in this page's history.
    """
    await asyncio.sleep(SETTLE_S)  # Chainlit sends the stored thread after on_chat_resume returns
    await context.emitter.task_start()  # the page shows Stop while the answer runs
    try:
        await follow(session, watched, base)
    finally:
        await asyncio.shield(context.emitter.task_end())


async def follow(session: ChatSession, watched: Watched, base: int) -> None:
    """Show the answer's text so far in its own message on this page, then follow it live to its end."""
    answer = watched.answer
    after = answer.last_id
    message = cl.Message(content="", id=watched.message_id)
    message.parent_id = watched.parent_id  # where it is stored, not under this page's current Step
    chat_context.add(message)  # an edit on this page reaches it
    sink = ChainlitSink(message)
    earlier = answer.log[:after]
    await sink.reattached(
        waited=any(isinstance(e, Notice) and e.kind == NoticeKind.WAITING for e in earlier),
        started=any(isinstance(e, TextDelta | Replace) for e in earlier),
    )
    if text := answer.text_at(after):
        await message.stream_token(text, is_sequence=True)
    try:
        await _render(sink, watched, after)
    finally:
        await asyncio.shield(watched.done.wait())
        # This page's history held the stored checkpoint; it gets the exchange as it ended.
        session.history = session.history[:base] + answer.turn.session.history[watched.base :]


def start_reattach(session: ChatSession, watched: Watched, base: int) -> None:
    """Follow the live answer on this page, as the session's task so Stop reaches it."""
    context.session.current_task = history.spawn(reattach(session, watched, base))


def abandon(thread_id: str | None) -> None:
    """The page went away: without persistence nobody can come back, so its answer stops now."""
    if history.data_layer() is None and (watched := watching(thread_id)) is not None:
        watched.answer.cancel()
