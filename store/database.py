"""The conversation database: which one (``DATABASE_URL``), its tables, and a health check at startup.

    DATABASE_URL unset            a SQLite file, ``chat.db`` in the project folder
    DATABASE_URL=sqlite:///PATH   another SQLite file (``sqlite+aiosqlite://`` is implied)
    DATABASE_URL=postgresql://... PostgreSQL through asyncpg (``postgresql+asyncpg://`` is implied)
    DATABASE_URL=off              no persistence: no history, no thread list

The tables are the ones Chainlit's ``SQLAlchemyDataLayer`` reads and writes
(users, threads, steps, elements, feedbacks, with Chainlit's camelCase column
names).  They are declared once here with SQLAlchemy Core and created on first
run (``CREATE TABLE IF NOT EXISTS``), so SQLite and PostgreSQL get the same
schema and no migration command is needed.  JSON values (metadata, tags) are
stored as text in both, so one code path serves both databases.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, Table, Text, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

URL_VAR = "DATABASE_URL"
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT / "chat.db"
OFF = frozenset({"off", "none", "false", "0", "no"})
#: Seconds to wait for a server or a lock before calling the database unusable.
CONNECT_TIMEOUT_S = 5.0

metadata = MetaData()


def _text_columns(*names: str) -> list[Column[str]]:
    return [Column(name, Text) for name in names]


users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    *_text_columns("createdAt", "metadata"),
)
threads = Table(
    "threads",
    metadata,
    Column("id", Text, primary_key=True),
    *_text_columns("createdAt", "name", "userId", "userIdentifier", "tags", "metadata"),
    Index("threads_user", "userId"),
)
steps = Table(
    "steps",
    metadata,
    Column("id", Text, primary_key=True),
    Column("threadId", Text, nullable=False),
    *_text_columns("name", "type", "parentId", "command", "modes", "metadata", "tags", "input", "output"),
    *_text_columns("createdAt", "start", "end", "generation", "showInput", "language", "icon"),
    *[Column(name, Boolean) for name in ("streaming", "waitForAnswer", "isError", "defaultOpen", "autoCollapse")],
    Index("steps_thread", "threadId"),
)
elements = Table(
    "elements",
    metadata,
    Column("id", Text, primary_key=True),
    *_text_columns("threadId", "type", "chainlitKey", "path", "url", "objectKey", "name", "display", "size"),
    *_text_columns("language", "props", "playerConfig", "forId", "mime"),
    Column("page", Integer),
    Column("autoPlay", Boolean),
)
feedbacks = Table(
    "feedbacks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("forId", Text, nullable=False),
    Column("threadId", Text),
    Column("value", Integer, nullable=False),
    Column("comment", Text),
)


class DatabaseError(Exception):
    """The database cannot be used; the message is the one line shown to the user."""


def database_url(raw: str | None = None) -> str | None:
    """The async SQLAlchemy URL to use, or ``None`` when persistence is off; raises ``DatabaseError``."""
    raw = (os.environ.get(URL_VAR, "") if raw is None else raw).strip()
    if raw.lower() in OFF:
        return None
    if not raw:
        return f"sqlite+aiosqlite:///{DEFAULT_FILE}"
    try:
        url = make_url(raw)
    except ArgumentError:
        raise DatabaseError(f"{URL_VAR} is not a database URL: expected sqlite:///PATH or postgresql://...") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise DatabaseError(f"{URL_VAR} names {backend!r}: only SQLite and PostgreSQL are supported.")
    return url.render_as_string(hide_password=False)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def connect_args(url: str) -> dict[str, object]:
    """Driver options: a bounded wait for a lock (SQLite) or a server (PostgreSQL)."""
    return {"timeout": CONNECT_TIMEOUT_S}  # sqlite3's busy timeout; asyncpg's connect timeout


async def prepare(url: str) -> None:
    """Create the tables if missing and prove the database is readable and writable; raises ``DatabaseError``.

    Nothing already stored is changed: the write probe is rolled back.
    """
    engine = create_async_engine(url, connect_args=connect_args(url))
    sqlite = make_url(url).get_backend_name() == "sqlite"
    try:
        if sqlite:
            database = make_url(url).database
            if database and not database.startswith((":memory:", "file:")) and not Path(database).parent.is_dir():
                raise DatabaseError(f"the folder of {database} does not exist")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all, checkfirst=True)
        async with engine.connect() as conn:
            if sqlite:
                check = (await conn.execute(text("PRAGMA quick_check"))).scalar()
                if check != "ok":
                    raise DatabaseError(f"the file is damaged ({check})")
            # A write that is rolled back: proves the database takes writes (not read-only, not locked).
            await conn.execute(
                text('INSERT INTO feedbacks ("id", "forId", "value") VALUES (:id, :id, 0)'), {"id": "__probe__"}
            )
            await conn.rollback()
    except DatabaseError:
        raise
    except (SQLAlchemyError, OSError, asyncio.TimeoutError) as err:
        raise DatabaseError(reason(err)) from None
    finally:
        await engine.dispose()


def prepare_blocking(url: str) -> None:
    """``prepare`` from synchronous code, even inside a running event loop (it runs on its own thread)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-prepare") as pool:
        pool.submit(asyncio.run, prepare(url)).result()


def reason(err: BaseException) -> str:
    """The driver's own words, on one line."""
    original = getattr(err, "orig", None) or err
    words = " ".join(str(original).split()) or type(original).__name__
    return words[:300]
