"""Continuing an interrupted answer on demand (the Continue action), in the message that holds it.

With history on, Continue acts on the answer's stored state, not on what
this page remembers: a page can be stale (a second tab, a page reopened
before another one carried the answer on).

* still generating (another page's Continue, or an answer that outlived its
  page): this page follows it, as a re-attach; while *another* answer of the
  thread is being written, Continue waits for it to end (it says so);
* finished (complete, stopped, blocked, failed): the page says so, shows the
  stored text, and nothing is generated;
* unfinished (cut off by a crash or by the token limit, or given up after
  retries): the stored thread becomes this page's context and the answer is
  carried on from its stored text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import chainlit as cl
from chainlit.context import context

from agents.errors import ChatError
from chat.session import ChatSession
from ui import history, live_view, notes, threads
from ui.sink import show_error, show_notice

ALREADY_COMPLETE = "This answer is already complete: there is nothing to continue."
ALREADY_ENDED = "This answer has already ended ({state}): there is nothing to continue."
BUSY = "Another answer in this thread is still being written: Continue this one when it has ended."


async def continue_answer(session: ChatSession, action: cl.Action) -> None:
    """Carry on the answer ``action.forId`` in its own message; Stop cancels it like any answer."""
    watched = live_view.watching(context.session.thread_id)
    if watched is not None and action.forId and watched.message_id == action.forId:
        await action.remove()
        await threads.refresh(session)
        base = threads.marks().get(watched.for_id or "", len(session.history))
        await _as_task(live_view.reattach(session, watched, base))
        return
    if watched is not None:  # another answer of this thread is being written (another tab asked)
        await show_notice(BUSY)
        return
    thread = await threads.refresh(session)
    step = _step(thread, action.forId) if thread is not None else None
    meta: Mapping[str, Any] = (step or {}).get("metadata") or {}
    if step is not None and not history.continuable(meta):
        await action.remove()
        await context.emitter.update_step(step)  # type: ignore[arg-type]  # this page shows what is stored (no db write)
        state = str(meta.get(history.ANSWER, ""))
        await show_notice(ALREADY_COMPLETE if state == "complete" else ALREADY_ENDED.format(state=state))
        return
    cut_off_at = meta.get(history.CUT_OFF_AT)
    try:
        turn = session.continue_last(cut_off_at=cut_off_at if isinstance(cut_off_at, int) else None)
    except ChatError as err:
        await show_error(err)
        return
    await action.remove()
    message = cl.Message(content=turn.continue_from, id=action.forId) if action.forId else None
    base = len(session.history)  # the exchange left the history; it comes back, completed, after the turn
    for_id = next((k for k, v in threads.marks().items() if v == base), None)
    if message is not None:
        answer_notes = notes.for_message(message.id)
        answer_notes.adopt((thread or {}).get("steps") or [])
        await answer_notes.carry_on()  # its old error and give-up notice no longer hold
    if line_id := meta.get(history.CUT_OFF_LINE):
        await cl.Message(content="", id=str(line_id)).remove()  # "cut off when the server stopped" no longer holds
    await _as_task(live_view.play(session, turn, for_id=for_id, message=message, base=base))


def _step(thread: Mapping[str, Any], step_id: str | None) -> dict[str, Any] | None:
    return next((dict(s) for s in thread.get("steps") or [] if step_id and s.get("id") == step_id), None)


async def _as_task(work: Any) -> None:
    """Run ``work`` as the session's task, so Stop reaches it (actions run in an HTTP request, not as that task)."""
    task = asyncio.create_task(work)
    context.session.current_task = task
    await context.emitter.task_start()
    try:
        await asyncio.wait((task,))  # a Stop cancels the task, not this request
    finally:
        await context.emitter.task_end()
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
