"""Drive Chainlit handlers without a browser: a real Chainlit context whose socket records events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from chainlit.context import init_ws_context
from chainlit.session import WebsocketSession


@dataclass
class SocketRecorder:
    """Stands in for the websocket: every emitted event lands in ``events``."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    async def emit(self, event: str, data: Any) -> None:
        self.events.append((event, data))

    async def emit_call(self, *args: Any, **kwargs: Any) -> None:
        return None

    def named(self, name: str) -> list[Any]:
        """Payloads of the events called ``name``."""
        return [data for event, data in self.events if event == name]

    def messages(self) -> list[dict[str, Any]]:
        """Every message sent or updated, in order."""
        return [data for event, data in self.events if event in {"new_message", "update_message"}]

    def tokens(self) -> list[str]:
        """Streamed tokens, after the stream's first (which arrives inside stream_start)."""
        return [data["token"] for data in self.named("stream_token")]


def open_session() -> SocketRecorder:
    """Create a websocket session and make it the current Chainlit context."""
    recorder = SocketRecorder()
    session = WebsocketSession(
        id=str(uuid.uuid4()),
        socket_id=str(uuid.uuid4()),
        emit=recorder.emit,
        emit_call=recorder.emit_call,
        user_env={},
        client_type="webapp",
    )
    init_ws_context(session)
    return recorder
