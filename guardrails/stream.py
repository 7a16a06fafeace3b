"""Applying guardrails to a live stream: windows with context, hold-back, stream-first, block.

The anchor is NeMo Guardrails' ``chunk_size``/``context_size``: each check sees
the tail of already-checked text (the *context*, as long as the longest
possible finding) plus the new text, and only new text is acted on.  Each
check's window is bounded, so the total cost grows linearly with the answer.

Where the checked region ends (the *cut*) comes from the guardrails
themselves: ``Guardrail.hold(text)`` says how much of the tail could still grow
into a finding (a half-written word, a phone number still arriving), capped at
``max_match``.  So a finding is never judged before it is complete, and a word
such as "ass" is not judged until we know it is not "assessment".

Release modes:

- ``hold_back`` (default): text reaches the user only once checked; the
  held-back tail is at most the longest possible finding, usually one word.
- ``stream_first``: text is shown at once; when a check finds something in
  text already shown, a ``Replace`` with the corrected full text follows.

On a block, the upstream is closed at once (the provider stops within one
token) and the answer ends with ``Done(outcome="blocked", block=Block(rule,
reason))`` whose text is only what was cleared before the finding.  A
guardrail that raises or times out blocks (fail closed).

``StreamGuard`` is the pure, synchronous state machine (no I/O, easy to test);
``guard_stage`` is the async pipeline stage that runs its checks, off the event
loop for slow guardrails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.events import Block, Done, Event, Failed, Notice, NoticeKind, Replace, Stats, TextDelta
from agents.stats import Clock, StatsRecorder
from guardrails.base import Guardrail, Span, Verdict, redact

Release = Literal["hold_back", "stream_first"]
#: Seconds a check may take before it counts as failed (and blocks).
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Record:
    """One verdict as the UI and the stats show it."""

    rule: str
    action: str
    where: str
    ms: float
    reason: str = ""
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The stats/notice form."""
        return {
            "rule": self.rule, "action": self.action, "where": self.where,
            "ms": round(self.ms, 3), "reason": self.reason, "count": self.count,
        }  # fmt: skip

    def notice(self) -> Notice:
        """The ``Notice`` event for this verdict."""
        verb = {
            "block": "blocked", "redact": "redacted", "warn": "flagged", "flag": "flagged",
            "withhold": "withheld part of", "unchecked": "could not check",
        }.get(self.action, self.action)  # fmt: skip
        what = {"input": "your message", "history": "earlier messages"}.get(self.where, "the answer")
        message = f"Guardrail {self.rule} {verb} {what}: {self.reason}".rstrip(": ")
        return Notice(NoticeKind.GUARDRAIL, message, self.to_dict())


@dataclass(frozen=True, slots=True)
class Checked:
    """One guardrail's verdict on a window and how long it took."""

    guard: str
    verdict: Verdict
    ms: float


def run_checks(guards: Sequence[Guardrail], text: str, clock: Clock = time.perf_counter) -> list[Checked]:
    """Every guardrail's verdict on ``text``; one that raises yields a block verdict (fail closed)."""
    out: list[Checked] = []
    for guard in guards:
        started = clock()
        try:
            verdict = guard.check(text)
        except Exception as err:  # fail closed: a broken guardrail blocks, and says why
            verdict = Verdict.block(guard.name, f"The {guard.name} guardrail failed ({type(err).__name__}: {err}).")
        out.append(Checked(guard.name, verdict, (clock() - started) * 1000))
    return out


async def check_async(
    guards: Sequence[Guardrail], text: str, *, timeout: float = DEFAULT_TIMEOUT, clock: Clock = time.perf_counter
) -> list[Checked]:
    """``run_checks``, in a worker thread if any guardrail is slow; a timeout blocks."""
    if not any(g.slow for g in guards):
        return run_checks(guards, text, clock)
    try:
        return await asyncio.wait_for(asyncio.to_thread(run_checks, guards, text, clock), timeout)
    except TimeoutError:
        names = ", ".join(g.name for g in guards if g.slow)
        verdict = Verdict.block(names, f"The {names} check timed out after {timeout:g} s.")
        return [Checked(names, verdict, timeout * 1000)]


async def warm(guards: Sequence[Guardrail], *, timeout: float = 60.0) -> Verdict:
    """Load what the guardrails need (slow ones off the loop); a failure is a block verdict."""
    for guard in guards:
        try:
            if guard.slow:
                await asyncio.wait_for(asyncio.to_thread(guard.warm), timeout)
            else:
                guard.warm()
        except Exception as err:
            reason = f"The {guard.name} guardrail could not start ({type(err).__name__}: {err})."
            return Verdict.block(guard.name, reason)
    return Verdict.allow()


