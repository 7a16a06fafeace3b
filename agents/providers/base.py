"""What a model provider is: one async generator of text pieces.

A provider knows nothing of Chainlit, buffering or guardrails.  It streams the
answer to ``messages`` as text pieces and raises the project's own errors
(``agents.errors``), mapped from its SDK's errors at its own boundary.

Besides text, a provider may yield typed items, never text to be sniffed:
``Scored`` is text together with the log-probabilities of the model tokens that
make it (for the hallucination check; a provider that has none yields ``str``),
``Waiting`` while its answer is queued or its prompt is being read (the stall
timer does not run then, and sinks show the place in the queue), and ``Finish``
as its last item when the answer ended for a reason other than a natural stop
(the token limit).  A stream that just returns ended naturally.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
#: Why an answer ended: naturally, at the token limit, or stopped by a content filter.
FinishReason = Literal["stop", "length", "content_filter"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Role
    content: str


class Audience:
    """Whether anyone is watching an answer: the session sets it as viewers come and go, a provider reads it.

    A provider that serves several answers with one model (the embedded one)
    serves watched answers first; an answer still generating after its tab
    closed waits for spare turns.  A plain attribute: reading it from a worker
    thread needs no lock.
    """

    __slots__ = ("watched",)

    def __init__(self, watched: bool = True) -> None:
        self.watched = watched

    def __repr__(self) -> str:
        return f"Audience(watched={self.watched})"


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling parameters; ``None`` means the provider's own default."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    #: Ask for each token's log-probability (the hallucination check): providers that can yield ``Scored``.
    #: Off by default, so a server that rejects the option is never sent it unless the check is on.
    logprobs: bool = False
    #: Who is watching the answer (it changes while the answer runs); ``None``: treated as watched.
    audience: Audience | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Finish:
    """The last item of a stream whose answer did not end naturally (OpenAI ``length``, Gemini ``MAX_TOKENS``)."""

    reason: FinishReason
    #: The answer's length in model tokens when it stopped, if the provider knows it.
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """The answer has not started: it is queued with ``ahead`` answers before it, or (``None``) its prompt is read."""

    #: Answers queued before this one (0: it takes the next free slot); ``None``: not queued.
    ahead: int | None = None


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """How sure the model was of one token it emitted."""

    #: The token's text (may be empty or partial for a token that splits a UTF-8 character).
    text: str
    #: Natural-log probability the model gave this token, before temperature and sampling filters.
    logprob: float
    #: Log-probabilities of the most likely tokens at that step, best first (up to 5; may be empty).
    top: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Scored:
    """A text piece with the log-probabilities of the tokens that make it (one or more)."""

    text: str
    tokens: tuple[TokenLogprob, ...]


#: What a provider stream yields.
Piece = str | Scored | Waiting | Finish


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
    ) -> AsyncGenerator[Piece, None]:
        """Stream the assistant's answer as text pieces (plus any ``Waiting`` / ``Finish`` items).

        ``continue_from`` is answer text the user already has: the provider
        continues after it and must not send it again.  The generator ends by
        returning; failures raise ``agents.errors.ProviderError`` subclasses.
        """
        ...
