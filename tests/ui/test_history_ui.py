"""History through the Chainlit handlers on a real SQLite data layer: resume, edit, cut-off answers, re-attach."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chainlit as cl
import chainlit.data
import chainlit.socket
import pytest
from chainlit.config import config
from chainlit.context import context
from chainlit.user import User

import app
from agents.providers.base import ChatMessage
from store.database import database_url, prepare
from store.datalayer import DataLayer
from tests.chainlit_harness import SocketRecorder, open_session
from tests.fakes import FakeClock
from ui import history, live_view, resume, threads


@dataclass
class Page:
    """One browser page: its recorded socket and its Chainlit session."""

    socket: SocketRecorder
    session: Any


@dataclass
class Persisted:
    layer: DataLayer
    user: Any

    async def page(self, thread_id: str | None = None) -> Page:
        """A new page (websocket session) of the same user; on ``thread_id`` if given."""
        socket = open_session()
        context.session.user = self.user
        context.session.has_first_interaction = True  # as after Chainlit's first message
        if thread_id is not None:
            context.session.thread_id = thread_id
        return Page(socket, context.session)


@pytest.fixture
async def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Persisted]:
    url = database_url(f"sqlite:///{tmp_path / 'chat.db'}") or ""
    await prepare(url)
    layer = DataLayer(url)
    monkeypatch.setattr(config.code, "data_layer", lambda: layer)
    monkeypatch.setattr(chainlit.data, "_data_layer", None)
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", False)
    monkeypatch.setenv("DEFAULT_PROVIDER", "echo")
    monkeypatch.setattr(live_view, "SETTLE_S", 0.0)
    open_session()
    user = await layer.create_user(User(identifier="ann"))
    yield Persisted(layer, user)
    await asyncio.gather(*history._tasks, return_exceptions=True)
    await layer.close()


async def settle() -> None:
    """Wait for the database writes Chainlit fires as background tasks (Message.update/remove).

    A write may start another (an update after a create), so this waits until none is left, up to 10 s.
    """
    deadline = asyncio.get_running_loop().time() + 10
    while others := [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"background tasks still running: {others}"
        await asyncio.wait_for(asyncio.gather(*others, return_exceptions=True), left)


async def checkpointed(db: Persisted, thread_id: str, message_id: str) -> dict[str, Any]:
    """The thread once a checkpoint has stored the live answer's step (polls the database, up to 10 s)."""
    for _ in range(200):
        thread = await db.layer.get_thread(thread_id)
        if thread is not None and any(s["id"] == message_id for s in thread["steps"]):
            return dict(thread)
        await asyncio.sleep(0.05)  # polling the database the checkpoint task writes to
    raise AssertionError("no checkpoint was written")


async def say(text: str) -> cl.Message:
    """The user sends ``text``: Chainlit stores the message, then calls the handler."""
    msg = cl.Message(content=text, author="ann", type="user_message")
    await msg.send()
    await app.message(msg)
    return msg


async def settings(**values: Any) -> None:
    """The panel's Confirm: Chainlit keeps the values in the session, then calls the handler."""
    context.session.chat_settings = {**context.session.chat_settings, **values}
    await app.settings_update(context.session.chat_settings)


async def test_resume_gives_back_the_same_context_settings_and_verdict_steps(db: Persisted) -> None:
    await db.page()
    await app.start()
    await settings(provider="echo", echo_rate=0, buffer="token", guard_pii="redact")
    await say("Mail me at jane.doe@example.com please.")
    await say("And a second question.")
    before = list(app._session().history)
    assert before[0].content != "Mail me at jane.doe@example.com please."  # the model saw it redacted
    await settle()
    thread = await db.layer.get_thread(context.session.thread_id)
    assert thread is not None

    await db.page(thread["id"])  # a reload, or another day
    await app.resume_thread(thread)
    after = app._session()
    assert after.history == before  # message for message
    assert after.settings.echo_rate == 0 and after.settings.buffer == "token"
    assert any(s["name"] == "Guardrails" and s["parentId"] for s in thread["steps"])  # the verdict Step is stored
    await say("A third.")
    assert [m.role for m in app._session().history] == ["user", "assistant"] * 3