@dataclass(frozen=True, slots=True)
class Window:
    """Text to check: ``text[:context]`` was checked before; findings in ``text[context:cut]`` are settled."""

    text: str
    context: int
    cut: int
    final: bool


@dataclass(slots=True)
class Step:
    """What one commit produces: events to emit, and a block if there was one."""

    events: list[Event] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    blocked: Record | None = None


class StreamGuard:
    """The pure state machine behind the guardrail stage: feed text, check windows, commit verdicts."""

    def __init__(self, guards: Sequence[Guardrail], release: Release = "hold_back") -> None:
        self.guards = [g for g in guards if "output" in g.where]
        self.release = release
        self.context_size = max((g.max_match for g in self.guards), default=0)
        self._checked: list[str] = []  # shown and cleared
        self._checked_len = 0
        self._context = ""  # the last context_size characters of the cleared text
        self._unchecked = ""  # after the cut: held back, or (stream_first) shown but not cleared
        self.blocked: Record | None = None

    @property
    def text(self) -> str:
        """Everything the user sees right now."""
        shown = "".join(self._checked)
        return shown + self._unchecked if self.release == "stream_first" else shown

    @property
    def shown_length(self) -> int:
        """Length of ``text`` without building it."""
        return self._checked_len + (len(self._unchecked) if self.release == "stream_first" else 0)

    def feed(self, piece: str) -> str:
        """Take new model text; returns what to show at once (``stream_first``), else ``""``."""
        self._unchecked += piece
        return piece if self.release == "stream_first" else ""

    def window(self, final: bool = False) -> Window | None:
        """The next window to check, or ``None`` when nothing new is settled yet."""
        if not self._unchecked:
            return None
        text = self._context + self._unchecked
        hold = 0 if final else max((min(g.hold(text), g.max_match) for g in self.guards), default=0)
        cut = len(text) - hold
        if cut <= len(self._context):
            return None
        return Window(text, len(self._context), cut, final)

    def commit(self, window: Window, results: Sequence[Checked]) -> Step:
        """Act on the verdicts for ``window``: release, redact, replace or block."""
        step = Step()
        ctx, cut = window.context, window.cut
        settled: list[Span] = []
        for result in results:
            verdict = result.verdict
            if verdict.action == "block" and not verdict.spans:  # a failed or timed-out check
                step.blocked = Record(result.guard, "block", "output", result.ms, verdict.reason)
                break
            fresh = [s for s in verdict.spans if s.end > ctx and s.start < cut]
            if not fresh:
                continue
            worst = Verdict.from_spans(result.guard, fresh)
            step.records.append(Record(worst.rule, worst.action, "output", result.ms, worst.reason, len(fresh)))
            if worst.action == "block":
                step.blocked = step.records[-1]
                settled = [s for s in fresh if s.action == "block"]
                break
            settled.extend(fresh)
        if step.blocked is not None:
            self._block(window, settled, step)
            return step
        # A finding that straddles the cut is settled whole.
        cut = max([cut, *(s.end for s in settled if s.replacement is not None)])
        region_raw = window.text[ctx:cut]
        behind = [s for s in settled if s.start < ctx and s.replacement is not None]
        region_spans = [s.shifted(-ctx) for s in settled if s.start >= ctx]
        region = redact(region_raw, region_spans)
        self._unchecked = self._unchecked[cut - ctx :]
        if behind:  # a finding reaching back into text already shown: correct the whole text
            offset = self._checked_len - ctx
            full = redact("".join(self._checked) + region_raw, [s.shifted(offset) for s in settled])
            self._set_checked(full)
            step.events.append(Replace(self.text, _reason(step.records)))
        else:
            self._checked.append(region)
            self._checked_len += len(region)
            self._context = (self._context + region)[-self.context_size :] if self.context_size else ""
            if self.release == "hold_back":
                if region:
                    step.events.append(TextDelta(region, self._checked_len - len(region)))
            elif region != region_raw:
                step.events.append(Replace(self.text, _reason(step.records)))
        step.events.extend(r.notice() for r in step.records)
        return step

    def _block(self, window: Window, spans: Sequence[Span], step: Step) -> None:
        """Keep only cleared text that precedes the finding; correct the screen if more was shown."""
        shown_before = self.shown_length
        first = min((s.start for s in spans), default=window.context)
        keep = "".join(self._checked)
        if first < window.context:  # the finding began in text already shown
            keep = keep[: self._checked_len - (window.context - first)]
        self._set_checked(keep)
        self._unchecked = ""
        assert step.blocked is not None
        self.blocked = step.blocked
        if shown_before != len(keep):
            step.events.append(Replace(keep, _reason([step.blocked])))
        step.events.append(step.blocked.notice())

    def _set_checked(self, text: str) -> None:
        self._checked = [text]
        self._checked_len = len(text)
        self._context = text[-self.context_size :] if self.context_size else ""

    def block(self) -> Block:
        """The typed block that ends the answer (``Done.block``)."""
        assert self.blocked is not None
        return Block(self.blocked.rule, self.blocked.reason)


