"""Continue acts on the answer's stored state, from the hostile probe: after a reload, in a stale tab, and the
"cut off when the server stopped" line goes once the answer is carried on.  Real SQLite data layer, Chainlit handlers.
"""

# ruff: noqa: F811 - ``db`` is the fixture of test_history_ui, used by name

from __future__ import annotations

import asyncio
from typing import Any

import chainlit as cl
from chainlit.context import init_ws_context

import app
from agents.providers.base import ChatMessage
from tests.ui.test_history_ui import (
    Page,
    Persisted,
    _cut_off_thread,
    db,  # noqa: F401 - the fixture
    say,
    settings,
    settle,
)
from ui import history, live_view, resume

WHOLE = "one two three four five six"


async def _stored(db: Persisted, thread_id: str) -> dict[str, Any]:
    thread = await db.layer.get_thread(thread_id)
    assert thread is not None
    return dict(thread)


def _step(thread: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in thread["steps"] if s["id"] == step_id)


def _children(thread: dict[str, Any], parent: str) -> list[str]:
    return [s["name"] for s in thread["steps"] if s.get("parentId") == parent]


def _continue(page: Page) -> cl.Action:
    """The Continue button the page shows last, as its click sends it back."""
    actions = page.socket.named("action")
    assert actions and actions[-1]["name"] == "continue_answer", actions
    return cl.Action(**{k: actions[-1][k] for k in ("name", "payload", "label", "forId", "id")})


async def _cut_by_the_limit(db: Persisted) -> tuple[Page, str, str]:
    """A page whose answer the token limit cut off at 4 tokens: (page, thread id, answer id)."""
    page = await db.page()
    await app.start()
    await settings(provider="echo", echo_rate=0, buffer="token", max_tokens="4")
    await say(WHOLE)
    await settle()
    answer_id = _continue(page).forId
    assert answer_id is not None
    thread = await _stored(db, str(page.session.thread_id))
    cut = _step(thread, answer_id)["output"]
    assert cut and WHOLE.startswith(cut) and cut != WHOLE
    return page, str(page.session.thread_id), answer_id


def _on(page: Page) -> Any:
    """Make ``page`` the current Chainlit context (the test drives two tabs); its chat session."""
    init_ws_context(page.session)
    return app._session()


async def _reopen(db: Persisted, thread_id: str) -> Page:
    page = await db.page(thread_id)
    await app.resume_thread(await _stored(db, thread_id))  # type: ignore[arg-type]
    await settle()
    return page


async def test_a_cut_off_answer_gets_continue_back_after_a_reload_and_it_carries_on(db: Persisted) -> None:
    _, thread_id, answer_id = await _cut_by_the_limit(db)
    page = await _reopen(db, thread_id)
    click = _continue(page)  # the button is back after the reload
    assert click.forId == answer_id
    assert _step(await _stored(db, thread_id), answer_id)["metadata"][history.CUT_OFF_AT] == 4
    await resume.continue_answer(app._session(), click)
    assert app._session().history[-1] == ChatMessage("assistant", WHOLE)  # a fresh limit: the rest came
    await settle()
    stored = await _stored(db, thread_id)
    step = _step(stored, answer_id)
    assert step["output"] == WHOLE and step["metadata"]["answer"] == "complete"
    assert history.CUT_OFF_AT not in step["metadata"]
    assert _children(stored, answer_id) == ["Stats"]  # the "cut off at 4 tokens" note went; one stats line
    again = await _reopen(db, thread_id)
    assert not again.socket.named("action")  # finished: no Continue any more


async def _two_tabs_on_an_interrupted_answer(db: Persisted) -> tuple[Page, Page, str, str]:
    """Two pages that reopened a thread whose answer a crash cut off: (first, second, thread id, answer id)."""
    thread_id = await _cut_off_thread(db, "one two")
    await settle()
    first = await _reopen(db, thread_id)
    stale = await _reopen(db, thread_id)  # a second tab on the thread, with its own Continue button
    answer_id = _continue(first).forId
    assert answer_id is not None and _continue(stale).forId == answer_id
    _on(first).update(echo_rate=0)
    return first, stale, thread_id, answer_id