async def test_an_edit_drops_the_old_exchange_and_what_followed_from_the_context(db: Persisted) -> None:
    await db.page()
    await app.start()
    app._session().update(echo_rate=0)
    first = await say("first question")
    await say("second question")
    # The pencil is disabled while an answer runs, so an edit comes after Chainlit's background writes of
    # these messages; without this wait a loaded machine can run a create after the edit's update.
    await settle()
    # Chainlit's pencil, through Chainlit's own handler: it removes the later messages (screen and
    # database), updates this one, and calls on_message with the same message id.
    payload = {"message": {"id": first.id, "output": "first, edited"}}
    await chainlit.socket.edit_message(context.session.socket_id, payload)  # type: ignore[arg-type,union-attr]
    assert app._session().history == [ChatMessage("user", "first, edited"), ChatMessage("assistant", "first, edited")]
    await settle()
    thread = await db.layer.get_thread(context.session.thread_id)
    assert thread is not None
    assert db.layer.failure is None, db.layer.failure
    stored = [(s["type"], s["output"]) for s in thread["steps"] if s["type"].endswith("_message")]
    assert ("user_message", "second question") not in stored and ("user_message", "first, edited") in stored
    await db.page(thread["id"])
    await app.resume_thread(thread)
    assert app._session().history == [ChatMessage("user", "first, edited"), ChatMessage("assistant", "first, edited")]
    assert threads.marks()[first.id] == 0  # an edit after a resume truncates at the same place


async def _cut_off_thread(db: Persisted, partial: str) -> str:
    """A thread as a kill -9 leaves it: the user's message, and the answer's last checkpoint."""
    page = await db.page()
    question = cl.Message(content="one two three four five six", author="ann", type="user_message")
    await question.send()
    answer = cl.Message(content=partial, author="Assistant")
    meta = history.answer_metadata(history.STREAMING, [ChatMessage("user", question.content)], question.id)
    await db.layer.create_step({**answer.to_dict(), "metadata": meta})
    return str(page.session.thread_id)


async def test_an_answer_cut_off_by_a_crash_resumes_interrupted_and_continue_finishes_it(db: Persisted) -> None:
    thread_id = await _cut_off_thread(db, "one two three")
    await settle()
    thread = await db.layer.get_thread(thread_id)
    assert thread is not None
    page = await db.page(thread_id)
    await app.resume_thread(thread)
    await settle()
    session = app._session()
    question = ChatMessage("user", "one two three four five six")
    assert session.history == [question, ChatMessage("assistant", "one two three")]
    assert any("cut off" in m["output"] for m in page.socket.messages())
    actions = page.socket.named("action")
    assert actions and actions[-1]["name"] == "continue_answer"
    answer_id = actions[-1]["forId"]
    await settle()
    stored = await db.layer.get_thread(thread_id)
    assert stored is not None
    assert [s["metadata"].get("answer") for s in stored["steps"] if s["id"] == answer_id] == [history.INTERRUPTED]

    session.update(echo_rate=0)
    await resume.continue_answer(session, cl.Action(**{**actions[-1], "forId": answer_id}))
    whole = "one two three four five six"
    assert session.history[-1] == ChatMessage("assistant", whole)
    await settle()
    stored = await db.layer.get_thread(thread_id)
    assert stored is not None
    step = next(s for s in stored["steps"] if s["id"] == answer_id)
    assert step["output"] == whole and step["metadata"]["answer"] == "complete"
    again = await db.page(thread_id)
    await app.resume_thread(stored)
    await settle()
    assert app._session().history[-1] == ChatMessage("assistant", whole)
    assert not any("cut off" in m["output"] for m in again.socket.messages())  # finished: no Continue this time


async def test_reopening_an_interrupted_thread_twice_stores_the_cut_off_line_once(db: Persisted) -> None:
    thread_id = await _cut_off_thread(db, "one two")
    await settle()
    for _ in range(3):
        thread = await db.layer.get_thread(thread_id)
        assert thread is not None
        page = await db.page(thread_id)
        await app.resume_thread(thread)
        await settle()
        assert page.socket.named("action")[-1]["name"] == "continue_answer"  # Continue is offered every time
    stored = await db.layer.get_thread(thread_id)
    assert stored is not None
    lines = [s for s in stored["steps"] if "cut off when the server stopped" in str(s.get("output"))]
    assert len(lines) == 1, lines