def _reason(records: Sequence[Record]) -> str:
    return "; ".join(f"{r.rule} {r.action}" for r in records) or "guardrail"


def guard_stage(
    guards: Sequence[Guardrail],
    release: Release = "hold_back",
    *,
    provider: str = "",
    model: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock = time.perf_counter,
) -> Any:
    """A pipeline stage applying ``guards`` to the answer stream.

    ``provider``/``model`` label the stats of an answer blocked before the
    upstream ended: pass the provider's own ``name`` and ``model``.
    """
    active = [g for g in guards if "output" in g.where]

    async def stage(upstream: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        if not active:
            async with aclosing(upstream):
                async for event in upstream:
                    yield event
            return
        sg = StreamGuard(active, release)
        recorder = StatsRecorder(provider, model, clock=clock)
        records: list[Record] = []
        ending: Done | Failed | None = None
        streamed = False  # any delta seen yet

        async def settle(final: bool) -> list[Event]:
            window = sg.window(final)
            if window is None:
                return []
            step = sg.commit(window, await check_async(active, window.text, timeout=timeout, clock=clock))
            records.extend(step.records)
            if step.blocked is not None and step.blocked not in records:
                records.append(step.blocked)
            return step.events

        async with aclosing(upstream):
            started = await warm(active)
            if not started.allowed:
                sg.blocked = Record(started.rule, "block", "output", 0.0, started.reason)
                records.append(sg.blocked)
                yield sg.blocked.notice()
            else:
                async for event in upstream:
                    match event:
                        case TextDelta(text=text):
                            streamed = True
                            recorder.token()
                            offset = sg.shown_length
                            if shown := sg.feed(text):
                                yield TextDelta(shown, offset)
                            for out in await settle(False):
                                yield out
                        case Replace(text=text):
                            # Upstream rewrote its text: check the new text from scratch.  Before any
                            # delta it is text already shown (a continued answer) and is settled whole;
                            # mid-answer (a resume took back a cut-off word) its tail stays held, as any tail.
                            sg = StreamGuard(active, release)
                            sg.feed(text)
                            for out in await settle(not streamed):
                                if not isinstance(out, TextDelta):  # the Replace below carries the text
                                    yield out
                            if sg.blocked is None:
                                yield Replace(sg.text, event.reason)
                        case Done():
                            for out in await settle(True):
                                yield out
                            ending = event
                        case Failed():
                            # The answer broke off: its tail could still have grown into a finding
                            # ("Mail ada.love").  In hold_back it is withheld, never shown unchecked.
                            for out in await settle(release == "stream_first"):
                                yield out
                            ending = event
                        case _:
                            yield event
                    if sg.blocked is not None or ending is not None:
                        break  # leaving the block closes the upstream: the provider stops now
        verdicts = tuple(r.to_dict() for r in records)
        if sg.blocked is not None:
            base = (
                remap_flagged(ending.stats, ending.text, sg.text)
                if ending is not None
                else recorder.snapshot("blocked")
            )
            stats = dataclasses.replace(base, outcome="blocked", verdicts=(*base.verdicts, *verdicts))
            yield Done(sg.text, stats, block=sg.block())
        elif isinstance(ending, Done):
            yield Done(sg.text, _with(remap_flagged(ending.stats, ending.text, sg.text), verdicts))
        elif isinstance(ending, Failed):
            yield Failed(ending.error, sg.text, _with(remap_flagged(ending.stats, ending.text, sg.text), verdicts))

    return stage


def remap_flagged(stats: Stats, before: str, after: str) -> Stats:
    """``stats`` with its flagged spans (of ``before``) moved onto ``after``, the text a redaction left.

    A span keeps the characters that survived around it; one whose text was
    wholly replaced covers the replacement (it is still a part to doubt).
    """
    if not stats.flagged or before == after:
        return stats
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()

    def moved(pos: int, end: bool) -> int:
        for _, i1, i2, j1, j2 in ops:
            if i1 <= pos < i2 or (end and pos == i2):
                return j1 + min(pos - i1, j2 - j1)
        return len(after)

    spans = tuple((moved(s, False), moved(e, True)) for s, e in stats.flagged)
    return dataclasses.replace(stats, flagged=tuple((s, e) for s, e in spans if e > s))


def _with(stats: Stats, verdicts: tuple[Any, ...]) -> Stats:
    return dataclasses.replace(stats, verdicts=(*stats.verdicts, *verdicts)) if verdicts else stats
