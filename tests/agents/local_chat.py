"""Small helpers the embedded model's tests share: an answer's text, and a conversation one turn on."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from agents.providers.base import ChatMessage, Piece


async def text_of(stream: AsyncGenerator[Piece, None]) -> str:
    """The whole text of an answer's stream."""
    return "".join([p async for p in stream if isinstance(p, str)])


def then(messages: list[ChatMessage], answer: str, question: str) -> list[ChatMessage]:
    """``messages``, the model's ``answer`` to them, and the next ``question``."""
    return [*messages, ChatMessage("assistant", answer), ChatMessage("user", question)]
