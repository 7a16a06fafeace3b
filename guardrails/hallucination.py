"""The hallucination check: the model's own token log-probabilities say which parts of an answer to doubt.

Unlike the text guardrails it judges no text: the runner hands each delta's
token log-probabilities on (``TextDelta.tokens``), and ``confidence_stage``
scores them with ``agents.confidence`` (the answer, and each sentence), at no
extra request.  ``hallucination=ACTION[:THRESHOLD]`` turns it on:

- ``flag``: the answer streams as usual, byte for byte; its stats carry the
  confidence and the ``flagged`` character spans of sentences below the
  threshold, which sinks mark without touching the text.
- ``block``: in ``hold_back`` release each sentence is held until it is
  complete and scored; one below the threshold never reaches the user and a
  notice says so (the rest of the answer goes on).  A run of ``MAX_HELD``
  characters with no sentence end (a line of code) is judged as one piece at
  its last whitespace, so nothing is held, or re-split, without bound.  In ``stream_first`` text is
  shown before a sentence can be scored, so ``block`` only flags, and its
  verdict says that.

A provider that reports no log-probabilities (echo, a server that refused
them) cannot be checked: a verdict says "cannot be checked with this provider"
on every such answer, never a silent pass.  The check is cheap (arithmetic on
numbers the model already computed), so it runs on the event loop.

The stats it leaves are those of the text shown: ``confidence`` of the shown
tokens (in ``block``, withheld sentences are not part of it) and ``flagged``
spans of ``Done.text`` (a later redaction moves them: ``stream.remap_flagged``).

Self-check hook (issue 18, item 4): an engine function that samples more
answers and measures their agreement (``agents/selfcheck.py``, not on this
branch yet) would run in ``confidence_stage`` once ``Done`` arrives, off the
streaming path, and add its verdict and cost to the stats; an option such as
``hallucination=flag:0.5`` would grow a ``selfcheck`` count for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences
from agents.events import Done, Event, Failed, Notice, Replace, TextDelta
from agents.providers.base import TokenLogprob
from agents.stats import Clock
from agents.tokentrail import head_tokens, tail_tokens
from guardrails.base import Action, GuardSpec, Verdict, register
from guardrails.stream import Record, Release

NAME = "hallucination"
#: The words every sink shows when the provider gives no log-probabilities.
UNCHECKED = "cannot be checked with this provider"
#: A sentence may be complete once the text holds one of these (the scorer decides where sentences end).
_ENDINGS = frozenset(".!?\n。！？…")
#: ``block`` judges a run this long with no sentence end (a code block) at its last whitespace, as one piece:
#: the held text, and pysbd's work on it per delta, stay bounded (as ``SentenceStrategy.max_chars``).
MAX_HELD = 1_000


class HallucinationGuardrail:
    """The hallucination check's settings; ``confidence_stage`` applies it to an answer's stream."""

    name = NAME
    where = frozenset({"output"})
    max_match = 0
    slow = False

    def __init__(self, action: Action = "flag", threshold: float | None = None) -> None:
        self.action: Action = action
        #: Below this confidence a sentence is flagged (``flag``) or withheld (``block``).
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold

    def warm(self) -> None:
        """Nothing to load."""

    def check(self, text: str) -> Verdict:
        """Text alone says nothing here: the stage judges the token log-probabilities."""
        return Verdict.allow()

    def hold(self, text: str) -> int:
        """Nothing for the text windows to hold (the stage holds whole sentences itself)."""
        return 0


def unchecked_reason(provider: str) -> str:
    """Why an answer has no confidence: the words every sink shows."""
    who = f" ({provider} reports no token log-probabilities)" if provider else ""
    return f"the answer {UNCHECKED}{who}"


class _Judge:
    """One answer's state: what was shown, its tokens, and (``withhold``) the sentence being held."""

    def __init__(self, guard: HallucinationGuardrail, withhold: bool, clock: Clock) -> None:
        self.guard = guard
        self.withhold = withhold
        self.clock = clock
        self.shown: list[str] = []
        self.shown_len = 0
        self.tokens: list[TokenLogprob] = []
        self.scored = True
        self.streamed = False
        self.held = ""
        self.held_tokens: list[TokenLogprob] = []
        #: Characters of the upstream text decided so far (shown or withheld), to follow its ``Replace``.
        self.decided = 0
        #: The decided upstream text as ``(length, shown)`` runs, to map a rewrite onto the shown text.
        self.segments: list[tuple[int, bool]] = []
        self.records: list[Record] = []
        self.ms = 0.0

    def delta(self, event: TextDelta) -> list[Event]:
        self.streamed = True
        out: list[Event] = []
        if event.tokens is None and self.scored:
            if self.withhold and self.held:
                # The scores stopped (a failover without them): what is held came with its own, so it is
                # judged as it would have been, not let through unjudged with the unscored rest.
                out = self._judge(final=True)
            self.scored = False
        if not self.withhold or not self.scored:
            out.extend(self._release_held() if self.held else [])
            out.append(self._show(event.text, event.tokens or ()))
            self._decide(len(event.text), shown=True)
            return out
        self.held += event.text
        self.held_tokens.extend(event.tokens or ())
        out = [] if _ENDINGS.isdisjoint(event.text) else self._judge(final=False)
        if len(self.held) > MAX_HELD:
            out.extend(self._overflow())
        return out

    def replace(self, event: Replace) -> list[Event]:
        if not (self.withhold and self.streamed):
            # Before any delta it is text already on screen (a continued answer); without ``block`` the
            # shown text is the upstream text, so the rewrite passes as it is.
            if event.tokens is None:
                self.scored = False
            self.shown, self.shown_len = [event.text], len(event.text)
            self.tokens = list(event.tokens or ())
            self.held, self.held_tokens = "", []
            self._reset(len(event.text))
            return [event]
        if len(event.text) >= self.decided:
            # A resume took back a cut-off word: only the held tail changed, nothing shown did.
            tail = event.text[self.decided :]
            if self.scored and event.tokens is not None:
                self.held = tail
                self.held_tokens = list(tail_tokens(event.tokens, len(tail)))
                return []
            return self._rewrite_unscored(tail)
        # The rewrite reaches into decided text: the shown text loses what it kept of it, and a withheld
        # sentence stays withheld (the upstream ``event.text`` still holds it, so it is never passed on).
        keep = self._shown_within(len(event.text))
        if event.tokens is None:
            self.scored = False
        text = "".join(self.shown)[:keep]
        self.shown, self.shown_len = [text], keep
        self.tokens = list(head_tokens(self.tokens, keep)) if self.scored else []
        self.held, self.held_tokens = "", []
        self.decided = len(event.text)
        return [Replace(text, event.reason, tuple(self.tokens) if self.scored else None)]

    def _rewrite_unscored(self, tail: str) -> list[Event]:
        """The undecided tail was rewritten without scores: judge what the rewrite kept, then go on unscored."""
        out: list[Event] = []
        if self.scored and self.held.startswith(tail):
            self.held_tokens = list(head_tokens(self.held_tokens, len(tail)))
            self.held = tail
            out = self._judge(final=True) if tail else []
        elif self.scored and tail:
            # Text the held tokens do not spell: it cannot be judged, so in ``block`` it is not shown.
            record = Record(NAME, "withhold", "output", 0.0, f"a sentence was held back: it {UNCHECKED}")
            self.records.append(record)
            out.append(record.notice())
            self._decide(len(tail), shown=False)
        elif tail:
            out.append(self._show(tail, ()))
            self._decide(len(tail), shown=True)
        self.held, self.held_tokens = "", []
        self.scored = False
        return out

    def end(self) -> list[Event]:
        if self.withhold and self.scored and self.held:
            return self._judge(final=True)
        return self._release_held() if self.held else []

    def _judge(self, final: bool) -> list[Event]:
        started = self.clock()
        spans = sentence_confidences(self.held, self.held_tokens)
        self.ms += (self.clock() - started) * 1000
        if not final:
            spans = spans[:-1]  # the last sentence may still grow
        out: list[Event] = []
        cut = 0
        for _, end, score in spans:
            piece = self.held[cut:end]
            tokens = self._take(cut, end)
            if score < self.guard.threshold:
                out.append(self._withhold(f"the model's confidence in it was {score:.2f}"))
            elif piece:
                out.append(self._show(piece, tokens))
            self._decide(len(piece), shown=score >= self.guard.threshold)
            cut = end
        self.held = self.held[cut:]
        self.held_tokens = list(tail_tokens(self.held_tokens, len(self.held))) if self.held else []
        if final and self.held:  # what follows the last sentence (spaces): nothing to score
            out.extend(self._release_held())
        return out

    def _withhold(self, why: str) -> Notice:
        """A held piece is not shown: the notice that says so (and its verdict)."""
        record = Record(
            NAME, "withhold", "output", 0.0,
            f"a sentence was held back: {why}, below the threshold {self.guard.threshold:.2f}",
        )  # fmt: skip
        self.records.append(record)
        return record.notice()

    def _overflow(self) -> list[Event]:
        """A run past ``MAX_HELD`` with no sentence end: judged as one piece up to its last whitespace."""
        cut = max(self.held.rfind(c) for c in " \n\t") + 1 or len(self.held)
        piece, tokens = self.held[:cut], self._take(0, cut)
        score = answer_confidence(tokens)
        self.held = self.held[cut:]
        self.held_tokens = list(tail_tokens(self.held_tokens, len(self.held))) if self.held else []
        shown = score is None or score >= self.guard.threshold
        self._decide(len(piece), shown=shown)
        if shown:
            return [self._show(piece, tokens)]
        return [self._withhold(f"the model's confidence in it was {score:.2f}")]

    def _take(self, start: int, end: int) -> tuple[TokenLogprob, ...]:
        """The held tokens spelling ``held[start:end]``."""
        return tail_tokens(head_tokens(self.held_tokens, end), end - start)

    def _release_held(self) -> list[Event]:
        held, tokens = self.held, self.held_tokens
        self.held, self.held_tokens = "", []
        self._decide(len(held), shown=True)
        return [self._show(held, tokens)] if held else []

    def _decide(self, length: int, *, shown: bool) -> None:
        """``length`` more upstream characters are decided: shown, or withheld."""
        self.decided += length
        if length:
            self.segments.append((length, shown))

    def _reset(self, decided: int) -> None:
        """The upstream text is ``decided`` characters, all of them on screen."""
        self.decided = decided
        self.segments = [(decided, True)] if decided else []

    def _shown_within(self, length: int) -> int:
        """How much of the shown text came from the first ``length`` upstream characters; forgets the rest."""
        kept, seen, segments = 0, 0, []
        for size, shown in self.segments:
            if seen >= length:
                break
            take = min(size, length - seen)
            kept += take if shown else 0
            segments.append((take, shown))
            seen += take
        self.segments = segments
        return kept

    def _show(self, text: str, tokens: Sequence[TokenLogprob]) -> TextDelta:
        offset = self.shown_len
        self.shown.append(text)
        self.shown_len += len(text)
        if self.scored:
            self.tokens.extend(tokens)
        return TextDelta(text, offset, tuple(tokens) if self.scored else None)

    def finish(self, provider: str, release: Release) -> tuple[float | None, tuple[tuple[int, int], ...]]:
        """The confidence and flagged spans of the text shown; adds the closing verdicts."""
        text = "".join(self.shown)
        if not self.scored or not self.tokens:
            if text or not self.scored:
                self.records.append(Record(NAME, "unchecked", "output", self.ms, unchecked_reason(provider)))
            return None, ()
        started = self.clock()
        confidence = answer_confidence(self.tokens)
        threshold = self.guard.threshold
        flagged = tuple((s, e) for s, e, score in sentence_confidences(text, self.tokens) if score < threshold)
        self.ms += (self.clock() - started) * 1000
        if self.guard.action == "block" and release == "stream_first":
            reason = (
                "block needs hold_back release: in stream_first text is shown before it can be scored, "
                f"so {len(flagged)} low-confidence sentence(s) are only flagged"
            )
            self.records.append(Record(NAME, "flag", "output", self.ms, reason, max(1, len(flagged))))
        elif flagged:
            plural = "sentence is" if len(flagged) == 1 else "sentences are"
            reason = f"{len(flagged)} {plural} below confidence {threshold:.2f} (the answer's: {confidence:.2f})"
            self.records.append(Record(NAME, "flag", "output", self.ms, reason, len(flagged)))
        return confidence, flagged


