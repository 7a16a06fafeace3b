"""Parse and validate an API request into a ready-to-run ``Turn``.

Everything that can be wrong with a request is found here, before the first
byte of the response, so a bad request gets a 4xx with one clear line rather
than a stream that starts and then fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.errors import ChatError, ConfigError
from agents.providers.base import ChatMessage
from agents.settings import NUMERIC_FIELDS
from chat.session import ChatSession, Turn
from chat.settings import Settings, coerce

#: Request field -> ``Settings`` attribute.  A field whose attribute does not exist
#: (yet) in this build is refused with a 400 naming it.
FIELDS: Mapping[str, str] = {
    "provider": "provider",
    "model": "model",
    "system": "system_prompt",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "seed": "seed",
    "rate": "echo_rate",
    "buffer": "buffer",
    "guards": "guards",
    "release": "release",
    "fault": "fault",
    "selfcheck": "selfcheck",
}
#: Fields that must be strings (numbers may also come as strings; ``coerce`` parses them).
TEXT_FIELDS = frozenset({"provider", "model", "system", "buffer", "release", "fault"})
ROLES = ("system", "user", "assistant")
DEFAULT_MAX_BODY_BYTES = 1_000_000
#: Longest query string ``GET /api/stream`` takes (414 beyond).  Kept well under the server's own limit:
#: uvicorn (h11) refuses a request head over 16 KiB with a plain-text 400 before the app sees it.
MAX_QUERY_BYTES = 8_192


class RequestError(Exception):
    """A request the API refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class ChatRequest:
    """A validated request: the settings changes, the earlier messages and the prompt."""

    prompt: str
    history: list[ChatMessage] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)


def max_body_bytes() -> int:
    """The body size limit: ``API_MAX_BODY_BYTES`` or 1 MB."""
    raw = os.environ.get("API_MAX_BODY_BYTES", "").strip()
    try:
        return int(raw) if raw else DEFAULT_MAX_BODY_BYTES
    except ValueError:
        return DEFAULT_MAX_BODY_BYTES


def settings_changes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Map request fields onto ``Settings`` attribute names; raises ``RequestError``."""
    known = {f.name for f in dataclasses.fields(Settings)}
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in FIELDS:
            raise RequestError(400, f"Unknown field {name!r}; expected messages or one of: {', '.join(FIELDS)}.")
        attr = FIELDS[name]
        if attr not in known:
            raise RequestError(400, f"The {name!r} option is not supported by this server yet.")
        if value is None:
            continue
        if name in TEXT_FIELDS and not isinstance(value, str):
            raise RequestError(400, f"The {name!r} option must be a string.")
        if name == "guards" and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise RequestError(400, "The 'guards' option must be a string or a list of strings.")
        if isinstance(value, (dict, list)) and name != "guards":
            raise RequestError(400, f"The {name!r} option must be a single value.")
        if attr in NUMERIC_FIELDS and isinstance(value, bool):
            # JSON true is Python's True, which is an int: without this, true would mean 1.
            raise RequestError(400, f"The {name!r} option must be a number, not {json.dumps(value)}.")
        changes[attr] = value
    return changes


def parse_messages(raw: Any) -> tuple[list[ChatMessage], str, str | None]:
    """Validate ``messages``: returns (history, last user text, system prompt or None)."""
    if not isinstance(raw, list) or not raw:
        raise RequestError(400, '\'messages\' must be a non-empty list of {"role", "content"} objects.')
    system: str | None = None
    history: list[ChatMessage] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"role", "content"}:
            raise RequestError(400, f"messages[{index}] must be an object with only 'role' and 'content'.")
        role, content = item.get("role"), item.get("content")
        if role not in ROLES:
            raise RequestError(400, f"messages[{index}].role must be one of {', '.join(ROLES)}.")
        if not isinstance(content, str):
            raise RequestError(400, f"messages[{index}].content must be a string.")
        if role == "system":
            if index != 0:
                raise RequestError(400, "A system message may only come first.")
            system = content
        else:
            history.append(ChatMessage(role, content))
    if not history or history[-1].role != "user":
        raise RequestError(400, "The last message must have role 'user'.")
    return history[:-1], history[-1].content, system


def parse_body(body: bytes) -> ChatRequest:
    """Parse a ``POST /api/chat/stream`` body; raises ``RequestError``."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RequestError(400, f"The body is not valid JSON: {err}.") from None
    except RecursionError:  # the parser recurses once per level: "[[[[..." a million deep
        raise RequestError(400, "The body's JSON is nested too deeply.") from None
    except ValueError as err:  # e.g. an integer of more than 4,300 digits (Python's conversion limit)
        raise RequestError(400, f"The body's JSON has a value that cannot be read: {err}.") from None
    if not isinstance(data, dict):
        raise RequestError(400, "The body must be a JSON object with a 'messages' list.")
    fields = dict(data)
    history, prompt, system = parse_messages(fields.pop("messages", None))
    if system is not None:
        if fields.get("system") is not None:
            raise RequestError(400, "Give the system prompt either as a system message or as 'system', not both.")
        fields["system"] = system
    return ChatRequest(prompt, history, settings_changes(fields))


def parse_query(params: Mapping[str, list[str]]) -> ChatRequest:
    """Parse ``GET /api/stream`` query parameters (``prompt`` plus options); raises ``RequestError``."""
    fields: dict[str, Any] = {}
    prompt: str | None = None
    for name, values in params.items():
        if name in ("token", "stream"):  # the bearer token (EventSource sends no headers); the stream id (web.api)
            continue
        value: Any = values[-1] if len(values) == 1 or name != "guards" else values
        if name == "prompt":
            prompt = values[-1]
        else:
            fields[name] = value
    if prompt is None:
        raise RequestError(400, "The 'prompt' query parameter is required.")
    return ChatRequest(prompt, [], settings_changes(fields))


def open_turn(request: ChatRequest, base: Settings | None = None) -> Turn:
    """Build the session and start the turn; every ``ChatError`` becomes a ``RequestError``."""
    try:
        base = base or Settings.from_env()
    except ConfigError as err:
        raise RequestError(500, f"The server's configuration is invalid: {err}") from None
    try:
        settings = base.replace(**coerce(request.changes))
        session = ChatSession(settings)
        session.adopt(request.history)  # screened by the input guardrails when the turn runs
        return session.start(request.prompt)
    except ChatError as err:  # ConfigError (unknown provider, missing key, bad value) or InputError
        raise RequestError(400, str(err)) from None
