"""The running app with a database: each user sees only their own threads; a bad database is one line, not a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from store.database import database_url
from tests.webapp import TOKEN, free_port, running_app
from web import sse

HISTORY_OFF = "Conversation history is off:"


def login(url: str, name: str, password: str) -> httpx.Client:
    """A client logged in through Chainlit's password form (the session cookie is kept)."""
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/login", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for the app: a SQLite file, or the session's throwaway PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chat.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def _seed(url: str) -> None:
    """One thread each for ann and bob, as their chats would have left them."""
    engine = create_async_engine(database_url(url) or "")
    async with engine.begin() as conn:
        rows = (await conn.execute(text("SELECT identifier, id FROM users"))).all()
        ids: dict[str, str] = {str(row[0]): str(row[1]) for row in rows}
        for name in ("ann", "bob"):
            await conn.execute(
                text(
                    """INSERT INTO threads ("id", "createdAt", "name", "userId", "userIdentifier", "metadata")
                       VALUES (:id, '2026-01-01T00:00:00Z', :name, :user, :who, '{}')"""
                ),
                {"id": f"thread-of-{name}", "name": f"chat of {name}", "user": ids[name], "who": name},
            )
    await engine.dispose()


def test_with_password_login_each_user_lists_only_their_own_threads(tmp_path: Path, database: str) -> None:
    env = {
        "DATABASE_URL": database,
        "CHAT_USERS": "ann:pw-of-ann,bob:pw-of-bob",
        "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40,
    }
    with running_app(tmp_path, env=env) as app:
        ann, bob = login(app.url, "ann", "pw-of-ann"), login(app.url, "bob", "pw-of-bob")
        with httpx.Client(base_url=app.url, timeout=30) as stranger:
            assert stranger.post("/login", data={"username": "ann", "password": "pw-of-bob"}).status_code == 401
        asyncio.run(_seed(database))
        page = {"pagination": {"first": 20}, "filter": {}}
        for client, own, other in ((ann, "thread-of-ann", "thread-of-bob"), (bob, "thread-of-bob", "thread-of-ann")):
            listed = client.post("/project/threads", json=page)
            assert listed.status_code == 200, listed.text
            assert [t["id"] for t in listed.json()["data"]] == [own]
            assert client.get(f"/project/thread/{own}").status_code == 200
            assert client.get(f"/project/thread/{other}").status_code in (401, 403)
        ann.close()
        bob.close()


@pytest.mark.parametrize("kind", ["corrupt file", "unreachable server"])
def test_a_bad_database_is_one_line_and_the_app_keeps_working(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "chat.db"
    db.write_bytes(b"not a database at all " * 100)
    before = db.read_bytes()
    url = f"sqlite:///{db}" if kind == "corrupt file" else f"postgresql://chat@127.0.0.1:{free_port()}/chat"
    with running_app(tmp_path, env={"DATABASE_URL": url}) as app:
        with app.client(timeout=30) as client:
            body = {"messages": [{"role": "user", "content": "still answering"}], "rate": 0}
            answered = client.post("/api/chat/stream", json=body)
            assert "".join(d["text"] for n, d in sse.parse(answered.text) if n == "delta") == "still answering"
            assert client.get("/health").status_code == 200
        lines = [line for line in app.log_lines() if HISTORY_OFF in line]
    assert len(lines) == 1, app.log_lines()[-20:]
    assert "Traceback" not in "\n".join(app.log_lines())
    assert db.read_bytes() == before  # nothing stored is touched
    assert TOKEN not in lines[0] and "\n" not in lines[0]
