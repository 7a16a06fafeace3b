"""Checking the user's message before the model is called.

``screen`` runs every input guardrail on the whole message (off the event loop
for slow ones).  Block: the provider is never called, and the turn ends with
``Done(outcome="blocked", block=...)`` and no answer text.  Redact: the model, and the history, see only the
redacted text.  Warn: the message goes as it is, with a verdict notice.

``screen_turn`` also screens earlier messages that came from outside (the
``messages`` of an API request): every one of them reaches the model, so each
is redacted or blocks the turn exactly as the newest message would.
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
    where: str = "input",
) -> Screened:
    """Check ``text`` with the input guardrails; see the module docstring for what each action does.

    ``where`` labels the verdicts: ``"input"`` for the new message, ``"history"`` for an earlier one.
    """
    active = [g for g in guards if "input" in g.where]
    result = Screened(text)
    if not active:
        return result
    started = clock()
    readiness = await warm(active)
    if not readiness.allowed:
        result.records.append(Record(readiness.rule, "block", where, 0.0, readiness.reason))
    else:
        spans: list[Span] = []
        for checked in await check_async(active, text, timeout=timeout, clock=clock):
            verdict = checked.verdict
            if verdict.allowed:
                continue
            result.records.append(
                Record(verdict.rule or checked.guard, verdict.action, where, checked.ms, verdict.reason,
                       max(1, len(verdict.spans)))
            )  # fmt: skip
            spans.extend(verdict.spans)
        result.text = redact(text, spans)
    result.done = _blocked(result.records, provider, model, (clock() - started) * 1000)
    return result


def _blocked(records: Sequence[Record], provider: str, model: str, ms: float) -> Done | None:
    """The ending of a turn whose messages a guardrail blocked, or ``None``."""
    blocking = [r for r in records if r.action == "block"]
    if not blocking:
        return None
    worst = max(blocking, key=lambda r: severity(r.action))
    stats = Stats(
        provider=provider, model=model, outcome="blocked", ttft_ms=None, total_ms=ms, tokens=0,
        tokens_per_s=None, verdicts=tuple(r.to_dict() for r in records),
    )  # fmt: skip
    return Done("", stats, block=Block(worst.rule, worst.reason))


async def screen_turn(
    earlier: Sequence[str],
    text: str,
    guards: Sequence[Guardrail],
    *,
    provider: str = "",
    model: str = "",
    clock: Clock = time.perf_counter,
) -> tuple[list[str], Screened]:
    """Screen the earlier messages ``earlier`` and the new message ``text``.

    Returns the earlier messages as the model may see them (redacted), and one
    ``Screened`` for the turn: the new message's text, every verdict (earlier
    ones first, labelled ``history``), and a blocked ending if any message blocks.
    """
    started = clock()
    kept: list[str] = []
    records: list[Record] = []
    for old in earlier:
        result = await screen(old, guards, provider=provider, model=model, where="history")
        kept.append(result.text)
        records.extend(result.records)
    current = await screen(text, guards, provider=provider, model=model)
    if not records:
        return kept, current
    records = [*_summed(records), *current.records]
    done = _blocked(records, provider, model, (clock() - started) * 1000)
    return kept, Screened(current.text, records, done)


def _summed(records: Sequence[Record]) -> list[Record]:
    """One record per rule and action (counts and times added): a long history gives a few notices, not hundreds."""
    out: dict[tuple[str, str], Record] = {}
    for r in records:
        if (key := (r.rule, r.action)) in out:
            seen = out[key]
            out[key] = dataclasses.replace(seen, ms=seen.ms + r.ms, count=seen.count + r.count)
        else:
            out[key] = r
    return list(out.values())
