"""A database that fails for a while (a SQLite lock held past the busy timeout): the layer tries again, and
the writes it missed, the latest of each, are made once it answers.  No write is lost, nothing stalls meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from chainlit.context import context
from chainlit.user import User

from store.database import database_url, prepare
from store.datalayer import DataLayer
from tests.chainlit_harness import open_session


async def _layer(db: Path) -> DataLayer:
    url = database_url(f"sqlite:///{db}") or ""
    await prepare(url)
    open_session()
    context.session.has_first_interaction = True  # Chainlit queues writes until the first message otherwise
    return DataLayer(url, timeout=0.2, retry_delays=(0.05, 0.1))


def _answer(output: str) -> dict[str, Any]:
    return {"id": "a1", "threadId": "t1", "type": "assistant_message", "name": "Assistant", "output": output,
            "metadata": {"answer": "streaming"}}  # fmt: skip


async def test_a_lock_longer_than_the_busy_timeout_is_retried_and_no_checkpoint_is_lost(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    layer = await _layer(db)
    user = await layer.create_user(User(identifier="ann"))
    assert user is not None
    await layer.update_thread("t1", name="a thread", user_id=user.id)
    await layer.create_step(_answer("One"))
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the file
    try:
        await layer.update_step(_answer("One two"))  # waits out the busy timeout, then fails
        assert layer.failure is not None and "history is unavailable" in layer.failure
        tried = layer.statements
        await layer.update_step(_answer("One two three"))  # the next checkpoint: kept, not tried
        question = {"id": "q2", "threadId": "t1", "type": "user_message", "name": "ann", "output": "And?"}
        await layer.create_step(question)  # type: ignore[arg-type]
        await layer.delete_step("gone")
        assert await layer.get_thread("t1") is None  # no history while it fails, at once
        assert layer.statements == tried  # nothing waited on the lock again
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert layer.retry_task is not None
    await asyncio.wait_for(layer.retry_task, 10)  # tried again in the background, and it went through
    assert layer.failure is None
    thread = await layer.get_thread("t1")
    assert thread is not None and thread["name"] == "a thread"
    assert {s["id"]: s["output"] for s in thread["steps"]} == {"a1": "One two three", "q2": "And?"}
    await layer.close()


async def test_it_keeps_trying_while_the_lock_stays_and_says_so_once(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    layer = await _layer(db)
    await layer.update_thread("t1", name="a thread")
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        await layer.create_step(_answer("One"))
        line = layer.failure
        assert line is not None
        while layer.failures < 4:  # the background retry has tried again, more than once
            await asyncio.sleep(0.05)  # waiting for the retry task, which sleeps between attempts
        assert layer.failure == line  # one line, not one per attempt
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert layer.retry_task is not None
    await asyncio.wait_for(layer.retry_task, 10)
    thread = await layer.get_thread("t1")
    assert thread is not None and [s["output"] for s in thread["steps"]] == ["One"]
    await layer.close()
