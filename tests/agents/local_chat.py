"""Small helpers the embedded model's tests share: an answer's text, and a conversation one turn on."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator

from agents.providers.base import ChatMessage, Piece
from agents.providers.local import LocalModel, locate_model


def model_with(slots: int) -> Iterator[LocalModel]:
    """A fixture's body: the embedded model with ``slots`` slots, closed afterwards (``yield from model_with(2)``)."""
    model = LocalModel(locate_model(), slots=slots)
    yield model
    model.close()


async def text_of(stream: AsyncGenerator[Piece, None]) -> str:
    """The whole text of an answer's stream."""
    return "".join([p async for p in stream if isinstance(p, str)])


def then(messages: list[ChatMessage], answer: str, question: str) -> list[ChatMessage]:
    """``messages``, the model's ``answer`` to them, and the next ``question``."""
    return [*messages, ChatMessage("assistant", answer), ChatMessage("user", question)]


async def first_text(stream: AsyncGenerator[Piece, None], seen: list[Piece] | None = None) -> str:
    """The first text piece of a stream (every item up to it goes into ``seen``); the stream stays open."""
    async for item in stream:
        if seen is not None:
            seen.append(item)
        if isinstance(item, str) and item:
            return item
    raise AssertionError("the stream ended without text")
