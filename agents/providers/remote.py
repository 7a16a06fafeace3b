"""Pieces shared by the providers that call a model over HTTP (OpenAI, Gemini).

Both map an HTTP status to the project's error split the same way, parse
Retry-After the same way, build the same continuation request, and share one
SDK client per configuration and event loop (a client's connection pool belongs
to the loop that opened it; the CLI runs a fresh loop per prompt).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import re
import time
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from agents.errors import (
    AuthError,
    BadRequest,
    ConfigError,
    ConnectionLost,
    ContentBlocked,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
)
from agents.providers.base import ChatMessage, Finish

#: The user turn appended after the partial answer when asking a remote model to go on.
CONTINUE_INSTRUCTION = (
    "Your previous answer was cut off. Continue it exactly where it stopped: do not repeat "
    "anything already written, do not restart or summarise, and do not comment on the interruption. "
    "Start with the very next characters."
)

#: Server messages are shown to the user; keep them to one readable line.
_MAX_DETAIL = 200
#: The loggers of the HTTP clients under the SDKs: each logs every request's full URL at INFO.
HTTP_CLIENT_LOGGERS = ("httpx", "httpx2")
#: ``user:password@`` (or a lone token) between a URL's scheme and its host.
_URL_USERINFO = re.compile(r"(?<=://)[^/?#@\s]+@")

T = TypeVar("T")


def checked_base_url(url: str | None, var: str) -> str | None:
    """``url`` if it is a usable http(s) URL, else a ``ConfigError`` naming ``var``.

    The message never repeats the URL: it may hold a password.
    """
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        usable = parts.scheme in {"http", "https"} and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        usable = False
    if not usable:
        raise ConfigError(f"{var} is not a valid http(s) URL (for example http://127.0.0.1:8080/v1).")
    return url


def continuation_messages(messages: Sequence[ChatMessage], partial: str) -> list[ChatMessage]:
    """``messages`` plus the partial answer and an instruction to continue it (unchanged if no partial)."""
    if not partial:
        return list(messages)
    return [*messages, ChatMessage("assistant", partial), ChatMessage("user", CONTINUE_INSTRUCTION)]


def parse_retry_after(headers: Mapping[str, str] | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date); ``None`` if absent."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    raw_ms = lower.get("retry-after-ms")
    if raw_ms:
        try:
            ms = float(raw_ms)
        except ValueError:
            pass
        else:
            if math.isfinite(ms) and ms >= 0:
                return ms / 1000.0
    raw = lower.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        return max(0.0, when.timestamp() - now())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every secret replaced, squeezed to one short line."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    line = " ".join(text.split())
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."


class MaskUrlCredentials(logging.Filter):
    """Rewrites a log record so that no URL in it shows its ``user:password@`` part.

    A base URL such as ``http://user:pass@host/v1`` reaches the HTTP client
    as is, and the client logs ``HTTP Request: POST http://user:pass@host/...``
    for every request (Chainlit logs INFO to stdout).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _URL_USERINFO.sub("[credentials]@", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_url_credentials_in_logs() -> None:
    """Install ``MaskUrlCredentials`` on the HTTP clients' loggers (idempotent)."""
    for name in HTTP_CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskUrlCredentials) for f in logger.filters):
            logger.addFilter(MaskUrlCredentials())


def error_for_status(
    status: int,
    detail: str,
    *,
    provider: str,
    label: str,
    model: str,
    key_hint: str,
    partial: str = "",
    retry_after: float | None = None,
) -> ProviderError:
    """The project error for an HTTP ``status`` answered by ``label`` (e.g. "OpenAI").

    ``detail`` is the server's own message, already redacted; it is left out of
    auth errors, whose bodies may echo (part of) the key.
    """
    suffix = f": {detail}" if detail else "."
    if status in (401, 403):
        message = f"{label} rejected the API key ({status}): check {key_hint}."
        return AuthError(message, provider=provider, partial=partial)
    if status == 404:
        return ModelNotFound(
            f"{label} does not know the model {model!r} (404){suffix}", provider=provider, partial=partial
        )
    if status == 408:
        return ProviderTimeout(f"{label} timed out (408){suffix}", provider=provider, partial=partial)
    if status == 429:
        wait = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        return RateLimited(
            f"{label} is rate limiting requests (429){wait}{suffix}",
            provider=provider,
            partial=partial,
            retry_after=retry_after,
        )
    if status == 409 or status >= 500:
        return ServerError(f"{label} had a server error ({status}){suffix}", provider=provider, partial=partial,
                           status=status)
    return BadRequest(f"{label} rejected the request ({status}){suffix}", provider=provider, partial=partial)


