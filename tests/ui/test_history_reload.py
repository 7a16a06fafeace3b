"""What a reload or an edit leaves on screen and in the database, from the hostile probe: the queue's waiting line,
the verdict Steps of an edited exchange.  Real SQLite data layer, Chainlit handlers.
"""

# ruff: noqa: F811 - ``db`` is the fixture of test_history_ui, used by name

from __future__ import annotations

import asyncio
from typing import Any

import chainlit.socket
from chainlit.context import context

import app
from agents.providers.base import ChatMessage
from tests.fakes import QueuedProvider
from tests.ui.test_history_ui import (
    Persisted,
    db,  # noqa: F401 - the fixture
    say,
    settings,
    settle,
)
from ui import live_view

WAITING = "waiting for the model"


def use(provider: Any) -> None:
    """The current chat answers with ``provider`` (a scripted fake in place of the configured one)."""
    session = app._session()
    s = session.settings
    session._provider, session._provider_key = provider, (s.provider, s.model, s.echo_rate)


async def _stored_steps(db: Persisted, thread_id: str) -> list[dict[str, Any]]:
    thread = await db.layer.get_thread(thread_id)
    return [dict(s) for s in (thread or {}).get("steps") or []]


async def test_a_reload_while_the_answer_waits_for_the_model_leaves_no_waiting_line(db: Persisted) -> None:
    await db.page()
    await app.start()
    start = asyncio.Event()
    use(QueuedProvider(start, chunks=("Seven", " eight", ".")))
    first_page = asyncio.create_task(say("count on"))
    thread_id = context.session.thread_id
    for _ in range(200):  # until the waiting line is stored, as a reload would find it
        steps = await _stored_steps(db, thread_id)
        if lines := [s for s in steps if WAITING in str(s.get("output"))]:
            break
        await asyncio.sleep(0.05)  # polling the database the page's background writes go to
    else:
        raise AssertionError("the waiting line was never stored")
    thread = await db.layer.get_thread(thread_id)

    page = await db.page(thread_id)  # the reload, while the answer is queued
    await app.resume_thread(thread)  # type: ignore[arg-type]
    follower = context.session.current_task
    assert follower is not None
    watched = live_view.watching(thread_id)
    assert watched is not None
    while watched.answer.followers < 3:  # the first page, the checkpoints and this page
        await asyncio.sleep(0.02)
    start.set()  # the model takes the answer
    await asyncio.wait_for(first_page, 10)
    await asyncio.wait_for(asyncio.shield(follower), 10)
    await settle()
    assert lines[0]["id"] in [d["id"] for d in page.socket.named("delete_message")]  # gone from this page
    assert not [s for s in await _stored_steps(db, thread_id) if WAITING in str(s.get("output"))]
    opened = [d["output"] for d in page.socket.named("stream_start") if d["id"] == watched.message_id]
    tokens = [t["token"] for t in page.socket.named("stream_token") if t["id"] == watched.message_id]
    assert "".join(opened + tokens) == "Seven eight."  # the answer followed on this page


def _orphans(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {s["id"] for s in steps}
    return [s for s in steps if s.get("parentId") and s["parentId"] not in ids and s.get("type") != "run"]


async def test_an_edit_takes_the_edited_exchanges_verdict_steps_with_it(db: Persisted) -> None:
    page = await db.page()
    await app.start()
    await settings(provider="echo", echo_rate=0, guard_pii="redact")
    first = await say("Mail me at jane.doe@example.com please.")
    await say("Then write to bob@example.org too.")
    await settle()
    thread_id = context.session.thread_id
    before = await _stored_steps(db, thread_id)
    verdicts = [s for s in before if s["name"] == "Guardrails"]
    assert len(verdicts) == 2  # one table under each answer
    payload = {"message": {"id": first.id, "output": "no address this time"}}
    await chainlit.socket.edit_message(context.session.socket_id, payload)  # type: ignore[arg-type,union-attr]
    await settle()
    after = await _stored_steps(db, thread_id)
    assert not _orphans(after), _orphans(after)
    assert not {v["id"] for v in verdicts} & {s["id"] for s in after}  # both exchanges' verdicts went
    deleted = {d["id"] for d in page.socket.named("delete_message")}
    assert {v["id"] for v in verdicts} <= deleted  # from the screen too
    assert [s["output"] for s in after if s["type"] == "assistant_message"][-1] == "no address this time"
    assert app._session().history == [
        ChatMessage("user", "no address this time"),
        ChatMessage("assistant", "no address this time"),
    ]
