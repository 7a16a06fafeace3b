"""The conversation database on SQLite and a real PostgreSQL: tables on first run, threads per user, bad files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from chainlit.context import context
from chainlit.types import Pagination, ThreadFilter
from chainlit.user import User

from store import database
from store.database import DatabaseError, database_url, prepare
from store.datalayer import DataLayer
from tests.chainlit_harness import open_session
from tests.webapp import free_port


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind (PostgreSQL: a new database on the session's throwaway cluster)."""
    if request.param == "sqlite":
        yield database_url(f"sqlite:///{tmp_path / 'chat.db'}") or ""
        return
    yield database_url(request.getfixturevalue("postgres_url")) or ""  # a new database for each test


def test_the_url_names_the_driver_and_off_turns_persistence_off() -> None:
    assert database_url("") == f"sqlite+aiosqlite:///{database.DEFAULT_FILE}"
    assert database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert database_url("postgresql://u:p@127.0.0.1:5/db") == "postgresql+asyncpg://u:p@127.0.0.1:5/db"
    assert database_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert database_url("off") is None and database_url("OFF") is None
    with pytest.raises(DatabaseError, match="only SQLite and PostgreSQL"):
        database_url("mysql://u@h/db")
    with pytest.raises(DatabaseError, match="not a database URL"):
        database_url("not a url")


async def _layer(url: str) -> DataLayer:
    await prepare(url)
    open_session()
    context.session.has_first_interaction = True  # Chainlit queues writes until the first message otherwise
    return DataLayer(url)


async def _thread(layer: DataLayer, identifier: str, thread_id: str, words: str) -> str:
    user = await layer.create_user(User(identifier=identifier, metadata={"provider": "local"}))
    assert user is not None
    await layer.update_thread(thread_id, name=words, user_id=user.id, metadata={"chat_settings": {"temperature": 0.5}})
    step = {"id": f"{thread_id}-u", "threadId": thread_id, "type": "user_message", "name": identifier, "output": words}
    await layer.create_step(step)  # type: ignore[arg-type]
    answer = {
        "id": f"{thread_id}-a", "threadId": thread_id, "type": "assistant_message", "name": "Assistant",
        "output": words.upper(), "metadata": {"answer": "complete"}, "tags": ["x"],
    }  # fmt: skip
    await layer.create_step(answer)  # type: ignore[arg-type]
    return user.id


async def test_tables_are_created_on_first_run_and_survive_a_restart(url: str) -> None:
    layer = await _layer(url)
    await _thread(layer, "ann", "t-ann", "hello there")
    await layer.close()
    again = await _layer(url)  # a restart: prepare runs again on the same database
    thread = await again.get_thread("t-ann")
    await again.close()
    assert thread is not None and thread["name"] == "hello there"
    assert thread["metadata"] == {"chat_settings": {"temperature": 0.5}}  # JSON back as JSON, on both databases
    outputs = [(s["type"], s["output"], s["metadata"]) for s in thread["steps"]]
    assert outputs == [
        ("user_message", "hello there", {}),
        ("assistant_message", "HELLO THERE", {"answer": "complete"}),
    ]
    assert again.failure is None


async def test_each_user_lists_only_their_own_threads(url: str) -> None:
    layer = await _layer(url)
    ann = await _thread(layer, "ann", "t-ann-1", "first of ann")
    await _thread(layer, "ann", "t-ann-2", "second of ann")
    bob = await _thread(layer, "bob", "t-bob-1", "only of bob")
    page = Pagination(first=20)
    ann_threads = await layer.list_threads(page, ThreadFilter(userId=ann))
    bob_threads = await layer.list_threads(page, ThreadFilter(userId=bob))
    assert sorted(t["id"] for t in ann_threads.data) == ["t-ann-1", "t-ann-2"]
    assert [t["id"] for t in bob_threads.data] == ["t-bob-1"]
    assert await layer.get_thread_author("t-bob-1") == "bob"  # Chainlit checks this before a resume
    await layer.close()


async def test_a_database_that_fails_later_is_said_once_and_reads_stay_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chat.db"
    layer = await _layer(database_url(f"sqlite:///{path}") or "")
    await _thread(layer, "ann", "t1", "kept")
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TABLE steps")  # the database breaks under the running app
    step = {"id": "s2", "threadId": "t1", "type": "user_message", "name": "ann", "output": "lost"}
    await layer.create_step(step)  # type: ignore[arg-type]
    await layer.create_step({**step, "id": "s3"})  # type: ignore[arg-type]
    assert layer.failure is not None and layer.failure.startswith("Conversation history is unavailable:")
    assert "steps" in layer.failure and "\n" not in layer.failure
    assert [r.getMessage() for r in caplog.records if r.name == "store"] == [layer.failure]  # said once
    assert await layer.get_thread("t1") is None  # quiet from now on, never an exception
    await layer.close()


# --- bad databases at startup: one clear line, nothing stored is touched ------------------------


async def test_a_corrupt_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    path.write_bytes(b"this is not a database " * 200)
    before = path.read_bytes()
    with pytest.raises(DatabaseError) as caught:
        await prepare(database_url(f"sqlite:///{path}") or "")
    assert "not a database" in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == before


async def test_a_read_only_file_is_refused_and_its_threads_stay(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    await prepare(database_url(f"sqlite:///{path}") or "")
    with sqlite3.connect(path) as raw:
        raw.execute("""INSERT INTO threads ("id", "name") VALUES ('t', 'kept')""")
    with pytest.raises(DatabaseError, match="readonly"):
        await prepare(database_url(f"sqlite:///file:{path}?mode=ro&uri=true") or "")
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT name FROM threads").fetchall() == [("kept",)]


async def test_a_locked_file_is_refused_after_a_bounded_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "CONNECT_TIMEOUT_S", 0.2)
    path = tmp_path / "chat.db"
    await prepare(database_url(f"sqlite:///{path}") or "")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError, match="locked"):
            await prepare(database_url(f"sqlite:///{path}") or "")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_missing_folder_and_an_unreachable_server_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        await prepare(database_url(f"sqlite:///{tmp_path / 'nowhere' / 'chat.db'}") or "")
    with pytest.raises(DatabaseError) as caught:
        await prepare(database_url(f"postgresql://chat@127.0.0.1:{free_port()}/chat") or "")
    assert "\n" not in str(caught.value) and str(caught.value)