class PerLoop(Generic[T]):
    """One lazily built SDK client per running event loop, closed when that loop shuts down.

    A client's connection pool belongs to the loop that opened it (the CLI runs
    a fresh loop per prompt; Chainlit keeps one).  Closing rides on the loop's
    own shutdown: each client is paired with a parked async generator, and
    ``loop.shutdown_asyncgens()`` (run by ``asyncio.run`` and ``asyncio.Runner``
    before the loop closes) finalizes it, which closes the client inside the loop.
    """

    def __init__(self, build: Callable[[], T], close: Callable[[T], Awaitable[object]]) -> None:
        self._build = build
        self._close = close
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> T:
        """The client for the running loop, built on first use."""
        loop = asyncio.get_running_loop()
        entry = self._items.get(loop)
        if entry is None:
            item = self._build()
            keeper = self._keep(item)
            await anext(keeper)  # parked at its yield; the loop now tracks it
            self._items[loop] = entry = (item, keeper)
        return entry[0]

    async def aclose(self) -> None:
        """Close the running loop's client now (a later ``get`` builds a new one)."""
        entry = self._items.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry[1].aclose()

    def close_soon(self) -> None:
        """Close every loop's client in a task of its own on that loop (callable where nothing can be awaited)."""
        for loop, (_, keeper) in list(self._items.items()):
            if not loop.is_closed():
                loop.call_soon_threadsafe(_close_in_task, loop, keeper)
        self._items.clear()

    async def _keep(self, item: T) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self._close(item)


#: Client pools shared by every provider built with the same configuration; see ``shared``.
_SHARED: dict[Hashable, PerLoop[Any]] = {}


def shared(key: Hashable, build: Callable[[], T], close: Callable[[T], Awaitable[object]]) -> PerLoop[T]:
    """The client pool for configuration ``key`` (e.g. provider, key, base URL), made on first use.

    A provider is built per session and per API request; an SDK client owns a
    connection pool and an SSL context.  A client per provider meant a new pool
    and new connections per answer, and a client left to the garbage collector,
    which closed it in whatever task happened to be running (anyio then fails
    that task's stream).  Shared pools live as long as the process: a client is
    closed only by ``aclose_shared`` (app shutdown) or when its loop shuts down.
    ``build`` should capture the configuration, not a provider.
    """
    pool = _SHARED.get(key)
    if pool is None:
        pool = _SHARED[key] = PerLoop(build, close)
    return pool


#: How many live providers use each ``shared_while_used`` configuration.
_USERS: dict[Hashable, int] = {}
#: Closing tasks started by ``close_soon``, kept until done (the loop keeps only weak references).
_CLOSING: set[asyncio.Task[None]] = set()


def shared_while_used(
    owner: object, key: Hashable, build: Callable[[], T], close: Callable[[T], Awaitable[object]]
) -> PerLoop[T]:
    """``shared`` for a configuration holding a user's key: it leaves the pool, closed, once no provider uses it.

    ``owner`` is the provider; the pool goes when it and every other provider
    built with the same configuration have been dropped.

    A process-wide pool entry lives as long as the process: with a key a user
    entered, that kept the key in memory after the chat dropped it, and one
    more client for every key a user tried.
    """
    pool = shared(key, build, close)
    _USERS[key] = _USERS.get(key, 0) + 1
    weakref.finalize(owner, _release, key)
    return pool


def _release(key: Hashable) -> None:
    count = _USERS.get(key, 0) - 1
    if count > 0:
        _USERS[key] = count
        return
    _USERS.pop(key, None)
    pool = _SHARED.pop(key, None)
    if pool is not None:
        pool.close_soon()


def _close_in_task(loop: asyncio.AbstractEventLoop, keeper: AsyncGenerator[None, None]) -> None:
    task = loop.create_task(keeper.aclose())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


async def aclose_shared() -> None:
    """Close every shared client of the running loop (at app shutdown); a later answer builds a new one."""
    for pool in list(_SHARED.values()):
        await pool.aclose()


class StreamState:
    """What a remote answer has streamed so far, and how it ended: the part OpenAI and Gemini share.

    The provider feeds it as its SDK's chunks arrive; it keeps the partial text
    every error must carry, and after the stream closes it tells a finished
    answer (``None``), one cut by the token limit (``Finish("length")``) and one
    whose stream just stopped (``ConnectionLost``: a clean close without a
    finish reason is a cut answer, not a complete one).
    """

    def __init__(self, provider: str, label: str) -> None:
        self.provider = provider
        self.label = label
        self.sent: list[str] = []
        #: Chunks received from the SDK (text or not).
        self.chunks = 0
        self.finished = False
        self.cut_off = False

    @property
    def partial(self) -> str:
        """The text streamed so far."""
        return "".join(self.sent)

    def deliver(self, text: str) -> str:
        """Record ``text`` as streamed, and hand it back to be yielded."""
        self.sent.append(text)
        return text

    def end(self, *, cut_off: bool = False) -> None:
        """The server said the answer is over (``cut_off``: by the token limit)."""
        self.finished = True
        self.cut_off = self.cut_off or cut_off

    def blocked(self, message: str) -> ContentBlocked:
        """The provider's own filter stopped the answer; the text so far is kept."""
        kept = "; the text so far is kept." if self.sent else "."
        return ContentBlocked(f"{message}{kept}", provider=self.provider, partial=self.partial)

    def malformed(self, detail: str = "") -> ServerError:
        """A 200 whose body is not a chat stream (a proxy's page): retryable, like a 5xx."""
        what = f" ({detail})" if detail else ""
        return ServerError(f"{self.label} sent a malformed stream{what}.", provider=self.provider, partial=self.partial)

    def ending(self) -> Finish | None:
        """After the stream closed: ``Finish("length")``, ``None`` for a natural end; raises ``ConnectionLost``."""
        if self.cut_off:
            return Finish("length")
        if not self.finished:
            message = f"The {self.label} stream ended before the answer finished."
            raise ConnectionLost(message, provider=self.provider, partial=self.partial)
        return None
