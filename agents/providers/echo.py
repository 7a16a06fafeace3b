"""The echo provider: streams the user's last message back, deterministically.

Tests, demos and benchmarks use it: it makes the stream's content exactly what
the user typed, so a guardrail or a fault can be shown without coaxing a model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from agents.providers.base import ChatMessage, Finish, GenerationParams, Piece
from agents.providers.registry import ProviderSpec, register

# A "token" is a run of whitespace plus up to four non-space characters, so
# words split the way a BPE tokenizer often splits them ("stream", "ing").
_PIECE = re.compile(r"\s*\S{1,4}|\s+")

DEFAULT_RATE = 50.0


def pieces(text: str) -> list[str]:
    """Split ``text`` into token-like pieces whose concatenation is ``text``."""
    return _PIECE.findall(text)


class EchoProvider:
    """Echoes the last user message at ``rate`` tokens/s (0 or less: unlimited)."""

    name = "echo"
    #: The echo knows exactly where it stopped.
    exact_continuation = True

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self._sleep = sleep

    @property
    def model(self) -> str:
        rate = "unlimited" if self.rate <= 0 else f"{self.rate:g} tok/s"
        return f"echo ({rate})"

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[Piece, None]:
        """Yield the last user message piece by piece, after ``continue_from``; ``Finish`` if the limit cut it."""
        text = next((m.content for m in reversed(messages) if m.role == "user"), "")
        cut_off = False
        if params.max_tokens is not None:
            # The limit is the whole answer's, so a continuation ends where an unbroken answer would.
            whole = pieces(text)
            cut_off = len(whole) > params.max_tokens
            text = "".join(whole[: params.max_tokens])
        if continue_from and text.startswith(continue_from):
            # Piece boundaries after the cut may differ; the text does not.
            text = text[len(continue_from) :]
        parts = pieces(text)
        delay = 1.0 / self.rate if self.rate > 0 else 0.0
        for part in parts:
            # Even when unlimited, yield to the loop so other sessions run.
            await self._sleep(delay)
            yield part
        if cut_off:
            yield Finish("length", params.max_tokens)


def _build(model: str | None = None, *, rate: float = DEFAULT_RATE, **_: object) -> EchoProvider:
    return EchoProvider(rate=rate)


register(ProviderSpec("echo", _build, "Echo (repeats your message)", "echo", order=1))
