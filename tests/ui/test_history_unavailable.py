"""History that is unavailable for a while (a SQLite lock past the busy timeout), through the Chainlit handlers:
the chat keeps answering, one line says history is unavailable and one that it is back, and nothing said meanwhile
is lost from the thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import chainlit.data
import pytest
from chainlit.config import config
from chainlit.context import context
from chainlit.user import User

import app
from agents.providers.base import ChatMessage
from store.database import database_url, prepare
from store.datalayer import DataLayer
from tests.chainlit_harness import SocketRecorder, open_session
from tests.ui.test_history_ui import say, settle
from ui import history, live_view, persistence


@pytest.fixture
async def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DataLayer]:
    url = database_url(f"sqlite:///{tmp_path / 'chat.db'}") or ""
    await prepare(url)
    found = DataLayer(url, timeout=0.3, retry_delays=(0.1,))
    monkeypatch.setattr(config.code, "data_layer", lambda: found)
    monkeypatch.setattr(chainlit.data, "_data_layer", None)
    monkeypatch.setattr(chainlit.data, "_data_layer_initialized", False)
    monkeypatch.setenv("DEFAULT_PROVIDER", "echo")
    monkeypatch.setattr(live_view, "SETTLE_S", 0.0)
    yield found
    await asyncio.gather(*history._tasks, return_exceptions=True)
    await found.close()


def lines(socket: SocketRecorder, words: str) -> list[str]:
    return [m["output"] for m in socket.messages() if words in str(m.get("output"))]


async def test_a_long_lock_leaves_the_chat_working_says_so_once_and_loses_nothing(
    layer: DataLayer, tmp_path: Path
) -> None:
    socket = open_session()
    context.session.user = await layer.create_user(User(identifier="ann"))
    context.session.has_first_interaction = True
    await app.start()
    app._session().update(echo_rate=0)
    await say("one")
    await settle()
    lock = sqlite3.connect(tmp_path / "chat.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the file past the busy timeout
    try:
        await say("two")
        await say("three")  # (no settle: the background retry runs until the lock goes)
        assert [m.content for m in app._session().history] == ["one", "one", "two", "two", "three", "three"]
        assert len(lines(socket, "history is unavailable")) == 1, socket.messages()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert layer.retry_task is not None
    await asyncio.wait_for(layer.retry_task, 10)
    await say("four")
    await settle()
    assert len(lines(socket, "history is unavailable")) == 1
    assert lines(socket, "history is back") == [persistence.BACK]
    thread = await layer.get_thread(context.session.thread_id)
    assert thread is not None
    said = [(s["type"], s["output"]) for s in thread["steps"] if s["output"] in ("one", "two", "three", "four")]
    assert said == [(kind, word) for word in ("one", "two", "three", "four")
                    for kind in ("user_message", "assistant_message")]  # fmt: skip
    answers = [s for s in thread["steps"] if s["type"] == "assistant_message" and s["output"] in ("two", "three")]
    assert all(s["metadata"]["answer"] == "complete" for s in answers)  # their final state, not a checkpoint
    contexts = [row for s in answers for row in s["metadata"]["context"]]
    assert contexts == [["user", "two"], ["assistant", "two"], ["user", "three"], ["assistant", "three"]]
    assert app._session().history[-1] == ChatMessage("assistant", "four")
