"""The optional self-check wired into a session (issue 18 item 4): runs after Done, costs N requests,
is cancelled by a new question or Stop, and fails closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import pytest

from agents.errors import ConnectionLost, InvalidSetting
from agents.events import Done, Event, SelfChecked
from agents.providers.base import ChatMessage, GenerationParams, Scored
from agents.selfcheck import DEFAULT_THRESHOLD
from chat import selfcheck
from chat.live import LiveAnswers
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider

CHUNKS = ("Paris", " is", " the capital.")


@dataclass
class SlowSamples:
    """The first call (the answer) streams at once; every later one (a sample) waits for ``release``.

    ``fail``: a sample raises this after its first chunk instead of finishing.
    """

    inner: ScriptedProvider = field(default_factory=lambda: ScriptedProvider(CHUNKS, logprobs=[-0.1] * 3))
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    fail: Exception | None = None
    name: str = "scripted"
    model: str = "script-1"
    exact_continuation: bool = True

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[str | Scored, None]:
        sample = bool(self.inner.calls)
        async for piece in self.inner.stream(messages, params, continue_from=continue_from):
            if sample:
                self.started.set()
                if self.fail is not None:
                    raise self.fail
                await self.release.wait()
            yield piece


def make_session(provider: object, samples: int = 3) -> ChatSession:
    session = ChatSession(Settings(provider="echo", selfcheck=samples))
    session._provider = provider  # type: ignore[assignment]  # the fake stands in for the registry's provider
    session._provider_key = ("echo", None, session.settings.echo_rate)
    return session


async def test_the_option_runs_n_more_requests_and_reports_agreement_and_cost() -> None:
    provider = ScriptedProvider(CHUNKS, logprobs=[-0.1, -0.2, -0.3])
    session = make_session(provider, samples=3)
    turn = session.start("What is the capital of France?")
    await turn.run(_ignore)
    got: list[SelfChecked] = []

    async def keep(result: SelfChecked) -> None:
        got.append(result)

    task = selfcheck.start(turn, keep)
    assert task is not None
    await task
    assert len(provider.calls) == 1 + 3  # the answer, then three samples
    assert all(c.params.temperature and c.params.temperature > 0 for c in provider.calls[1:])
    assert provider.calls[1].messages == provider.calls[0].messages  # the same question, asked again
    (result,) = got
    assert result.agreement == pytest.approx(1.0) and not result.flagged
    assert result.requests == 3 and result.tokens == 3 * len(CHUNKS)
    assert result.line() == "self-check: agreement 1.00 over 3 samples, not flagged (3 requests, 9 tokens)"
    assert session.selfcheck is None  # done: nothing left to cancel


async def test_off_by_default_no_extra_request() -> None:
    provider = ScriptedProvider(CHUNKS)
    session = make_session(provider, samples=0)
    turn = session.start("Capital of France?")
    await turn.run(_ignore)
    assert selfcheck.start(turn, _ignore_result) is None
    assert len(provider.calls) == 1


async def test_done_reaches_followers_before_the_first_sample_finishes() -> None:
    provider = SlowSamples()
    session = make_session(provider, samples=2)
    answer = LiveAnswers(grace=5, retention=0).start(session.start("Capital of France?"), selfcheck=True)
    seen: list[Event] = []
    events = answer.follow()
    async with asyncio.timeout(10):  # a Done held back until the samples end would never come: fail, not hang
        async for _, event in events:
            seen.append(event)
            if isinstance(event, Done):
                break
    # Done is here while the samples are still held: the self-check has not delayed it.
    await asyncio.wait_for(provider.started.wait(), 5)
    assert not answer.finished and not any(isinstance(e, SelfChecked) for e in answer.log)
    provider.release.set()
    async for _, event in events:
        seen.append(event)
    assert isinstance(seen[-1], SelfChecked) and isinstance(seen[-2], Done)
    assert seen[-1].agreement == pytest.approx(1.0) and seen[-1].requests == 2


async def test_a_new_question_cancels_the_running_self_check_and_closes_its_samples() -> None:
    provider = SlowSamples()
    session = make_session(provider, samples=3)
    turn = session.start("Capital of France?")
    await turn.run(_ignore)
    got: list[SelfChecked] = []

    async def keep(result: SelfChecked) -> None:
        got.append(result)

    task = selfcheck.start(turn, keep)
    assert task is not None
    await asyncio.wait_for(provider.started.wait(), 5)
    session.start("And of Spain?")  # a new question
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == []
    assert all(call.closed for call in provider.inner.calls[1:])


async def test_stop_cancels_the_running_self_check() -> None:
    provider = SlowSamples()
    session = make_session(provider, samples=2)
    turn = session.start("Capital of France?")
    await turn.run(_ignore)
    task = selfcheck.start(turn, _ignore_result)
    assert task is not None
    await asyncio.wait_for(provider.started.wait(), 5)
    assert session.cancel_selfcheck()  # what Stop and the end of the session do
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(call.closed for call in provider.inner.calls[1:])


async def test_cancelling_a_live_answer_during_its_self_check_ends_with_done_only() -> None:
    provider = SlowSamples()
    session = make_session(provider, samples=2)
    answer = LiveAnswers(grace=5, retention=0).start(session.start("Capital of France?"), selfcheck=True)
    await asyncio.wait_for(provider.started.wait(), 5)
    assert answer.cancel()
    await answer.wait()
    assert isinstance(answer.log[-1], Done) and answer.log[-1].stats.outcome == "complete"
    assert all(call.closed for call in provider.inner.calls[1:])


async def test_a_failing_sample_gives_the_failure_line_never_a_pass() -> None:
    provider = SlowSamples(fail=ConnectionLost("connection reset by peer"))
    session = make_session(provider, samples=3)
    turn = session.start("Capital of France?")
    await turn.run(_ignore)
    result = await selfcheck.check(turn)
    assert result.agreement is None and result.flagged
    assert result.line().startswith("self-check failed: ")
    assert "connection reset by peer" in result.line() and "unchecked" in result.line()
    assert result.threshold == DEFAULT_THRESHOLD


async def test_no_self_check_for_an_answer_that_did_not_complete() -> None:
    provider = ScriptedProvider(CHUNKS, fail_at=1, fail_with=ConnectionLost("gone"))
    session = ChatSession(Settings(provider="echo", selfcheck=2, retries=0))
    session._provider, session._provider_key = provider, ("echo", None, session.settings.echo_rate)
    turn = session.start("Capital of France?")
    await turn.run(_ignore)
    assert not selfcheck.wanted(turn)


@pytest.mark.parametrize("value", [-1, 11, True, 2.5, "three"])
def test_invalid_sample_counts_are_refused_in_one_line(value: object) -> None:
    with pytest.raises(InvalidSetting) as refused:
        Settings(provider="echo", selfcheck=value)  # type: ignore[arg-type]
    assert "selfcheck" in str(refused.value) and "\n" not in str(refused.value)


def test_the_env_var_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFCHECK", "2")
    assert Settings.from_env(provider="echo").selfcheck == 2
    monkeypatch.setenv("SELFCHECK", "lots")
    with pytest.raises(InvalidSetting, match="selfcheck"):
        Settings.from_env(provider="echo")


async def _ignore(event: Event) -> None:
    return None


async def _ignore_result(result: SelfChecked) -> None:
    return None


async def test_no_self_check_for_an_answer_the_token_limit_cut_off() -> None:
    """A cut-off answer is not finished: full samples would disagree with its missing end, a false flag."""
    session = ChatSession(Settings(provider="echo", selfcheck=2, max_tokens=2, echo_rate=0))
    turn = session.start("The capital of France is Paris.")
    await turn.run(_ignore)
    assert turn.stats is not None and turn.stats.cut_off and turn.stats.outcome == "complete"
    assert not selfcheck.wanted(turn)