def confidence_stage(
    guard: HallucinationGuardrail,
    release: Release = "hold_back",
    *,
    provider: str = "",
    clock: Clock = time.perf_counter,
) -> Any:
    """A pipeline stage applying the hallucination check right after the runner (it reads ``TextDelta.tokens``).

    ``provider`` names the provider in the "cannot be checked" verdict.
    """

    async def stage(upstream: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        judge = _Judge(guard, guard.action == "block" and release == "hold_back", clock)
        async with aclosing(upstream):
            async for event in upstream:
                match event:
                    case TextDelta():
                        for out in judge.delta(event):
                            yield out
                    case Replace():
                        for out in judge.replace(event):
                            yield out
                    case Done() | Failed():
                        for out in judge.end():
                            yield out
                        before = len(judge.records)
                        # Sentence splitting of the whole answer grows with its length (~0.4 s for 21k
                        # characters): a worker thread does it, so the event loop keeps serving meanwhile.
                        confidence, flagged = await asyncio.to_thread(judge.finish, provider, release)
                        for record in judge.records[before:]:
                            yield record.notice()
                        verdicts = tuple(r.to_dict() for r in judge.records)
                        stats = dataclasses.replace(
                            event.stats, confidence=confidence, flagged=flagged,
                            verdicts=(*event.stats.verdicts, *verdicts),
                        )  # fmt: skip
                        yield dataclasses.replace(event, text="".join(judge.shown), stats=stats)
                        return
                    case _:
                        yield event

    return stage


register(
    GuardSpec(
        NAME,
        lambda action: HallucinationGuardrail(action or "flag"),
        default_action="flag",
        label="Hallucination (low model confidence)",
        actions=("flag", "block"),
        where=frozenset({"output"}),
        option="threshold",
        option_default=DEFAULT_THRESHOLD,
        with_option=lambda action, threshold: HallucinationGuardrail(action or "flag", threshold),
    )
)
