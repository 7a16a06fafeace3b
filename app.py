"""Chainlit handlers: glue only.  The work happens in ``chat`` (sessions), ``ui`` (rendering) and ``web`` (HTTP)."""

from __future__ import annotations

import chainlit as cl
from chainlit.config import config
from chainlit.context import context
from chainlit.types import ThreadDict
from dotenv import load_dotenv

from agents.errors import ChatError, MissingKey
from chat.session import ChatSession
from ui import guard_panel, keys_panel, live_view, panel, persistence, question, resume, selfcheck, threads
from ui.actions import CONTINUE
from ui.apply import apply
from ui.catch_up import catch_up
from ui.sink import show_error, show_notice
from ui.startup import greeting, preload
from web import mount

load_dotenv()  # first: install() below and every session read the environment
mount.install()  # SSE API, /metrics, optional login (docs/http-api.md)
persistence.install(login_configured=config.code.password_auth_callback is not None)  # DATABASE_URL: history
SESSION_KEY = "chat"


def _session() -> ChatSession:
    return cl.user_session.get(SESSION_KEY)


@cl.on_chat_start
async def start() -> None:
    session = ChatSession()
    cl.user_session.set(SESSION_KEY, session)
    await cl.ChatSettings(panel.widgets(session.settings)).send()
    preload(session)
    await cl.Message(content=greeting(session)).send()
    if problem := persistence.problem or persistence.failure():
        await show_error(problem)
    persistence.seen(persistence.failure())


@cl.on_chat_resume
async def resume_thread(thread: ThreadDict) -> None:
    preload(await threads.resume(thread, SESSION_KEY))


@cl.on_chat_end
async def end() -> None:
    live_view.abandon(context.session.thread_id)
    if (session := _session()) is not None:
        selfcheck.stop(session)


@cl.on_stop
async def stop() -> None:
    if (session := _session()) is not None:
        selfcheck.stop(session)


@cl.on_settings_update
async def settings_update(values: dict) -> None:
    keys_panel.scrub(context.session.chat_settings)  # Chainlit stores these with the thread: keys must not be there
    session = _session()
    outcome = apply(session, values)  # each valid field applies; the bad ones are refused by name
    if outcome.refused:
        await show_error(outcome.summary())
    elif outcome.keys:
        await show_notice(f"For this chat only, never stored: {', '.join(outcome.keys)}")
    checking = session.settings.checks_confidence and ("guards" in outcome.applied or outcome.provider)
    if outcome.refused or "buffer" in outcome.applied or outcome.keys_touched or checking:
        # Show what is really in force; a key typed into the panel leaves the browser's form with this.
        await cl.ChatSettings(panel.widgets(session.settings, session.keys)).send()
    if outcome.provider:
        await show_notice(f"Now answering with: {outcome.provider}")
    if checking and (note := guard_panel.confidence_note(session.settings)):
        await show_notice(note)  # e.g. echo: its answers cannot be checked, said before the first one
    if outcome.applied:
        await threads.save_settings()


@cl.on_message
async def message(msg: cl.Message) -> None:
    session = _session()
    await persistence.announce()
    await catch_up(session, msg)  # the stored thread is the context; another tab's messages show here first
    if threads.truncate(session, msg.id):  # an edited message: its old exchange and all after it leave the context
        await threads.drop_after(msg.id)  # and the screen and the database, with the Steps under them
        msg.content = question.as_typed(msg.content)  # the edit box held the bubble's escaped Markdown
    await threads.save_settings()
    try:
        turn = session.start(msg.content)
    except MissingKey as err:  # e.g. the user removed the key their provider needs
        await show_error(keys_panel.missing_key_line(err))
        return
    except ChatError as err:
        await show_error(err)
        return
    await live_view.play(session, turn, for_id=msg.id, asked=msg)
    selfcheck.start(turn)  # after Done was shown, off the answer's task; the next question cancels it
    await persistence.announce()  # history became unavailable, or is back: one line


@cl.action_callback(CONTINUE)
async def continue_answer(action: cl.Action) -> None:
    await resume.continue_answer(_session(), action)
