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
    text: str | None = None,
    *,
    finish_reason: str | None = None,
    role: str | None = None,
    logprobs: Iterable[tuple[str, float]] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``logprobs`` as ``(token, logprob)`` pairs, as sent with ``logprobs: true``."""
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
        "choices": [{"index": 0, "delta": delta, "logprobs": _logprobs(logprobs), "finish_reason": finish_reason}],
    }


def _logprobs(pairs: Iterable[tuple[str, float]] | None) -> dict[str, Any] | None:
    """OpenAI's ``choices[].logprobs`` for the tokens ``pairs``, each with itself and two weaker alternatives."""
    if pairs is None:
        return None
    content = []
    for token, logprob in pairs:
        tops = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
        tops += [{"token": f"~{i}", "logprob": logprob - i, "bytes": None} for i in (1, 2)]
        content.append({"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": tops})
    return {"content": content, "refusal": None}


def openai_scored_stream(pieces: Iterable[tuple[str, float]], finish_reason: str = "stop") -> list[dict[str, Any]]:
    """As ``openai_stream``, each text one token with its log-probability (a server asked for ``logprobs``)."""
    chunks = [openai_chunk(t, logprobs=[(t, lp)]) for t, lp in pieces]
    return [openai_chunk(role="assistant"), *chunks, openai_chunk(finish_reason=finish_reason)]


def openai_stream(texts: Iterable[str], finish_reason: str = "stop") -> list[dict[str, Any]]:
    """A role chunk, one chunk per text, then a chunk with ``finish_reason`` (send with ``done=True``)."""
    chunks = [openai_chunk(t) for t in texts]
    return [openai_chunk(role="assistant"), *chunks, openai_chunk(finish_reason=finish_reason)]


def openai_error(message: str, *, type: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:  # noqa: A002
    """An OpenAI API error body."""
    return {"error": {"message": message, "type": type, "param": None, "code": code}}