async def test_a_reopened_thread_shows_the_text_so_far_then_follows_in_the_same_message(db: Persisted) -> None:
    await db.page()
    await app.start()
    app._session().update(echo_rate=40, buffer="token")
    words = " ".join(f"w{i}" for i in range(120))  # 3 s at 40 tok/s
    first_page = asyncio.create_task(say(words))
    watched = None
    while watched is None or watched.answer.last_id < 5:
        await asyncio.sleep(0.02)
        watched = live_view.watching(context.session.thread_id)
    thread_id = context.session.thread_id
    thread = await checkpointed(db, thread_id, watched.message_id)
    stored = [s for s in thread["steps"] if s["id"] == watched.message_id]
    assert stored and stored[0]["metadata"]["answer"] == history.STREAMING and stored[0]["output"]

    page = await db.page(thread_id)  # the reload
    await app.resume_thread(thread)  # type: ignore[arg-type]
    await asyncio.wait_for(first_page, 10)
    await asyncio.wait_for(asyncio.shield(context.session.current_task), 10)  # type: ignore[arg-type]
    # The text so far opens the answer's own message on this page, then the live tokens follow.
    started = [d for d in page.socket.named("stream_start") if d["id"] == watched.message_id]
    tokens = [t["token"] for t in page.socket.named("stream_token") if t["id"] == watched.message_id]
    assert len(started) == 1 and started[0]["output"] and tokens
    assert started[0]["output"] + "".join(tokens) == words  # nothing lost, nothing repeated
    assert app._session().history[-1] == ChatMessage("assistant", words)  # this page's context is complete too


async def test_without_persistence_a_closed_page_cancels_its_answer_at_once(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=20)
    task = asyncio.create_task(app.message(cl.Message(content=" ".join(["word"] * 100))))
    while (watched := live_view.watching(context.session.thread_id)) is None or watched.answer.last_id < 2:
        await asyncio.sleep(0.02)
    await app.end()  # Chainlit calls on_chat_end when the socket disconnects
    await asyncio.wait_for(watched.answer.wait(), 1.0)
    assert watched.answer.turn.stats is not None and watched.answer.turn.stats.outcome == "cancelled"
    await asyncio.wait_for(task, 5)


async def test_checkpoints_are_bounded_by_time_not_tokens(db: Persisted) -> None:
    await db.page()
    await app.start()
    session = app._session()
    session.update(echo_rate=0, buffer="token")
    turn = session.start(" ".join(["tok"] * 400))
    answer = live_view.registry().start(turn)
    clock = FakeClock(step=0.01)  # every reading moves 10 ms: 400 tokens take ~4 s of this clock
    message = cl.Message(content="")
    checkpoints = history.Checkpoints(answer, lambda: {**message.to_dict(), "output": "x"}, clock=clock)
    await checkpoints.run()
    assert answer.last_id > 400
    assert 2 <= checkpoints.writes <= clock.now / history.CHECKPOINT_S + 1


async def test_the_first_text_is_checkpointed_at_once(db: Persisted) -> None:
    """A server killed in an answer's first second still leaves the answer behind (interrupted, with Continue)."""
    await db.page()
    await app.start()
    session = app._session()
    session.update(echo_rate=0, buffer="token")
    answer = live_view.registry().start(session.start("a short answer"))
    clock = FakeClock(step=0.0)  # time stands still: only the first-text write can happen
    message = cl.Message(content="")
    checkpoints = history.Checkpoints(answer, lambda: {**message.to_dict(), "output": "x"}, clock=clock)
    await checkpoints.run()
    assert checkpoints.writes == 1


async def test_stop_on_a_page_that_reopened_the_thread_cancels_the_answer(db: Persisted) -> None:
    await db.page()
    await app.start()
    app._session().update(echo_rate=40, buffer="token")
    first_page = asyncio.create_task(say(" ".join(f"w{i}" for i in range(200))))  # 5 s at 40 tok/s
    while (watched := live_view.watching(context.session.thread_id)) is None or watched.answer.last_id < 3:
        await asyncio.sleep(0.02)
    thread_id = context.session.thread_id
    thread = await checkpointed(db, thread_id, watched.message_id)
    await db.page(thread_id)
    await app.resume_thread(thread)  # type: ignore[arg-type]
    follower = context.session.current_task
    assert follower is not None
    while watched.answer.followers < 3:  # the first page, the checkpoints and this page
        await asyncio.sleep(0.02)
    follower.cancel()  # Chainlit's Stop on this page
    await asyncio.wait_for(watched.answer.wait(), 1.0)
    stats = watched.answer.turn.stats
    assert stats is not None and stats.outcome == "cancelled" and stats.tokens < 150
    await asyncio.wait_for(first_page, 5)  # the first page ends too, with the partial answer
    await settle()
    stored = await db.layer.get_thread(thread_id)
    assert stored is not None
    step = next(s for s in stored["steps"] if s["id"] == watched.message_id)
    assert step["metadata"]["answer"] == "cancelled"
    assert step["output"] == watched.answer.text_at(watched.answer.last_id)
