"""Wire-format builders for the scripted server: Gemini ``streamGenerateContent`` and OpenAI chat chunks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# -- Gemini (REST, ``:streamGenerateContent?alt=sse``) ----------------------


def gemini_chunk(
    text: str = "",
    *,
    finish_reason: str | None = None,
    block_reason: str | None = None,
    thought: bool = False,
) -> dict[str, Any]:
    """One ``GenerateContentResponse`` chunk; ``block_reason`` makes it a prompt block with no candidates."""
    if block_reason is not None:
        return {
            "promptFeedback": {
                "blockReason": block_reason,
                "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}],
            },
            "modelVersion": "gemini-test",
        }
    candidate: dict[str, Any] = {"index": 0}
    if text:
        part: dict[str, Any] = {"text": text}
        if thought:
            part["thought"] = True
        candidate["content"] = {"role": "model", "parts": [part]}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
        if finish_reason == "SAFETY":
            candidate["safetyRatings"] = [
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}
            ]
    return {"candidates": [candidate], "modelVersion": "gemini-test"}


def gemini_stream(texts: Iterable[str], finish_reason: str = "STOP") -> list[dict[str, Any]]:
    """Chunks for ``texts``; the last one carries ``finish_reason`` (its own chunk, as Gemini often sends it)."""
    chunks = [gemini_chunk(t) for t in texts]
    chunks.append(gemini_chunk(finish_reason=finish_reason))
    return chunks


def gemini_error(
    code: int, status: str, message: str, *, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Google API error body."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def gemini_retry_info(seconds: int) -> dict[str, Any]:
    """A ``google.rpc.RetryInfo`` error detail."""
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds}s"}


# -- OpenAI chat completions ------------------------------------------------


def openai_chunk(
    text: str | None = None, *, finish_reason: str | None = None, role: str | None = None
) -> dict[str, Any]:
    """One ``chat.completion.chunk``."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if text is not None:
        delta["content"] = text
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def openai_stream(texts: Iterable[str], finish_reason: str = "stop") -> list[dict[str, Any]]:
    """A role chunk, one chunk per text, then a chunk with ``finish_reason`` (send with ``done=True``)."""
    chunks = [openai_chunk(t) for t in texts]
    return [openai_chunk(role="assistant"), *chunks, openai_chunk(finish_reason=finish_reason)]


def openai_error(message: str, *, type: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:  # noqa: A002
    """An OpenAI API error body."""
    return {"error": {"message": message, "type": type, "param": None, "code": code}}
