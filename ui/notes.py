"""What belongs to an answer besides its text: resume notices, the error, guardrail verdicts, the stats.

The hallucination check's marks are a "Confidence" Step that quotes the
low-confidence sentences: the answer's own text is never touched, so the copy
icon, the history and the model's context hold it exactly as streamed.

Each is a Chainlit Step under the answer's message (``parent_id``), kept per
answer and updated in place, never a message of its own: one answer is one
bubble, the copy icon under it copies the answer, and an answer carried on
with Continue grows where it is, its notes below it.  Continue finds the
notes of the answer it carries on through ``for_message``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import chainlit as cl

from agents.events import SelfChecked, Stats
from ui import verdicts as verdict_table
from ui.markdown import escape

RESUME = "Resume"
CUT_OFF = "Cut off"
ERROR = "Error"
STATS = "Stats"
CONFIDENCE = "Confidence"
SELF_CHECK = "Self-check"
_KEY = "answer-notes"
#: What the figure is, for a user who meets it for the first time (a new user asked what 0.54 meant).
CONFIDENCE_MEANS = (
    "_How sure the model was of its own words, from 0 to 1 (its token probabilities). A sentence below the "
    "threshold (hallucination check, settings panel) is worth checking; a low figure is not proof of an error._"
)
#: The verdict actions of the hallucination check that the Confidence step explains.
_UNCHECKED = "unchecked"


def confidence_markdown(text: str, stats: Stats) -> str:
    """The Confidence step's Markdown: the answer's confidence and each flagged sentence quoted ("" if none)."""
    unchecked = [v for v in stats.verdicts if v.get("rule") == "hallucination" and v.get("action") == _UNCHECKED]
    if stats.confidence is None:
        return f"_{escape(str(unchecked[0].get('reason', '')))}_" if unchecked else ""
    spans = [(s, e) for s, e in stats.flagged if 0 <= s < e <= len(text)]
    head = f"**Confidence {stats.confidence:.2f}**"
    if not spans:
        return f"{head}: no sentence below the threshold.\n\n{CONFIDENCE_MEANS}"
    plural = "sentence" if len(spans) == 1 else "sentences"
    quotes = [f"> {escape(' '.join(text[s:e].split()))}" for s, e in spans]
    return "\n\n".join([f"{head}: check {len(spans)} low-confidence {plural}:", *quotes, CONFIDENCE_MEANS])


class AnswerNotes:
    """The Steps under one answer: one per kind, created on first use, then updated in place."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self._steps: dict[str, cl.Step] = {}
        self._verdicts: list[dict[str, Any]] = []

    async def notice(self, text: str) -> None:
        """A retry, resume or give-up line: one open Step whose line is updated in place (the latest holds)."""
        await self._show(RESUME, f"_{escape(text)}_", default_open=True)

    async def cut_off(self, text: str) -> None:
        """The token limit stopped the answer ("cut off at N tokens"); Continue carries it on."""
        await self._show(CUT_OFF, f"_{escape(text)}_", default_open=True)

    def verdict(self, data: Mapping[str, Any]) -> None:
        """Keep a guardrail verdict; ``finish`` shows them all as one table."""
        self._verdicts.append(dict(data))

    async def error(self, error: object) -> None:
        """The error that ended the answer, one line, marked as an error."""
        await self._show(ERROR, escape(str(error)), default_open=True, is_error=True)

    def adopt(self, stored: Sequence[Mapping[str, Any]]) -> None:
        """Take over this answer's stored note Steps (a page that reopened the thread), so Continue
        removes or updates them as it does its own instead of leaving them or adding a second copy.

        The verdict table is not taken over: its rows cannot be read back, so a continuation's own
        verdicts get a table of their own.
        """
        for row in stored:
            name = row.get("name")
            if row.get("parentId") != self.message_id or name not in (RESUME, CUT_OFF, ERROR, STATS):
                continue
            if name in self._steps:
                continue
            step = cl.Step(name=str(name), type="tool", id=str(row["id"]), parent_id=self.message_id,
                           show_input=False, default_open=bool(row.get("defaultOpen")))  # fmt: skip
            step.is_error = bool(row.get("isError"))
            step.output = str(row.get("output") or "")
            self._steps[str(name)] = step

    async def carry_on(self) -> None:
        """The answer carries on (Continue): its error and give-up notice no longer hold."""
        for name in (ERROR, RESUME, CUT_OFF, CONFIDENCE, SELF_CHECK):
            if (step := self._steps.pop(name, None)) is not None:
                await step.remove()

    async def finish(self, stats: Stats | None) -> None:
        """Show the verdicts and the stats of the answer's end."""
        if self._verdicts:
            await self._show(verdict_table.STEP_NAME, verdict_table.table(self._verdicts))
        if stats is not None:
            await self._show(STATS, f"`{stats.summary()}`", default_open=True)

    async def confidence(self, text: str, stats: Stats | None) -> None:
        """The answer's confidence and its low-confidence sentences, quoted (the hallucination check)."""
        if stats is not None and (markdown := confidence_markdown(text, stats)):
            await self._show(CONFIDENCE, markdown, default_open=bool(stats.flagged) or stats.confidence is None)

    async def self_check(self, result: SelfChecked) -> None:
        """The optional self-check's line: agreement, flagged or not, and its cost; a failure is an error line."""
        await self._show(SELF_CHECK, escape(result.line()), default_open=result.flagged,
                         is_error=result.agreement is None)  # fmt: skip

    async def _show(self, name: str, output: str, *, default_open: bool = False, is_error: bool = False) -> None:
        step = self._steps.get(name)
        if step is None:
            step = cl.Step(name=name, type="tool", parent_id=self.message_id, show_input=False,
                           default_open=default_open)  # fmt: skip
            step.is_error = is_error
            step.output = output
            self._steps[name] = step
            await step.send()
            return
        step.output = output
        await step.update()


def latest() -> AnswerNotes | None:
    """The notes of the session's latest answer (the one a sink last rendered), if any."""
    notes: AnswerNotes | None = cl.user_session.get(_KEY)
    return notes


def for_message(message_id: str) -> AnswerNotes:
    """The notes of the answer ``message_id``; only the latest answer's are kept (only it can be continued)."""
    notes: AnswerNotes | None = cl.user_session.get(_KEY)
    if notes is None or notes.message_id != message_id:
        notes = AnswerNotes(message_id)
        cl.user_session.set(_KEY, notes)
    return notes
