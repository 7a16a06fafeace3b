"""``block`` on a long run with no sentence end (a code block, a list of versions): bounded, never all held.

The stage held text until pysbd found a sentence end.  A long line of code's
dots ("os.path.join") woke the splitter on every delta but never gave it a
sentence end, so the whole answer was held (nothing on screen until it ended,
and an unsure start withheld all of it) and pysbd re-read the growing text
each time, on the event loop: measured here, 11k characters took 15 s of CPU
and 45k took 147 s, freezing every other chat.  A run longer than ``MAX_HELD`` is judged at its
last whitespace as one piece, as ``SentenceStrategy`` flushes a long run.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator

from agents.events import Done, Event, Notice, NoticeKind, TextDelta
from agents.providers.base import TokenLogprob
from agents.stats import Stats
from guardrails.hallucination import MAX_HELD, HallucinationGuardrail, confidence_stage

SURE = math.log(0.97)
UNSURE = math.log(0.02)


def _stats() -> Stats:
    return Stats("fake", "fake-1", "complete", None, 0.0, 3, None)  # type: ignore[arg-type]


class Upstream:
    """Scored deltas, then Done; counts how many characters the stage has read."""

    def __init__(self, pieces: list[tuple[str, float]]) -> None:
        self.pieces = pieces
        self.read = 0

    async def events(self) -> AsyncGenerator[Event, None]:
        for text, logprob in self.pieces:
            self.read += len(text)
            yield TextDelta(text, self.read - len(text), (TokenLogprob(text, logprob),))
        yield Done("".join(t for t, _ in self.pieces), _stats())


async def _run(upstream: Upstream) -> list[tuple[int, Event]]:
    stage = confidence_stage(HallucinationGuardrail("block"), "hold_back", provider="fake")
    return [(upstream.read, event) async for event in stage(upstream.events())]


def _code(n: int, start: int = 0) -> list[str]:
    return [f"x{i} = os.path.join(a, b); " for i in range(start, start + n)]  # one long line: no sentence end


async def test_a_sure_code_block_shows_while_it_streams_not_at_the_end() -> None:
    lines = _code(400)
    total = sum(map(len, lines))
    upstream = Upstream([(line, SURE) for line in lines])
    out = await _run(upstream)
    first = next(read for read, event in out if isinstance(event, TextDelta))
    assert first <= MAX_HELD + 100 < total
    assert "".join(e.text for _, e in out if isinstance(e, TextDelta)) == "".join(lines)


async def test_an_unsure_run_is_withheld_and_the_sure_rest_shows() -> None:
    unsure, sure = _code(80), _code(80, start=80)
    upstream = Upstream([(line, UNSURE) for line in unsure] + [(line, SURE) for line in sure])
    out = await _run(upstream)
    shown = "".join(e.text for _, e in out if isinstance(e, TextDelta))
    assert "x0 = " not in shown and "x40 = " not in shown  # (the piece at the seam is judged as a whole)
    assert "x100 = " in shown and shown.endswith("x159 = os.path.join(a, b); ")
    assert any(isinstance(e, Notice) and e.kind == NoticeKind.GUARDRAIL and "held back" in e.message for _, e in out)
