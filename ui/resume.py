"""Continuing an interrupted answer on demand (the Continue action), in the message that holds it."""

from __future__ import annotations

import asyncio

import chainlit as cl
from chainlit.context import context

from agents.errors import ChatError
from chat.session import ChatSession
from ui.sink import ChainlitSink, show_error


async def continue_answer(session: ChatSession, action: cl.Action) -> None:
    """Carry on the last answer in its own message; Stop cancels it like any answer."""
    try:
        turn = session.continue_last()
    except ChatError as err:
        await show_error(err)
        return
    await action.remove()
    message = cl.Message(content=turn.continue_from, id=action.forId) if action.forId else None
    # Actions run in an HTTP request, not as the session's task: register ours so Stop reaches it.
    sink = ChainlitSink(message)
    await sink.notes.carry_on()  # its old error and give-up notice no longer hold
    task = asyncio.create_task(sink.play(turn))
    context.session.current_task = task
    await context.emitter.task_start()
    try:
        await asyncio.wait((task,))  # a Stop cancels the task, not this request
    finally:
        await context.emitter.task_end()
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
