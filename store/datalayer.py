"""Chainlit's ``SQLAlchemyDataLayer`` on our schema, made safe for SQLite and for a database that fails.

Why SQLAlchemy's layer and not Chainlit's own (``ChainlitDataLayer``): that
one speaks asyncpg only, so it cannot run on the default SQLite file; this one
runs the same queries on SQLite (aiosqlite) and PostgreSQL (asyncpg).

What this subclass adds:

* JSON values (lists, dicts) are bound as JSON text, and read back decoded,
  so SQLite, which has no array type, stores tags and metadata like PostgreSQL.
* A failing database is said once, in one line, then left alone: the chat
  goes on without history (``failure`` holds the line), rather than logging a
  warning per write or stalling every message on a dead server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from store.database import connect_args, describe, reason

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


class DataLayer(SQLAlchemyDataLayer):
    """The data layer the app registers with ``@cl.data_layer``."""

    def __init__(self, url: str) -> None:
        super().__init__(conninfo=url, connect_args=connect_args(url), user_thread_limit=1000)
        self.url = url
        #: The one line said when the database failed; ``None`` while it works.
        self.failure: str | None = None
        #: Statements run, and those that wrote (no rows back), for the benchmark's writes per answer.
        self.statements = 0
        self.writes = 0

    def _fail(self, err: BaseException) -> None:
        if self.failure is None:
            self.failure = f"Conversation history is off: the database {describe(self.url)} failed ({reason(err)})."
            log.error(self.failure)

    async def execute_sql(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:  # type: ignore[override]
        """Run one statement; JSON values go in as text; after a failure, nothing more is tried."""
        if self.failure is not None:
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
