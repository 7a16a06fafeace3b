"""Typed events: the one stream every sink (Chainlit UI, CLI, SSE) consumes.

A stream is a sequence of ``TextDelta``/``Replace``/``Notice`` events that ends
with exactly one ``Done`` or ``Failed``.  Sinks dispatch with ``match``; no
sink ever sniffs text for errors.

The end of an answer is typed: ``Done.text``/``Failed.text`` hold only the
answer the user was shown, which is also all that enters the model's context.
Why it ended is in ``Stats.outcome``, and a guardrail block is ``Done.block``
(rule, reason); each sink renders the "[Blocked by guardrail: RULE] reason"
line itself with ``Block.line()``, so nothing ever parses it back out of text.

Why no ``snapshot`` on every delta: building the full text for each token is
quadratic in the answer's length (a 20k-token answer would copy ~1 GB).  A
delta carries its ``offset`` instead, and ``Done``/``Failed`` carry the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

from agents.errors import ChatError
from agents.providers.base import FinishReason, TokenLogprob

Outcome = Literal["complete", "cancelled", "error", "blocked", "interrupted"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Figures for one answer."""

    provider: str
    model: str
    outcome: Outcome
    ttft_ms: float | None
    total_ms: float
    tokens: int
    tokens_per_s: float | None
    chunks: int = 0
    retries: int = 0
    resumes: tuple[int, ...] = ()
    verdicts: tuple[Mapping[str, Any], ...] = ()
    #: Why the answer ended, when it did end (``None``: cancelled, failed, blocked).
    finish_reason: FinishReason | None = None
    #: With ``finish_reason == "length"``: the answer's length in tokens where the limit cut it.
    cut_off_at: int | None = None
    #: How sure the model was of the answer shown, in [0, 1] (``agents.confidence``); ``None``: the provider
    #: reported no log-probabilities, so the answer cannot be checked.
    confidence: float | None = None
    #: ``(start, end)`` character spans of ``Done.text`` whose confidence is below the threshold.
    flagged: tuple[tuple[int, int], ...] = ()

    @property
    def cut_off(self) -> bool:
        """The token limit stopped the answer: it is not complete, and Continue can carry it on."""
        return self.finish_reason == "length"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        data = asdict(self)
        data["resumes"] = list(self.resumes)
        data["verdicts"] = [dict(v) for v in self.verdicts]
        data["flagged"] = [list(span) for span in self.flagged]
        return data

    def summary(self) -> str:
        """The compact one-line form shown under an answer."""
        ttft = "-" if self.ttft_ms is None else f"{self.ttft_ms:,.0f} ms"
        rate = "-" if self.tokens_per_s is None else f"{self.tokens_per_s:,.1f}"
        parts = [f"TTFT {ttft}", f"{self.tokens:,} tokens", f"{rate} tok/s", f"{self.total_ms / 1000:,.2f} s"]
        if self.retries:
            parts.append(f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}")
        if self.cut_off:
            parts.append(cut_off_message(self.cut_off_at))
        elif self.finish_reason == "content_filter":
            parts.append("stopped by a content filter")
        if self.outcome != "complete":
            parts.append(self.outcome)
        if self.confidence is not None:
            flagged = len(self.flagged)
            low = f", {flagged} low-confidence sentence{'' if flagged == 1 else 's'}" if flagged else ""
            parts.append(f"confidence {self.confidence:.2f}{low}")
        return " · ".join(parts) + f" · {self.provider}/{self.model}"


def cut_off_message(tokens: int | None) -> str:
    """The words every sink shows under an answer the token limit stopped."""
    if tokens is None:
        return "cut off at the token limit"
    return f"cut off at {tokens:,} token{'' if tokens == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New text to append to what is on screen."""

    text: str
    #: Length of the visible text before this delta.
    offset: int = 0
    #: The log-probabilities of the tokens that spell ``text`` (the hallucination check reads them
    #: mid-stream); ``None``: the provider gave none.  Only the runner's deltas carry them.
    tokens: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace everything shown so far (a guardrail redacted already-shown text)."""

    text: str
    reason: str = ""
    #: The log-probabilities of the tokens spelling ``text``, when the runner knows them (else ``None``).
    tokens: tuple[TokenLogprob, ...] | None = None


class NoticeKind(StrEnum):
    """What a ``Notice`` is about; the values are the wire names (SSE ``notice.kind``)."""

    RETRYING = "retrying"  # the stream broke; the runner waits, then resumes
    RESUMED = "resumed"  # text flows again after a break
    GAVE_UP = "gave_up"  # the retry budget ran out; the partial answer stays
    GUARDRAIL = "guardrail"  # a guardrail verdict (block, redact or warn) on the message or the answer
    WAITING = "waiting"  # queued for the model: "waiting for the model (N ahead)" or "(next in line)"
    CUT_OFF = "cut_off"  # the token limit stopped the answer; Continue carries it on


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should see besides the answer: a retry, a resume, a verdict."""

    kind: NoticeKind
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Block:
    """Why a guardrail stopped the message or the answer."""

    rule: str
    reason: str = ""

    def line(self) -> str:
        """The line every sink shows after the cleared text."""
        return f"[Blocked by guardrail: {self.rule}] {self.reason}".rstrip()

    def to_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"rule": self.rule, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Done:
    """The stream ended normally (complete, cancelled or blocked).

    ``text`` is the answer as shown (for a block: the text cleared before it),
    never a notice or a block line; ``block`` says which guardrail stopped it.
    """

    text: str
    stats: Stats
    block: Block | None = None

    def shown(self) -> str:
        """What a sink shows as the final message: the answer, then the block line if blocked."""
        if self.block is None:
            return self.text
        text = self.text.rstrip()
        return f"{text}\n\n{self.block.line()}" if text else self.block.line()


@dataclass(frozen=True, slots=True)
class Failed:
    """The stream ended on an error; ``text`` is the partial answer that stays on screen."""

    error: ChatError
    text: str
    stats: Stats


@dataclass(frozen=True, slots=True)
class SelfChecked:
    """The optional self-check of an answer (``agents.selfcheck``), sent after its ``Done``, off the stream.

    ``agreement`` is ``None`` when the check could not run (``error`` says why):
    such an answer is unchecked and counts as flagged, never as a pass.
    """

    agreement: float | None
    flagged: bool
    threshold: float
    #: Samples asked for.
    samples: int
    #: Requests made to the provider (every sample's, a failed one's too).
    requests: int
    #: Tokens the samples cost, when the provider reports them; else ``None``.
    tokens: int | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the SSE ``selfcheck`` event, the CLI's ``--stats``)."""
        return asdict(self)

    def line(self) -> str:
        """One line for a reader: agreement and verdict, then the cost."""
        tokens = "tokens not reported" if self.tokens is None else f"{self.tokens} tokens"
        plural = "request" if self.requests == 1 else "requests"
        cost = f"{self.requests} {plural}, {tokens}"
        if self.agreement is None:
            return f"self-check failed: {self.error}; the answer is unchecked ({cost})"
        verdict = f"flagged: below {self.threshold:g}" if self.flagged else "not flagged"
        return f"self-check: agreement {self.agreement:.2f} over {self.samples} samples, {verdict} ({cost})"


#: A stream's events; ``SelfChecked`` only ever follows an answer's ``Done``, in a log that asked for it.
Event = TextDelta | Replace | Notice | Done | Failed | SelfChecked
