"""The end-of-answer scoring (pysbd over the whole answer) runs off the event loop.

Splitting a long answer into sentences takes time that grows with its length
(~0.4 s for 21k characters measured here); done on the event loop, it froze
every other chat of the process for that long.  A ticker task counts the turns
the loop gives it between the last text and ``Done``: none when the work is
on the loop, many when a worker thread does it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator

from agents.events import Done, Event, TextDelta
from agents.providers.base import TokenLogprob
from agents.stats import Stats
from guardrails.hallucination import HallucinationGuardrail, confidence_stage


async def _answer(sentences: list[str]) -> AsyncGenerator[Event, None]:
    offset = 0
    for text in sentences:
        yield TextDelta(text, offset, (TokenLogprob(text, math.log(0.9)),))
        offset += len(text)
    yield Done("".join(sentences), Stats("fake", "fake-1", "complete", None, 0.0, len(sentences), None))


async def test_the_loop_keeps_turning_while_a_long_answer_is_scored() -> None:
    sentences = [f"Sentence number {i} tells of the sky. " for i in range(1500)]  # ~57k characters
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    stage = confidence_stage(HallucinationGuardrail("flag"), "stream_first", provider="fake")
    task = asyncio.create_task(ticker())
    try:
        at_last_text = 0
        done = None
        async for event in stage(_answer(sentences)):
            if isinstance(event, TextDelta):
                at_last_text = ticks
            elif isinstance(event, Done):
                done = event
        assert done is not None and done.stats.confidence is not None
        assert done.text == "".join(sentences)
        assert ticks - at_last_text > 10, "the loop was not given a turn while the answer was scored"
    finally:
        task.cancel()
