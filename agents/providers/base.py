"""What a model provider is: one async generator of text pieces.

A provider knows nothing of Chainlit, buffering or guardrails.  It streams the
answer to ``messages`` as text pieces and raises the project's own errors
(``agents.errors``), mapped from its SDK's errors at its own boundary.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters; ``None`` means the provider's own default."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


@runtime_checkable
class Provider(Protocol):
    """A model provider.  Test fakes need not inherit from anything."""

    #: Registry name, e.g. ``"local"``.
    name: str
    #: True when ``continue_from`` carries on exactly after the given text (the local model re-enters its
    #: own token state); False when a continuation is a new request that may repeat a little at the seam,
    #: which the runner then trims (``agents.seam``).
    exact_continuation: bool

    @property
    def model(self) -> str:
        """The model name shown to the user."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[str, None]:
        """Stream the assistant's answer as text pieces.

        ``continue_from`` is answer text the user already has: the provider
        continues after it and must not send it again.  The generator ends by
        returning; failures raise ``agents.errors.ProviderError`` subclasses.
        """
        ...
