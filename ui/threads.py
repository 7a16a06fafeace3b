"""Resuming a stored thread (``on_chat_resume``) and editing a message: the model's context follows the screen.

Resume gives back the settings, the history (equal to the one before,
message for message: see ``ui.history``), and the live answer if the thread
still has one; an answer cut off by a crash or restart shows as interrupted,
with Continue.  Editing a message (Chainlit's pencil) makes Chainlit drop the
later messages on screen and in the database; ``truncate`` drops them from
the model's context too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import chainlit as cl
from chainlit.context import context

from agents.errors import ChatError, MissingKey
from agents.providers.base import ChatMessage
from chat.session import ChatSession
from ui import history, keys_panel, live_view, panel
from ui.actions import continue_action

MARKS_KEY = "history_marks"
CUT_OFF_LINE = "_This answer was cut off when the server stopped. **Continue** carries it on from here._"


def marks() -> dict[str, int]:
    """User message id -> the history's length before it, for this chat."""
    found = cl.user_session.get(MARKS_KEY)
    if found is None:
        found = {}
        cl.user_session.set(MARKS_KEY, found)
    return found  # type: ignore[no-any-return]


def truncate(session: ChatSession, message_id: str) -> bool:
    """Before answering ``message_id``: if it was sent before (an edit), forget it and everything after it.

    Returns whether it was an edit.
    """
    known = marks()
    edited = (at := known.get(message_id)) is not None
    if at is not None:
        del session.history[at:]
        for key in [k for k, v in known.items() if v > at]:
            del known[key]
    known[message_id] = len(session.history)
    return edited


async def drop_after(message_id: str) -> None:
    """After an edit of ``message_id``: the stored messages after it go, with the Steps under them (screen, database).

    Chainlit's pencil removes the later *messages* only; the Steps under an
    answer (guardrail verdicts, stats, notes) would stay in the database as
    orphans and come back, parentless, when the thread is reopened.  A Step
    whose message Chainlit has deleted already is found by its missing parent.
    """
    if (layer := history.data_layer()) is None:
        return
    thread = await layer.get_thread(context.session.thread_id)
    steps = list((thread or {}).get("steps") or [])
    at = next((i for i, s in enumerate(steps) if s.get("id") == message_id), None)
    if at is None:
        return
    known = {str(s["id"]) for s in steps}
    later = steps[at + 1 :]
    gone = {str(s["id"]) for s in later if str(s.get("type", "")).endswith("_message")}
    gone |= {str(s["id"]) for s in later if s.get("parentId") and s["parentId"] not in known}
    while more := {str(s["id"]) for s in steps if s.get("parentId") in gone and str(s["id"]) not in gone}:
        gone |= more  # the Steps under a removed message, and theirs
    for step in steps:
        if step["id"] in gone:
            await layer.delete_step(step["id"])
            await context.emitter.delete_step(step)


async def save_settings() -> None:
    """Store the panel's values with the thread now, not only on disconnect, so a crash keeps them."""
    if (layer := history.data_layer()) is None or not context.session.has_first_interaction:
        return
    # Never a key: the settings handler scrubs them, but only after an await of Chainlit's own.
    values = dict(context.session.chat_settings)
    keys_panel.scrub(values)
    await layer.update_thread(context.session.thread_id, metadata={"chat_settings": values})


async def resume(thread: Mapping[str, Any], session_key: str) -> ChatSession:
    """Rebuild the chat session of a stored thread and show what it needs (settings, live answer, Continue)."""
    session = ChatSession()
    metadata = thread.get("metadata") or {}
    values = metadata.get("chat_settings") if isinstance(metadata, Mapping) else None
    if values:
        try:
            session.update(**panel.changes(values))
        except MissingKey:
            # Keys entered in the chat are never stored, so a thread that used one always comes back
            # without it: it keeps its provider (its first message says which key to enter) and,
            # above all, its other settings (guardrails) rather than falling back to the defaults.
            try:
                session.settings = session.settings.replace(**panel.changes(values))
            except ChatError:
                pass
        except ChatError:
            pass  # a setting that no longer applies: the defaults stay
    restored = history.restore(thread.get("steps") or [])
    session.history = restored.history
    cl.user_session.set(session_key, session)
    cl.user_session.set(MARKS_KEY, dict(restored.marks))
    await cl.ChatSettings(panel.widgets(session.settings)).send()
    watched = live_view.watching(str(thread.get("id", "")))
    if watched is not None:
        base = restored.marks.get(watched.for_id or "", len(session.history))
        live_view.start_reattach(session, watched, base)
    elif restored.unfinished is not None:
        history.spawn(_offer_continue(restored.unfinished))
    return session


def ahead(mine: Sequence[ChatMessage], stored: Sequence[ChatMessage]) -> bool:
    """This page holds everything the stored thread holds, and more, so the stored copy must not replace it.

    More is later messages, or the rest of an answer of which only a checkpoint
    (its first text, written at once) is stored yet: a page that followed
    another tab's answer to its end has the whole answer before the database does.
    """
    n = len(stored)
    if n == 0 or len(mine) < n or list(mine[: n - 1]) != list(stored[: n - 1]):
        return n == 0 and len(mine) > 0
    if mine[n - 1] == stored[n - 1]:
        return len(mine) > n
    own, last = mine[n - 1], stored[n - 1]
    return own.role == last.role == "assistant" and own.content.startswith(last.content)


async def refresh(session: ChatSession) -> Mapping[str, Any] | None:
    """Take the stored thread as this page's context (another tab may have moved it on); ``None`` without one.

    The stored thread is the one truth every page shares: a page's own copy of
    the history goes stale as soon as another page on the thread asks or
    continues, so each act starts from the database.  Only a page that is
    *ahead* of it (the stored thread is a prefix of its history: Chainlit
    writes messages in background tasks, which a loaded machine can delay)
    keeps its own.
    """
    layer = history.data_layer()
    if layer is None or not context.session.has_first_interaction:
        return None
    thread = await layer.get_thread(context.session.thread_id)
    if thread is None or getattr(layer, "failure", None) is not None:  # unknown yet, or the database fails
        return None
    restored = history.restore(thread.get("steps") or [])
    if ahead(session.history, restored.history):
        return thread  # this page is ahead: its last exchange's final write is still on its way to the database
    session.history = restored.history
    session.unscreened = 0
    cl.user_session.set(MARKS_KEY, dict(restored.marks))
    return thread


async def _offer_continue(step: Mapping[str, Any]) -> None:
    """Put Continue under an unfinished answer; one cut off by a crash is marked interrupted (in the database too)."""
    await asyncio.sleep(live_view.SETTLE_S)  # after Chainlit has sent the stored thread, which resets the screen
    meta = dict(step.get("metadata") or {})
    if meta.get(history.ANSWER) == history.STREAMING and (layer := history.data_layer()) is not None:
        rows = [r for r in meta.get("context") or [] if r[0] == "user"]
        if step.get("output"):
            rows.append(["assistant", step["output"]])
        # Said once, when the cut is found: the line is stored with the thread, so later opens show it
        # already (sending it on every open stacked one more copy each time).  Continue takes it away.
        line = cl.Message(content=CUT_OFF_LINE, author="notice")
        await line.send()
        meta.update({history.ANSWER: history.INTERRUPTED, "context": rows, history.CUT_OFF_LINE: line.id})
        await layer.update_step({**step, "metadata": meta})
    action = continue_action()
    await action.send(for_id=str(step["id"]))  # under the answer: Continue streams into that message
