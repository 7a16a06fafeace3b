"""``block`` when the scores stop mid-answer (a failover to a provider without log-probabilities).

The stage held a sentence it had scored tokens for; the first unscored delta
used to release it unjudged, so a low-confidence sentence reached the screen
in ``block`` mode: the check failed open.  What was held is judged with the
tokens it came with before the rest streams (as unchecked).
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator

from agents.events import Done, Event, Notice, NoticeKind, Replace, TextDelta
from agents.providers.base import TokenLogprob
from agents.stats import Stats
from guardrails.hallucination import UNCHECKED, HallucinationGuardrail, confidence_stage

SURE = math.log(0.97)
UNSURE = math.log(0.02)


def _stats() -> Stats:
    return Stats("fake", "fake-1", "complete", None, 0.0, 3, None)  # type: ignore[arg-type]


async def _run(events: list[Event]) -> list[Event]:
    async def upstream() -> AsyncGenerator[Event, None]:
        for event in events:
            yield event

    stage = confidence_stage(HallucinationGuardrail("block"), "hold_back", provider="fake")
    return [event async for event in stage(upstream())]


def _shown(events: list[Event]) -> str:
    text = ""
    for event in events:
        if isinstance(event, Replace):
            text = event.text
        elif isinstance(event, TextDelta):
            text += event.text
    return text


def _scored(text: str, logprob: float, offset: int) -> TextDelta:
    return TextDelta(text, offset, (TokenLogprob(text, logprob),))


async def test_a_held_unsure_sentence_is_judged_before_unscored_text_follows() -> None:
    sure, unsure, rest = "Paris is the capital. ", "Zorbville has nine moons", " and that is all."
    events = await _run(
        [
            _scored(sure, SURE, 0),
            _scored(unsure, UNSURE, len(sure)),
            TextDelta(rest, len(sure) + len(unsure), None),  # the failover provider gives no scores
            Done(sure + unsure + rest, _stats()),
        ]
    )
    shown = _shown(events)
    assert "Zorbville" not in shown
    assert shown.startswith("Paris is the capital.") and shown.endswith(rest)
    notices = [e.message for e in events if isinstance(e, Notice) and e.kind == NoticeKind.GUARDRAIL]
    assert any("held back" in n for n in notices), notices
    assert any(UNCHECKED in n for n in notices), notices  # the rest could not be checked: said, not passed
    done = events[-1]
    assert isinstance(done, Done) and "Zorbville" not in done.text and done.stats.confidence is None


async def test_a_sure_held_sentence_still_shows_when_the_scores_stop() -> None:
    first, second, rest = "Paris is the capital. ", "The Seine flows there", " too."
    events = await _run(
        [
            _scored(first, SURE, 0),
            _scored(second, SURE, len(first)),
            TextDelta(rest, len(first) + len(second), None),
            Done(first + second + rest, _stats()),
        ]
    )
    assert _shown(events) == first + second + rest


async def test_an_unscored_rewrite_of_the_held_tail_never_shows_a_withheld_sentence() -> None:
    unsure, sure = "Zorbville has nine moons. ", "Paris is the capi"
    events = await _run(
        [
            _scored(unsure, UNSURE, 0),
            _scored(sure, SURE, len(unsure)),
            # The runner takes back a cut-off word; the trail lost its scores (a failover without them).
            Replace(unsure + "Paris is the ", reason="the continuation rewrote the cut-off word", tokens=None),
            TextDelta("capital.", len(unsure) + len("Paris is the "), None),
            Done(unsure + "Paris is the capital.", _stats()),
        ]
    )
    shown = _shown(events)
    assert "Zorbville" not in shown
    assert shown.endswith("Paris is the capital.")


async def test_a_rewrite_into_shown_text_after_the_switch_keeps_the_withheld_sentence_out() -> None:
    unsure, sure, rest = "Zorbville has nine moons. ", "Paris is big. ", "It is the capi"
    upstream = unsure + sure + rest
    events = await _run(
        [
            _scored(unsure, UNSURE, 0),
            _scored(sure, SURE, len(unsure)),
            TextDelta(rest, len(unsure) + len(sure), None),  # unscored from here: shown as it comes
            # The cut-off word "capi" is taken back (the trail is unscored: no tokens).
            Replace(upstream[: -len("capi")], reason="the continuation rewrote the cut-off word", tokens=None),
            TextDelta("capital.", len(upstream) - len("capi"), None),
            Done(unsure + sure + "It is the capital.", _stats()),
        ]
    )
    replaces = [e for e in events if isinstance(e, Replace)]
    assert replaces and all("Zorbville" not in r.text for r in replaces)
    assert replaces[-1].text == sure + "It is the "
    assert _shown(events) == sure + "It is the capital."
    done = events[-1]
    assert isinstance(done, Done) and done.text == sure + "It is the capital."
