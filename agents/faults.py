"""Fault injection: make any provider break on cue, for demos and tests.

A ``FaultSpec`` says what breaks and when; its CLI form is::

    off                      no fault
    KIND@N[xCOUNT]           once, when N tokens have been delivered (COUNT times in a row)
    KIND@everyN[xCOUNT]      whenever a multiple of N tokens has been delivered
    KIND@pP[xCOUNT]          before each token with probability P (seeded, so runs repeat)

    KIND is disconnect, stall, rate_limit (429) or server_error (5xx).

Examples: ``disconnect@20``, ``stall@5``, ``rate_limit@0``, ``server_error@10x5``.

A ``FaultInjector`` holds one answer's fault state (the token position and how
often each position has failed) across every attempt and continuation of that
answer, so "fail 5 times at token 10" means five failures in a row at the same
place, however the runner resumes.  ``FaultInjector.wrap(provider)`` returns a
provider that fails as the spec says; ``stall`` hangs until the caller's stall
timer gives up on it.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal, cast

from agents.errors import ConnectionLost, InvalidSetting, ProviderError, RateLimited, ServerError
from agents.providers.base import ChatMessage, GenerationParams, Piece, Provider, Scored

FaultKind = Literal["disconnect", "stall", "rate_limit", "server_error"]
FaultMode = Literal["once", "every", "probability"]
KINDS: tuple[FaultKind, ...] = ("disconnect", "stall", "rate_limit", "server_error")
MODES: tuple[FaultMode, ...] = ("once", "every", "probability")
MAX_COUNT = 100
#: What a simulated 429 asks the client to wait, in seconds.
SIMULATED_RETRY_AFTER = 1.0

_SPEC = re.compile(
    r"(?P<kind>[a-z_]+)@(?:(?P<every>every)(?P<period>\d+)|p(?P<p>\d*\.?\d+)|(?P<at>\d+))(?:x(?P<count>\d+))?"
)
_EXPECTED = "off or KIND@N[xCOUNT], KIND@everyN[xCOUNT] or KIND@pP[xCOUNT], KIND one of " + ", ".join(KINDS)


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """What breaks (``kind``) and when (``mode``, ``at``/``probability``), ``count`` times per place."""

    kind: FaultKind = "disconnect"
    mode: FaultMode = "once"
    #: once: the token position N; every: the period N.
    at: int = 0
    count: int = 1
    probability: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidSetting("fault kind", self.kind, "one of " + ", ".join(KINDS))
        if self.mode not in MODES:
            raise InvalidSetting("fault mode", self.mode, "one of off, " + ", ".join(MODES))
        if self.mode == "every" and self.at < 1:
            raise InvalidSetting("fault period", self.at, "every N tokens with N of at least 1")
        if self.mode == "once" and self.at < 0:
            raise InvalidSetting("fault position", self.at, "a token position of 0 or more")
        if self.mode == "probability" and not (math.isfinite(self.probability) and 0 < self.probability <= 1):
            raise InvalidSetting("fault probability", self.probability, "a probability above 0, at most 1")
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidSetting("fault count", self.count, f"a whole number from 1 to {MAX_COUNT}")

    def __str__(self) -> str:
        where = {"once": f"{self.at}", "every": f"every{self.at}", "probability": f"p{self.probability:g}"}[self.mode]
        return f"{self.kind}@{where}" + (f"x{self.count}" if self.count != 1 else "")

    def describe(self) -> str:
        """A phrase for the UI, e.g. "disconnect once at token 20"."""
        times = "" if self.count == 1 else f", {self.count} times in a row"
        match self.mode:
            case "once":
                return f"{self.kind} once at token {self.at}{times}"
            case "every":
                return f"{self.kind} every {self.at} tokens{times}"
            case _:
                return f"{self.kind} with probability {self.probability:g} per token{times}"


def parse_fault(text: str, *, seed: int = 0) -> FaultSpec | None:
    """Parse the CLI form (see the module docstring); ``None`` for off; raises ``InvalidSetting``."""
    raw = text.strip().lower()
    if raw in {"", "off", "none"}:
        return None
    match = _SPEC.fullmatch(raw)
    if match is None:
        raise InvalidSetting("fault", text, _EXPECTED)
    kind = match["kind"]
    if kind not in KINDS:
        raise InvalidSetting("fault", text, "a kind among " + ", ".join(KINDS))
    count = int(match["count"]) if match["count"] is not None else 1
    spec_kind = cast(FaultKind, kind)
    if match["every"]:
        return FaultSpec(spec_kind, "every", at=int(match["period"]), count=count, seed=seed)
    if match["p"] is not None:
        return FaultSpec(spec_kind, "probability", probability=float(match["p"]), count=count, seed=seed)
    return FaultSpec(spec_kind, "once", at=int(match["at"]), count=count, seed=seed)


class FaultInjector:
    """One answer's fault state; wrap providers with ``wrap``."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        #: Tokens delivered so far in this answer, across attempts.
        self.position = 0
        #: How many failures were injected, in total.
        self.injected = 0
        self._fired: dict[int, int] = {}
        self._drawn: dict[int, bool] = {}
        self._rng = random.Random(spec.seed)

    def due(self) -> bool:
        """Whether the next read at the current position should fail (and count it if so)."""
        spec, pos = self.spec, self.position
        match spec.mode:
            case "once":
                hit = pos == spec.at
            case "every":
                hit = pos > 0 and pos % spec.at == 0
            case _:
                if pos not in self._drawn:
                    self._drawn[pos] = self._rng.random() < spec.probability
                hit = self._drawn[pos]
        if not hit or self._fired.get(pos, 0) >= spec.count:
            return False
        self._fired[pos] = self._fired.get(pos, 0) + 1
        self.injected += 1
        return True

    def error(self, provider: str, partial: str) -> ProviderError:
        """The error this spec simulates at the current position."""
        where = f"after {self.position} tokens"
        match self.spec.kind:
            case "rate_limit":
                return RateLimited(
                    f"Simulated 429 Too Many Requests {where}.",
                    provider=provider,
                    partial=partial,
                    retry_after=SIMULATED_RETRY_AFTER,
                )
            case "server_error":
                return ServerError(
                    f"Simulated 503 Service Unavailable {where}.", provider=provider, partial=partial, status=503
                )
            case _:
                return ConnectionLost(f"Simulated disconnect {where}.", provider=provider, partial=partial)

    def wrap(self, provider: Provider) -> FaultyProvider:
        """``provider``, failing as the spec says."""
        return FaultyProvider(provider, self)


class FaultyProvider:
    """Any provider, breaking where its ``FaultInjector`` says; otherwise passes everything through."""

    def __init__(self, inner: Provider, injector: FaultInjector) -> None:
        self.inner = inner
        self.injector = injector
        self.name = inner.name
        self.exact_continuation: bool = inner.exact_continuation

    @property
    def model(self) -> str:
        return self.inner.model

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[Piece, None]:
        """The inner provider's pieces, with the injected failure before the due one."""
        injector = self.injector
        delivered: list[str] = []
        async with aclosing(self.inner.stream(messages, params, continue_from=continue_from)) as stream:
            while True:
                if injector.due():
                    if injector.spec.kind == "stall":
                        await asyncio.Event().wait()  # hangs until the stall timer cancels the read
                    raise injector.error(self.name, "".join(delivered))
                try:
                    piece = await anext(stream)
                except StopAsyncIteration:
                    return
                text = piece.text if isinstance(piece, Scored) else piece
                if not isinstance(text, str):  # Waiting / Finish: not a token, passed through as it is
                    yield piece
                    continue
                if text:
                    injector.position += 1
                    delivered.append(text)
                yield piece
