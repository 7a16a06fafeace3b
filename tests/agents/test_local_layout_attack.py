"""Attacks on the embedded model's canonical prompt layout (``_layout``) beside other answers.

A greedy answer must give the same text whether it runs alone on a fresh model or
beside another answer; every case is compared with a cold run on a fresh model.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.providers.base import ChatMessage, GenerationParams, Scored
from agents.providers.local import LocalModel, locate_model
from tests.agents.local_chat import text_of

pytestmark = pytest.mark.model

# An earlier answer long enough that its one-token-at-a-time reading spans many rounds.
EARLIER = " ".join(f"Step {i}: the keeper climbs, trims the wick and writes in the log." for i in range(1, 6))
FOLLOW_UP = [
    ChatMessage("system", "You answer briefly."),
    ChatMessage("user", "Tell me about a lighthouse keeper's day."),
    ChatMessage("assistant", EARLIER),
    ChatMessage("user", "Which step comes after step 3?"),
]
STORY = [ChatMessage("system", "You tell stories."), ChatMessage("user", "Write a long story about a fox.")]
GREEDY = GenerationParams(temperature=0.0, max_tokens=200)


def fresh(slots: int = 2) -> LocalModel:
    model = LocalModel(locate_model(), slots=slots)
    model._load()
    return model


async def test_a_story_is_the_same_beside_a_cold_follow_up_reading_an_earlier_answer() -> None:
    # The follow-up reads the earlier answer one token at a time in the round's batch, then the rest
    # of its prompt in a chunk of its own: that chunk must not overwrite the story's logits row.
    cold = fresh()
    try:
        story_alone = await text_of(cold.stream(STORY, GREEDY))
    finally:
        cold.close()
    cold = fresh()
    try:
        follow_alone = await text_of(cold.stream(FOLLOW_UP, GREEDY))
    finally:
        cold.close()
    model = fresh()
    try:
        # Queued in this order, the follow-up comes first in every round's batch.
        follow, story = await asyncio.gather(
            text_of(model.stream(FOLLOW_UP, GREEDY)), text_of(model.stream(STORY, GREEDY))
        )
    finally:
        model.close()
    assert follow == follow_alone
    assert story == story_alone


async def scored(model: LocalModel, messages: list[ChatMessage], params: GenerationParams) -> tuple[str, list[float]]:
    text, figures = [], []
    async for piece in model.stream(messages, params):
        if isinstance(piece, Scored):
            text.append(piece.text)
            figures.extend(token.logprob for token in piece.tokens)
    return "".join(text), figures


async def test_a_long_greedy_answer_does_not_depend_on_the_thread_count() -> None:
    # ThreadTuner changes the thread count as the machine's load changes: past 256 cached tokens, the
    # answer (and its confidence figures) must still be what one thread gives.
    messages = [ChatMessage("system", "You tell stories. " + EARLIER), STORY[1]]  # about 100 tokens
    params = GenerationParams(temperature=0.0, max_tokens=250, logprobs=True)
    results = []
    for threads in (1, 2):
        model = LocalModel(locate_model(), slots=1, n_threads=threads)
        try:
            results.append(await scored(model, messages, params))
        finally:
            model.close()
    (one, one_figures), (two, two_figures) = results
    assert len(one_figures) > 150  # the answer runs well past 256 positions
    assert two == one
    assert two_figures == one_figures
