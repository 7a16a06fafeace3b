"""What a new chat shows first, and warming its provider (the embedded model's weights)."""

from __future__ import annotations

import asyncio
import logging

from agents.errors import ChatError
from agents.providers import registry
from chat.session import ChatSession
from ui.markdown import escape

log = logging.getLogger(__name__)
_background: set[asyncio.Task[None]] = set()


def greeting(session: ChatSession) -> str:
    """The welcome line: which provider and model answer."""
    s = session.settings
    try:
        model = session.provider().model
    except ChatError as err:
        return escape(f"Hi! The {s.provider} provider is not ready: {err}")
    label = registry.get(s.provider).label
    return escape(
        f"Hi! Answers come from **{label}**, model `{model}`, streamed token by token. "
        "Change provider, model and sampling in the settings panel; press Stop to halt an answer."
    )


def preload(session: ChatSession) -> None:
    """Get the chat's provider ready in the background (its ``ProviderSpec.warm``), so the first answer starts fast."""
    warm = registry.get(session.settings.provider).warm
    if warm is None:
        return
    try:
        provider = session.provider()
    except ChatError:  # a missing key: the greeting and the first message say so
        return

    async def load() -> None:
        try:
            await warm(provider)
        except Exception:  # the first message will show the error in one line
            log.exception("preloading the %s provider failed", session.settings.provider)

    task = asyncio.create_task(load())
    _background.add(task)
    task.add_done_callback(_background.discard)
