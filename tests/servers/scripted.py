"""A scripted loopback HTTP server for provider tests: canned SSE streams, error replies, cuts mid-body.

    with ScriptedServer() as server:
        server.enqueue(Reply.sse([chunk1, chunk2], cut_after=1))
        ... point an SDK at server.url ...
        server.requests[0].body        # the JSON the SDK sent

Each request takes the next queued ``Reply`` (any path; the path is recorded
so tests can check it).  With the queue empty the server answers 500.  It runs
on its own thread, so sync and async tests can both use it.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: How long a gated reply waits for its gate before giving up (a safety net, not a timing).
GATE_LIMIT = 30.0


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an SSE stream (optionally cut or gated) or a plain error body."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    #: SSE ``data:`` payloads, sent one chunk each.
    events: tuple[str, ...] = ()
    #: A non-streaming body (error replies).
    body: bytes | None = None
    #: Close the connection after this many events, halfway through the next chunk.
    cut_after: int | None = None
    #: Before sending event ``gate_at``, wait until ``gate`` is set (to script a stall).
    gate: threading.Event | None = None
    gate_at: int = 0

    @classmethod
    def sse(
        cls,
        payloads: Iterable[object],
        *,
        done: bool = False,
        cut_after: int | None = None,
        gate: threading.Event | None = None,
        gate_at: int = 0,
    ) -> Reply:
        """A 200 ``text/event-stream``; dict payloads become JSON, ``done`` appends OpenAI's ``[DONE]``."""
        events = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
        if done:
            events.append("[DONE]")
        return cls(
            headers=(("Content-Type", "text/event-stream"),),
            events=tuple(events),
            cut_after=cut_after,
            gate=gate,
            gate_at=gate_at,
        )

    @classmethod
    def error(cls, status: int, payload: object, headers: dict[str, str] | None = None) -> Reply:
        """A non-200 JSON reply."""
        extra = tuple((headers or {}).items())
        return cls(status=status, headers=(("Content-Type", "application/json"), *extra),
                   body=json.dumps(payload).encode())


@dataclass(frozen=True)
class RecordedRequest:
    """What the client sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class _Script:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        parts = urlsplit(self.path)
        script = self.server.script
        with script.lock:
            script.requests.append(
                RecordedRequest(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
            )
            reply = script.replies.popleft() if script.replies else Reply.error(500, {"error": "no scripted reply"})
        if reply.body is not None or reply.status != 200:
            self._plain(reply)
        else:
            self._stream(reply)

    def _plain(self, reply: Reply) -> None:
        data = reply.body or b""
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: Reply) -> None:
        self.send_response(200)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        for index, event in enumerate(reply.events):
            if reply.gate is not None and index == reply.gate_at:
                reply.gate.wait(GATE_LIMIT)
            data = f"data: {event}\r\n\r\n".encode()
            if reply.cut_after is not None and index >= reply.cut_after:
                # Announce the whole chunk, send half of it, and drop the connection.
                self.wfile.write(b"%x\r\n" % len(data) + data[: len(data) // 2])
                self.wfile.flush()
                self._drop()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        if reply.cut_after is not None:
            self._drop()  # cut after the last event: no terminating chunk
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = _Script()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early (a test closing its stream) is expected, not a server bug.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ScriptedServer:
    """A loopback HTTP server answering each request with the next scripted ``Reply``."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-http", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._server.script.lock:
            return list(self._server.script.requests)

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._server.script.lock:
            self._server.script.replies.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests."""
        with self._server.script.lock:
            self._server.script.replies.clear()
            self._server.script.requests.clear()

    def start(self) -> ScriptedServer:
        """Serve on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def scripted_server() -> Iterator[ScriptedServer]:
    """Generator body for a pytest fixture: ``fixture(scope=...)(scripted_server)``."""
    with ScriptedServer() as server:
        yield server
