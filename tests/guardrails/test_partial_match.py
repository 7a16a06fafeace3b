"""A finding is judged only once it is complete: streamed in any pieces, the answer ends as if checked whole.

A match that touches the end of the text received so far may still grow
("sk-projABCDEFGHIJKLMNOPQRST" is already a key, and more of the key is coming)
or turn into no match at all ("bluebird-7" + "0", "acme corp" + "oration").
Every split position, in both release modes, must give the verdicts and the
text a one-piece check gives, and hold_back must never show a secret's piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import pytest

from agents.events import Event, Replace, TextDelta
from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail
from guardrails.rules import RulesGuardrail, parse
from guardrails.stream import StreamGuard, run_checks

RELEASES = ("hold_back", "stream_first")
KEY = "sk-projABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

RULES_TEXTS = [
    f"Your key is {KEY} and nothing else.",
    f"Your key is {KEY}",
    "Model bluebird-70 is fine.",
    "Model bluebird-7 is not.",
    "The acme corporation report.",
    "The acme corp report.",
    "We discussed project nightingale today.",
    "A project nightingales list.",
]
PROFANITY_TEXTS = [
    "That was an assessment of the bass.",
    "You ass, stop it.",
    "What the f u c k is that.",
    "Scunthorpe is a town.",
]
PII_TEXTS = [
    "Mail ada.lovelace@example.com now.",
    "Call +1 415 555 0132 today.",
]


def stream(guards: Sequence, chunks: Sequence[str], release: str) -> tuple[list[Event], StreamGuard]:
    """Drive the pure StreamGuard over ``chunks`` as the guard stage does."""
    sg = StreamGuard(guards, release)  # type: ignore[arg-type]
    out: list[Event] = []
    for chunk in chunks:
        if shown := sg.feed(chunk):
            out.append(TextDelta(shown))
        if (w := sg.window()) is not None:
            out.extend(sg.commit(w, run_checks(sg.guards, w.text)).events)
        if sg.blocked is not None:
            return out, sg  # the stage stops reading here
    if (w := sg.window(final=True)) is not None:
        out.extend(sg.commit(w, run_checks(sg.guards, w.text)).events)
    return out, sg


def outcome(guards: Sequence, chunks: Sequence[str], release: str) -> tuple[str, str | None, list[str]]:
    """Final text, the blocking rule (if any), and the rules of every verdict.

    A blocked answer's text is its block line: how much clean text came before
    it depends on the pieces, but it must be a start of the answer before the finding.
    """
    events, sg = stream(guards, chunks, release)
    final = sg.text
    if sg.blocked is not None:
        assert "".join(chunks).startswith(sg.text)
        final = sg.block().line()
    rules = sorted({n.data["rule"] for n in events if getattr(n, "kind", "") == "guardrail"})
    return final, (sg.blocked.rule if sg.blocked else None), rules


def splits(text: str, pieces: int) -> list[list[str]]:
    """Every way to cut ``text`` into ``pieces`` non-empty pieces (2 or 3)."""
    out = []
    for cuts in combinations(range(1, len(text)), pieces - 1):
        bounds = [0, *cuts, len(text)]
        out.append([text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)])
    return out


def shown_text(events: Sequence[Event]) -> str:
    """Everything ever put on screen, deltas and replacements alike."""
    return "".join(e.text for e in events if isinstance(e, TextDelta | Replace))


def test_the_reported_cases() -> None:
    rules = RulesGuardrail()
    for release in RELEASES:
        chunks = ["Your key is ", "sk-proj", "ABCDEFGHIJ", "KLMNOPQRST", "UVWXYZ0123", "456789"]
        assert outcome([rules], chunks, release)[0] == "Your key is [API KEY]"
        assert outcome([rules], ["Model bluebird-7", "0 is fine."], release) == ("Model bluebird-70 is fine.", None, [])
        assert outcome([rules], ["The acme corp", "oration report."], release) == (
            "The acme corporation report.", None, [],
        )  # fmt: skip


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("text", RULES_TEXTS)
def test_rules_every_two_cuts_end_as_the_whole_text(text: str, release: str) -> None:
    rules = RulesGuardrail()
    whole = outcome([rules], [text], release)
    for chunks in splits(text, 2) + splits(text, 3):
        assert outcome([rules], chunks, release) == whole, chunks


@pytest.mark.parametrize("text", RULES_TEXTS[:2])
def test_hold_back_never_shows_a_piece_of_the_key(text: str) -> None:
    rules = RulesGuardrail()
    for chunks in splits(text, 2) + splits(text, 3):
        events, _ = stream([rules], chunks, "hold_back")
        assert "sk-" not in shown_text(events) and "ABCDEFGHIJ" not in shown_text(events), chunks


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("text", PROFANITY_TEXTS)
def test_profanity_every_two_cuts_end_as_the_whole_text(text: str, release: str) -> None:
    guard = ProfanityGuardrail("redact")
    whole = outcome([guard], [text], release)
    for chunks in splits(text, 2) + splits(text, 3):
        assert outcome([guard], chunks, release) == whole, chunks


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("text", PII_TEXTS)
def test_pii_every_cut_ends_as_the_whole_text(text: str, release: str) -> None:
    guard = PiiGuardrail("redact")
    whole = outcome([guard], [text], release)
    assert "<" in whole[0]
    for chunks in splits(text, 2):
        assert outcome([guard], chunks, release) == whole, chunks


def test_a_match_still_open_is_held_even_with_a_complete_one_inside_it() -> None:
    # "<<...>>" is still open while "TODO" inside it is complete: a plain partial search reports only
    # "TODO", and the opening "<<secret" would be released before ">>" arrives.
    rules = RulesGuardrail(rules=parse({"rules": [
        {"name": "tagged", "regex": "<<[^>]*>>|TODO", "action": "redact", "max_length": 40, "replacement": "[x]"},
    ]}))  # fmt: skip
    text = "Note <<secret TODO y>> end."
    for release in RELEASES:
        assert outcome([rules], [text], release)[0] == "Note [x] end."
        for chunks in splits(text, 2) + splits(text, 3):
            assert outcome([rules], chunks, release)[0] == "Note [x] end.", chunks
            if release == "hold_back":
                assert "secret" not in shown_text(stream([rules], chunks, release)[0]), chunks
