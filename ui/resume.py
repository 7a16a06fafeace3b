"""Continuing an interrupted answer on demand (the Continue action), in the message that holds it."""

from __future__ import annotations

import asyncio

import chainlit as cl
from chainlit.context import context

from agents.errors import ChatError
from chat.session import ChatSession
from ui import live_view, notes, threads
from ui.sink import show_error


async def continue_answer(session: ChatSession, action: cl.Action) -> None:
    """Carry on the last answer in its own message; Stop cancels it like any answer."""
    try:
        turn = session.continue_last()
    except ChatError as err:
        await show_error(err)
        return
    await action.remove()
    message = cl.Message(content=turn.continue_from, id=action.forId) if action.forId else None
    base = len(session.history)  # the exchange left the history; it comes back, completed, after the turn
    for_id = next((k for k, v in threads.marks().items() if v == base), None)
    # Actions run in an HTTP request, not as the session's task: register ours so Stop reaches it.
    if message is not None:
        await notes.for_message(message.id).carry_on()  # its old error and give-up notice no longer hold
    task = asyncio.create_task(live_view.play(session, turn, for_id=for_id, message=message, base=base))
    context.session.current_task = task
    await context.emitter.task_start()
    try:
        await asyncio.wait((task,))  # a Stop cancels the task, not this request
    finally:
        await context.emitter.task_end()
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
