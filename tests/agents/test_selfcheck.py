"""The self-check: agreement of sampled answers with the original, its cost, and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import pytest

from agents.errors import ServerError
from agents.providers.base import ChatMessage, GenerationParams, Piece, Scored, TokenLogprob
from agents.selfcheck import DEFAULT_TEMPERATURE, normalize, sample_budget, self_check, similarity
from tests.fakes import ScriptedProvider

MESSAGES = [ChatMessage("user", "What is the capital of France? Answer with the city name only.")]


@dataclass
class AnswersProvider:
    """Answers each call with the next of ``answers``, as ``Scored`` pieces of one token per word."""

    answers: list[str]
    name: str = "answers"
    model: str = "answers-1"
    exact_continuation: bool = True
    params: list[GenerationParams] = field(default_factory=list)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[Piece, None]:
        self.params.append(params)
        answer = self.answers.pop(0)
        for word in answer.split(" "):
            yield Scored(word + " ", (TokenLogprob(word + " ", -0.1),))
            await asyncio.sleep(0)


def test_normalize_folds_accents_case_punctuation_and_articles() -> None:
    assert normalize("The capital is Bogotá!") == ["capital", "is", "bogota"]
    assert normalize("Washington, D.C.") == ["washington", "d", "c"]
    assert normalize("...") == []


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Paris", "Paris.", 1.0),
        ("Paris", "Lyon", 0.0),
        ("Yaoundé", "yaounde", 1.0),
        # one word in common: precision 1/5, recall 1, F1 = 2 * 0.2 / 1.2
        ("Paris.", "The capital of France is Paris.", 1 / 3),
        ("San José", "San Juan", 0.5),
        ("", "", 1.0),
        ("Paris", "", 0.0),
    ],
)
def test_similarity_is_squad_token_f1(a: str, b: str, expected: float) -> None:
    assert similarity(a, b) == pytest.approx(expected)
    assert similarity(b, a) == pytest.approx(expected)


async def test_samples_that_repeat_the_answer_agree_fully() -> None:
    provider = ScriptedProvider(chunks=("Par", "is", "."))
    result = await self_check(provider, MESSAGES, "Paris")
    assert result.agreement == 1.0
    assert result.samples == ("Paris.",) * 3
    assert result.requests == 3 and len(provider.calls) == 3
    assert result.tokens is None  # plain text pieces: the provider reported no tokens
    assert not result.flagged()
    for call in provider.calls:
        assert call.messages == MESSAGES
        assert call.params.temperature == DEFAULT_TEMPERATURE
        assert call.params.max_tokens == sample_budget("Paris")
        assert call.continue_from == ""


async def test_samples_that_disagree_lower_the_agreement_and_their_tokens_are_counted() -> None:
    provider = AnswersProvider(["Lyon", "Paris", "Nice is nice"])
    result = await self_check(provider, MESSAGES, "Paris", samples=3)
    assert result.agreement == pytest.approx(1 / 3)
    assert result.samples == ("Lyon ", "Paris ", "Nice is nice ")
    assert result.tokens == 1 + 1 + 3
    assert result.flagged()


def test_words_of_the_question_do_not_count_as_agreement() -> None:
    ignore = frozenset(normalize("What is the capital of Andorra?"))
    assert similarity("The capital of Andorra is Montserrat.", "The capital of Andorra is La Coruna.", ignore) == 0.0
    assert similarity("The capital of Andorra is Andorra la Vella.", "Andorra la Vella", ignore) == 1.0


async def test_samples_that_only_repeat_the_question_do_not_agree_with_the_answer() -> None:
    provider = AnswersProvider(["The capital of France is Lyon", "France has a capital: Nice"])
    result = await self_check(provider, MESSAGES, "The capital of France is Paris.", samples=2)
    assert result.agreement == 0.0


async def test_greedy_params_are_raised_to_a_sampling_temperature_and_lose_their_seed() -> None:
    provider = AnswersProvider(["Paris", "Paris"])
    await self_check(provider, MESSAGES, "Paris", samples=2, params=GenerationParams(temperature=0.0, seed=7))
    assert [p.temperature for p in provider.params] == [DEFAULT_TEMPERATURE] * 2
    assert [p.seed for p in provider.params] == [None, None]
    provider = AnswersProvider(["Paris"])
    await self_check(provider, MESSAGES, "Paris", samples=1, params=GenerationParams(temperature=0.7, max_tokens=5))
    assert (provider.params[0].temperature, provider.params[0].max_tokens) == (0.7, 5)


async def test_a_failed_sample_fails_the_check_with_its_own_error() -> None:
    provider = ScriptedProvider(chunks=("Paris",), fail_at=1, fail_with=ServerError("overloaded"))
    with pytest.raises(ServerError, match="overloaded"):
        await self_check(provider, MESSAGES, "Paris")
    assert provider.closed == 3


async def test_cancelling_the_check_closes_every_sample_stream() -> None:
    provider = ScriptedProvider(chunks=("Paris", "."), gate=asyncio.Event())  # the gate never opens
    task = asyncio.create_task(self_check(provider, MESSAGES, "Paris"))
    while len(provider.calls) < 3:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.closed == 3
    assert all(call.closed for call in provider.calls)


async def test_at_least_one_sample() -> None:
    with pytest.raises(ValueError):
        await self_check(ScriptedProvider(), MESSAGES, "Hello", samples=0)


def test_sample_budget_grows_with_the_answer() -> None:
    assert sample_budget("Paris") == 16
    assert sample_budget("x" * 400) == 202
