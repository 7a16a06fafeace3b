"""More conversations than slots: a conversation whose slot went to another comes back to its saved cache,
reads only its new turn, and answers exactly as a cold run does (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.providers import local
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.local import LocalModel, locate_model
from tests.agents.local_chat import model_with, text_of, then

pytestmark = pytest.mark.model

GREEDY = GenerationParams(temperature=0.0, max_tokens=80)
A = [ChatMessage("system", "You tell stories."), ChatMessage("user", "Tell me a story about a fox and a crow.")]
B = [ChatMessage("system", "You explain science."), ChatMessage("user", "Explain why the sky is blue.")]


@pytest.fixture
def one_slot() -> Iterator[LocalModel]:
    yield from model_with(1)


async def test_a_conversation_comes_back_to_its_saved_cache_and_answers_as_a_cold_run(one_slot: LocalModel) -> None:
    first = await text_of(one_slot.stream(A, GREEDY))
    await text_of(one_slot.stream(B, GREEDY))  # B takes the only slot: A's cache is saved
    assert one_slot.parked == 1
    follow = then(A, first, "Give it a title.")
    before = one_slot.prompt_tokens_evaluated
    back = await text_of(one_slot.stream(follow, GREEDY))
    evaluated = one_slot.prompt_tokens_evaluated - before
    assert one_slot.unparked == 1
    assert evaluated < 48, f"only the new turn is read ({evaluated} tokens)"
    cold = LocalModel(locate_model(), slots=1)
    try:
        assert back == await text_of(cold.stream(follow, GREEDY))
    finally:
        cold.close()


async def test_saved_caches_are_dropped_oldest_first_past_the_budget(
    one_slot: LocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "PARK_BYTES", 1)  # room for none: every saved cache is dropped at once
    first = await text_of(one_slot.stream(A, GREEDY))
    await text_of(one_slot.stream(B, GREEDY))
    assert one_slot.parked == 1 and not one_slot._parked
    follow = then(A, first, "Give it a title.")
    before = one_slot.prompt_tokens_evaluated
    back = await text_of(one_slot.stream(follow, GREEDY))
    assert one_slot.unparked == 0
    assert one_slot.prompt_tokens_evaluated - before > 48, "nothing saved: the conversation is read again"
    cold = LocalModel(locate_model(), slots=1)
    try:
        assert back == await text_of(cold.stream(follow, GREEDY))
    finally:
        cold.close()