async def test_continue_in_a_stale_tab_does_nothing_to_an_answer_the_other_tab_finished(db: Persisted) -> None:
    first, stale, thread_id, answer_id = await _two_tabs_on_an_interrupted_answer(db)
    _on(stale)
    stale_click = _continue(stale)
    stale_session = app._session()

    first_session = _on(first)  # the first tab carries the answer on to its end
    await resume.continue_answer(first_session, _continue(first))
    assert first_session.history[-1] == ChatMessage("assistant", WHOLE)
    await settle()
    before = dict(live_view.registry()._answers)

    _on(stale)
    await resume.continue_answer(stale_session, stale_click)  # the stale tab's button
    await settle()
    assert live_view.registry()._answers.keys() == before.keys()  # nothing was generated
    assert any(resume.ALREADY_COMPLETE in m["output"] for m in stale.socket.messages())
    shown = [m for m in stale.socket.named("update_message") if m["id"] == answer_id]
    assert shown and shown[-1]["output"] == WHOLE  # the stale tab now shows the stored answer
    assert stale_session.history[-1] == ChatMessage("assistant", WHOLE)  # and its context is the stored one
    stored = await _stored(db, thread_id)
    assert _step(stored, answer_id)["output"] == WHOLE and _children(stored, answer_id) == ["Stats"]
    assert len(stale.socket.named("stream_start")) == 0  # nothing streamed on the stale tab


async def test_continue_in_a_stale_tab_follows_the_answer_the_other_tab_is_still_continuing(db: Persisted) -> None:
    first, stale, thread_id, answer_id = await _two_tabs_on_an_interrupted_answer(db)
    _on(stale)
    stale_click = _continue(stale)
    stale_session = app._session()

    first_session = _on(first)
    first_session.update(echo_rate=10)  # the five remaining tokens take ~0.5 s
    running = asyncio.create_task(resume.continue_answer(first_session, _continue(first)))
    while (watched := live_view.watching(thread_id)) is None:
        await asyncio.sleep(0.01)
    started = set(live_view.registry()._answers)

    _on(stale)
    await resume.continue_answer(stale_session, stale_click)  # while the first tab's continuation streams
    await asyncio.wait_for(running, 10)
    await settle()
    assert set(live_view.registry()._answers) == started  # the stale tab followed; it started no answer
    opened = [d for d in stale.socket.named("stream_start") if d["id"] == answer_id]
    tokens = [t["token"] for t in stale.socket.named("stream_token") if t["id"] == answer_id]
    assert opened and opened[-1]["output"] + "".join(tokens) == WHOLE  # nothing lost, nothing repeated
    assert stale_session.history[-1] == ChatMessage("assistant", WHOLE)
    assert watched.answer.finished


async def test_the_server_stopped_line_goes_once_continue_has_carried_the_answer_on(db: Persisted) -> None:
    thread_id = await _cut_off_thread(db, "one two")
    await settle()
    page = await _reopen(db, thread_id)
    lines = [s for s in (await _stored(db, thread_id))["steps"] if "cut off when the server stopped" in s["output"]]
    assert len(lines) == 1
    session = app._session()
    session.update(echo_rate=0)
    await resume.continue_answer(session, _continue(page))
    assert session.history[-1] == ChatMessage("assistant", WHOLE)
    await settle()
    stored = await _stored(db, thread_id)
    assert not [s for s in stored["steps"] if "cut off when the server stopped" in s["output"]]
    assert lines[0]["id"] in [d["id"] for d in page.socket.named("delete_message")]  # gone from the screen too
    again = await _reopen(db, thread_id)
    assert not [m for m in again.socket.messages() if "cut off when the server stopped" in m["output"]]


async def test_continue_waits_while_another_answer_of_the_thread_is_being_written(db: Persisted) -> None:
    first, stale, thread_id, answer_id = await _two_tabs_on_an_interrupted_answer(db)
    _on(stale)
    stale_click = _continue(stale)
    stale_session = app._session()
    _on(first).update(echo_rate=40, buffer="token")
    asking = asyncio.create_task(say(" ".join(f"w{i}" for i in range(40))))  # a new question in the first tab
    while (watched := live_view.watching(thread_id)) is None or watched.answer.last_id < 2:
        await asyncio.sleep(0.02)
    started = set(live_view.registry()._answers)
    _on(stale)
    await resume.continue_answer(stale_session, stale_click)
    assert set(live_view.registry()._answers) == started  # no second answer on the thread
    assert any(resume.BUSY in m["output"] for m in stale.socket.messages())
    await asyncio.wait_for(asking, 10)
    await settle()
