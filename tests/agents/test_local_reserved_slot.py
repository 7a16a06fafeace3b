"""Unwatched answers (a self-check's samples, a closed tab's answer) leave one slot for a watched one.

Ten self-check samples on the embedded model filled its slots, and a second
tab's question waited about 50 s for one of them to end (seen in Chromium).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agents.providers.local import LocalModel
from tests.agents.local_chat import model_with
from tests.agents.test_local_priority import QUESTION, STORY, Log, params

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def two_slots() -> Iterator[LocalModel]:
    yield from model_with(2)


async def test_two_unwatched_stories_leave_the_second_slot_to_a_watched_question(two_slots: LocalModel) -> None:
    log = Log()
    log.follow("first sample", two_slots.stream(STORY, params(400, watched=False)))
    await log.until("first sample", 1)
    log.follow("second sample", two_slots.stream(STORY, params(400, watched=False)))
    while not (log.count("second sample") or 0 in log.waits["second sample"]):
        await asyncio.sleep(0.01)  # admitted (before the change) or told it is queued
    log.follow("question", two_slots.stream(QUESTION, params(8)))
    try:
        await log.until("question", 1)
        ended = [name for name in ("first sample", "second sample") if log.tasks[name].done()]
        assert not ended, f"the question waited for {ended} to end: the samples held every slot"
        assert log.count("second sample") == 0, "the second sample took the slot a watched answer needs"
        await log.tasks["question"]
        await log.until("second sample", 1)  # once the question is done, the sample gets the slot: never starved
    finally:
        await log.stop()


async def test_with_one_slot_an_unwatched_answer_still_runs(one_slot_model: LocalModel) -> None:
    log = Log()
    log.follow("sample", one_slot_model.stream(QUESTION, params(8, watched=False)))
    try:
        await log.tasks["sample"]
        assert log.count("sample") >= 1
    finally:
        await log.stop()


@pytest.fixture(scope="module")
def one_slot_model() -> Iterator[LocalModel]:
    yield from model_with(1)
