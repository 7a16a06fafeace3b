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
from collections.abc import Mapping
from typing import Any

import chainlit as cl
from chainlit.context import context

from agents.errors import ChatError, MissingKey
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


def truncate(session: ChatSession, message_id: str) -> None:
    """Before answering ``message_id``: if it was sent before (an edit), forget it and everything after it."""
    known = marks()
    if (at := known.get(message_id)) is not None:
        del session.history[at:]
        for key in [k for k, v in known.items() if v > at]:
            del known[key]
    known[message_id] = len(session.history)


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
    elif restored.cut_off is not None:
        history.spawn(_offer_continue(restored.cut_off))
    return session


async def _offer_continue(step: Mapping[str, Any]) -> None:
    """Mark a cut-off answer interrupted (in the database too) and put Continue under it."""
    await asyncio.sleep(live_view.SETTLE_S)  # after Chainlit has sent the stored thread, which resets the screen
    meta = dict(step.get("metadata") or {})
    if meta.get(history.ANSWER) == history.STREAMING and (layer := history.data_layer()) is not None:
        rows = [r for r in meta.get("context") or [] if r[0] == "user"]
        if step.get("output"):
            rows.append(["assistant", step["output"]])
        meta.update({history.ANSWER: history.INTERRUPTED, "context": rows})
        await layer.update_step({**step, "metadata": meta})
        # Said once, when the cut is found: the line is stored with the thread, so later opens show it
        # already (sending it on every open stacked one more copy each time).
        await cl.Message(content=CUT_OFF_LINE, author="notice").send()
    action = continue_action()
    await action.send(for_id=str(step["id"]))  # under the answer: Continue streams into that message
