"""Chainlit's ``SQLAlchemyDataLayer`` on our schema, made safe for SQLite and for a database that fails.

Why SQLAlchemy's layer and not Chainlit's own (``ChainlitDataLayer``): that
one speaks asyncpg only, so it cannot run on the default SQLite file; this one
runs the same queries on SQLite (aiosqlite) and PostgreSQL (asyncpg).

What this subclass adds:

* JSON values (lists, dicts) are bound as JSON text, and read back decoded,
  so SQLite, which has no array type, stores tags and metadata like PostgreSQL.
* A failing database (a lock held longer than the busy timeout, a server
  gone) is said once, in one line (``failure`` holds it), and is not asked
  again on every write: the chat goes on at full speed.  The writes it missed
  are kept, the latest per step (a checkpoint overwrites the one before),
  and a background task tries again after 1, 2, 4... up to 15 s.  When a
  write goes through, the kept writes are made in order and ``failure`` is
  cleared ("history is back"), so no answer's text is lost to a passing lock.
  Reads while it fails give nothing (no history), at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from store.database import CONNECT_TIMEOUT_S, describe, reason

log = logging.getLogger("store")
#: Columns (and Chainlit's aliases for them) that hold JSON text.
JSON_FIELDS = frozenset(
    {"metadata", "tags", "generation", "props", "thread_metadata", "thread_tags", "step_metadata", "step_tags"}
    | {"step_generation"}
)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


#: Seconds before each new attempt while the database fails (the last one repeats).
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0)
#: Set inside the background retry: its statements go to the database even while it is marked failing.
_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("retrying", default=False)
#: Set inside a kept write: a write it makes itself (a step's thread) is part of it, not kept on its own.
_in_write: contextvars.ContextVar[bool] = contextvars.ContextVar("in_write", default=False)

Write = Callable[[], Awaitable[Any]]


class DataLayer(SQLAlchemyDataLayer):
    """The data layer the app registers with ``@cl.data_layer``."""

    def __init__(
        self, url: str, *, timeout: float = CONNECT_TIMEOUT_S, retry_delays: Sequence[float] = RETRY_DELAYS_S
    ) -> None:
        # ``timeout``: sqlite3's busy timeout, asyncpg's connect timeout.
        super().__init__(conninfo=url, connect_args={"timeout": timeout}, user_thread_limit=1000)
        self.url = url
        #: The one line said when the database failed; ``None`` while it works.
        self.failure: str | None = None
        #: Statements run, and those that wrote (no rows back), for the benchmark's writes per answer.
        self.statements = 0
        self.writes = 0
        #: Statements that failed, ever.
        self.failures = 0
        self.retry_delays = tuple(retry_delays)
        #: Writes the database missed, the latest per key, in order; made again once it answers.
        self._kept: dict[tuple[Any, ...], Write] = {}
        #: The background retry while the database fails, else ``None``.
        self.retry_task: asyncio.Task[None] | None = None

    def _fail(self, err: BaseException) -> None:
        self.failures += 1
        if self.failure is None:
            self.failure = (
                f"Conversation history is unavailable: the database {describe(self.url)} failed ({reason(err)}). "
                "The chat goes on; what is said now is saved when the database answers again."
            )
            log.error(self.failure)
        if self.retry_task is None or self.retry_task.done():
            self.retry_task = asyncio.get_running_loop().create_task(self._retry(), name="history-retry")

    async def execute_sql(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:  # type: ignore[override]
        """Run one statement; JSON values go in as text; while the database fails, nothing is tried (``None``)."""
        if self.failure is not None and not _retrying.get():
            return None
        bound = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in parameters.items()}
        self.statements += 1
        try:
            async with self.async_session() as session, session.begin():
                result = await session.execute(text(query), bound)
                if result.returns_rows:
                    rows = [{k: _decode(v) if k in JSON_FIELDS else v for k, v in r._mapping.items()} for r in result]
                    return self.clean_result(rows)  # type: ignore[no-any-return]
                self.writes += 1
                return int(result.rowcount)
        except (SQLAlchemyError, OSError, asyncio.TimeoutError) as err:
            self._fail(err)
            return None

    # -- writes that are kept when the database misses them ------------------------------------------

    async def _write(self, key: tuple[Any, ...], write: Write) -> None:
        """Make ``write`` now, or keep it (the latest per ``key``) while the database fails."""
        if _in_write.get() or _retrying.get():
            await write()
            return
        if self.failure is None:
            failures = self.failures
            token = _in_write.set(True)
            try:
                await write()
            finally:
                _in_write.reset(token)
            if self.failures == failures:
                return
        self._kept.pop(key, None)  # the latest goes last: a step's checkpoint replaces the one before
        self._kept[key] = write
        if self.retry_task is None or self.retry_task.done():
            self.retry_task = asyncio.get_running_loop().create_task(self._retry(), name="history-retry")

    async def create_step(self, step_dict: Any) -> None:
        await self._write(("step", step_dict.get("id")), lambda: super(DataLayer, self).create_step(dict(step_dict)))

    async def update_step(self, step_dict: Any) -> None:
        await self.create_step(step_dict)  # Chainlit's update_step is an upsert through create_step

    async def delete_step(self, step_id: str) -> None:
        await self._write(("step", step_id), lambda: super(DataLayer, self).delete_step(step_id))

    async def update_thread(self, thread_id: str, **fields: Any) -> None:  # type: ignore[override]
        key = ("thread", thread_id, *sorted(fields))  # a rename and a settings change are two writes
        await self._write(key, lambda: super(DataLayer, self).update_thread(thread_id, **fields))

    async def _retry(self) -> None:
        """Try again after a pause, longer each time; once the database answers, make the kept writes in order."""
        token = _retrying.set(True)
        try:
            for attempt in itertools.count():
                await asyncio.sleep(self.retry_delays[min(attempt, len(self.retry_delays) - 1)])
                if await self._flush():
                    if self.failure is not None:
                        log.warning("Conversation history is back: the database %s answers again.", describe(self.url))
                    self.failure = None
                    return
        finally:
            _retrying.reset(token)

    async def _flush(self) -> bool:
        """The kept writes, oldest first; ``False`` at the first that fails (it stays kept)."""
        failures = self.failures
        if not await self._writable():
            return False
        while self._kept:
            key, write = next(iter(self._kept.items()))
            await write()
            if self.failures != failures:
                return False
            if self._kept.get(key) is write:  # not replaced by a newer write meanwhile
                del self._kept[key]
        return True

    async def close(self) -> None:
        """Stop trying again (say what is still unsaved), then close the engine."""
        if self.retry_task is not None and not self.retry_task.done():
            self.retry_task.cancel()
            await asyncio.wait({self.retry_task})
            if self._kept:
                log.error("%d writes to the conversation history could not be saved: %s", len(self._kept), self.failure)
        await super().close()

    async def _writable(self) -> bool:
        """A write that is rolled back: does the database take writes again (not locked, not gone)?"""
        probe = 'INSERT INTO feedbacks ("id", "forId", "value") VALUES (:id, :id, 0)'
        try:
            async with self.async_session() as session:
                await session.execute(text(probe), {"id": f"__probe__{uuid.uuid4()}"})
                await session.rollback()
            return True
        except (SQLAlchemyError, OSError, asyncio.TimeoutError) as err:
            self.failures += 1
            log.debug("history still unavailable: %s", reason(err))
            return False
