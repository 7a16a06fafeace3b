"""Encode the typed event stream as Server-Sent Events.

One event becomes one SSE frame with its number in the answer (``id: N``,
1, 2, 3...; a client that reconnects sends the last one it got as
``Last-Event-ID``), a name and a single line of JSON data:

    event: delta      data: {"text": "..."}                    new text to append
    event: replace    data: {"text": "...", "reason": "..."}   replace all text shown so far
    event: notice     data: {"kind": "...", "message": "...", "data": {...}}
    event: done       data: {<stats>}                          the answer ended (complete, cancelled, blocked)
    event: error      data: {"message": "...", "kind": "...", "stats": {<stats>}}
    event: selfcheck  data: {"agreement": 0.8, "flagged": false, ...}  after ``done``, when asked for

``json.dumps`` escapes newlines, so a data line can never be split, whatever
the text holds, and a lone surrogate is written as its JSON escape.  ``error``
is also used for a request refused after the stream started (there is none
today: requests are validated before the first byte), and for a server fault
mid-stream: an answer always ends with ``done`` or ``error``.  A request with
``selfcheck`` gets one more event after ``done``, ``selfcheck``, when the check
ends (``chat.selfcheck``); the stream closes after it.
"""

from __future__ import annotations

import json
from typing import Any

from agents.events import Done, Event, Failed, Notice, Replace, SelfChecked, TextDelta

MEDIA_TYPE = "text/event-stream"

#: Headers for every SSE response: no caching, and no proxy buffering (nginx honours X-Accel-Buffering).
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def frame(name: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE frame: ``id: N`` (when given), ``event: NAME`` and one ``data:`` line of compact JSON."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    # A lone surrogate ("\ud800" sent as JSON, echoed back) has no UTF-8 form; it can only sit inside
    # a JSON string here, where backslashreplace writes it as the JSON escape \ud800 it came in as.
    head = "" if event_id is None else f"id: {event_id}\n"
    return f"{head}event: {name}\ndata: {payload}\n\n".encode("utf-8", "backslashreplace")


def comment(text: str = "") -> bytes:
    """An SSE comment line, which clients ignore (used as a keep-alive)."""
    return f": {text}\n\n".encode()


def encode(event: Event, event_id: int | None = None) -> bytes:
    """The SSE frame for one typed event; ``event_id`` is its number in the answer's log."""
    match event:
        case TextDelta(text=text):
            return frame("delta", {"text": text}, event_id)
        case Replace(text=text, reason=reason):
            return frame("replace", {"text": text, "reason": reason}, event_id)
        case Notice(kind=kind, message=message, data=data):
            return frame("notice", {"kind": kind, "message": message, "data": dict(data)}, event_id)
        case Done(stats=stats):
            return frame("done", stats.to_dict(), event_id)
        case Failed(error=error, stats=stats):
            return frame("error", {"message": str(error), "kind": error.kind, "stats": stats.to_dict()}, event_id)
        case SelfChecked():
            return frame("selfcheck", event.to_dict(), event_id)
    raise TypeError(f"not an event: {event!r}")


def parse(body: str) -> list[tuple[str, Any]]:
    """Split an SSE body into ``(event name, decoded JSON data)`` pairs; comments are skipped."""
    out: list[tuple[str, Any]] = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].removeprefix(" "))
        if data:
            out.append((name, json.loads("\n".join(data))))
    return out
