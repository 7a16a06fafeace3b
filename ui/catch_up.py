"""Two pages on one thread stay one conversation: before a page answers, it catches up with the stored thread.

The design (the simplest a user finds right): the thread in the database is
the conversation; a page is a view of it.  When a page acts (sends a
message), it first takes the stored thread as the model's context, so no
answer is ever written from a stale copy, and it shows what other pages
added since it last looked, in order: their questions and answers (with the
Steps under them).  If another page's answer is still streaming, this page
follows it to its end in the same message (a re-attach), and only then
answers its own question, after it.  Pages do not push to each other while
idle: a page that only watches catches up when it next acts or reloads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import chainlit as cl
from chainlit.chat_context import chat_context
from chainlit.context import context

from chat.session import ChatSession
from ui import live_view, threads


def _missing(steps: Sequence[Mapping[str, Any]], shown: set[str]) -> list[Mapping[str, Any]]:
    """Stored messages this page does not show, with the Steps under each, in the thread's order."""
    messages = {str(s["id"]) for s in steps if str(s.get("type", "")).endswith("_message") and s["id"] not in shown}
    return [s for s in steps if s["id"] in messages or s.get("parentId") in messages]


async def catch_up(session: ChatSession, asked: cl.Message) -> None:
    """Before answering ``asked`` on this page: the stored context, what other pages added, and their live answer."""
    edit = asked.id in threads.marks()  # Chainlit's pencil: what follows the message goes (``threads.drop_after``)
    watched = live_view.watching(context.session.thread_id)
    thread = await threads.refresh(session)
    if thread is None or edit:
        return  # no history (off, or unavailable just now): this page's own context is all there is
    shown = {m.id for m in chat_context.get()} | {asked.id}
    if watched is not None:
        shown.add(watched.message_id)  # the re-attach below shows it, text so far then live
    missing = _missing(thread.get("steps") or [], shown)
    if not missing and watched is None:
        return
    await context.emitter.delete_step(asked.to_dict())  # this page's question goes after what it missed
    for step in missing:
        await context.emitter.send_step(step)  # type: ignore[arg-type]
        if str(step.get("type", "")).endswith("_message"):
            chat_context.add(cl.Message.from_dict(step))  # type: ignore[arg-type]  # an edit here reaches it
    if watched is not None:
        base = threads.marks().get(watched.for_id or "", len(session.history))
        await live_view.follow(session, watched, base)
        await threads.refresh(session)  # the finished answer, as stored
    await context.emitter.send_step(asked.to_dict())
    if (run := context.current_step) is not None:
        # Chainlit nests this message's run Step (and so the answer) under the question: the delete took it too.
        await context.emitter.send_step(run.to_dict())
