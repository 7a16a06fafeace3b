"""Checking the user's message before the model is called.

``screen`` runs every input guardrail on the whole message (off the event loop
for slow ones).  Block: the provider is never called, and the turn ends with
``Done(outcome="blocked", block=...)`` and no answer text.  Redact: the model, and the history, see only the
redacted text.  Warn: the message goes as it is, with a verdict notice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.events import Block, Done, Event, Failed, Stats
from agents.stats import Clock
from guardrails.base import Guardrail, Span, redact, severity
from guardrails.stream import DEFAULT_TIMEOUT, Record, check_async, warm


@dataclass(slots=True)
class Screened:
    """The outcome of screening one message."""

    text: str
    records: list[Record] = field(default_factory=list)
    #: Set when a guardrail blocked the message: the turn's only ending.
    done: Done | None = None

    @property
    def blocked(self) -> bool:
        """True when the model must not be called."""
        return self.done is not None

    def events(self) -> list[Event]:
        """Verdict notices, then the blocked ending if any."""
        out: list[Event] = [r.notice() for r in self.records]
        if self.done is not None:
            out.append(self.done)
        return out

    def merge(self, event: Event) -> Event:
        """``event`` with the input verdicts added in front of its stats' verdicts (for Done/Failed)."""
        if not self.records or not isinstance(event, Done | Failed):
            return event
        verdicts = (*(r.to_dict() for r in self.records), *event.stats.verdicts)
        return dataclasses.replace(event, stats=dataclasses.replace(event.stats, verdicts=verdicts))


async def screen(
    text: str,
    guards: Sequence[Guardrail],
    *,
    provider: str = "",
    model: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock = time.perf_counter,
) -> Screened:
    """Check ``text`` with the input guardrails; see the module docstring for what each action does."""
    active = [g for g in guards if "input" in g.where]
    result = Screened(text)
    if not active:
        return result
    started = clock()
    readiness = await warm(active)
    if not readiness.allowed:
        result.records.append(Record(readiness.rule, "block", "input", 0.0, readiness.reason))
    else:
        spans: list[Span] = []
        for checked in await check_async(active, text, timeout=timeout, clock=clock):
            verdict = checked.verdict
            if verdict.allowed:
                continue
            result.records.append(
                Record(verdict.rule or checked.guard, verdict.action, "input", checked.ms, verdict.reason,
                       max(1, len(verdict.spans)))
            )  # fmt: skip
            spans.extend(verdict.spans)
        result.text = redact(text, spans)
    blocking = [r for r in result.records if r.action == "block"]
    if blocking:
        worst = max(blocking, key=lambda r: severity(r.action))
        stats = Stats(
            provider=provider, model=model, outcome="blocked", ttft_ms=None,
            total_ms=(clock() - started) * 1000, tokens=0, tokens_per_s=None,
            verdicts=tuple(r.to_dict() for r in result.records),
        )  # fmt: skip
        result.done = Done("", stats, block=Block(worst.rule, worst.reason))
    return result
