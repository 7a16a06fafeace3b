"""The resume matrix: every fault kind, at the first, a middle and the last token, 1, max and max+1 times.

On the echo provider the whole matrix runs; on the local model (greedy, a few
tokens) a slice of it does, and each resumed answer must equal an unbroken run
byte for byte.  Backoff waits are injected; stalls use a short real timer
because a stalled read hangs for good.
"""

from __future__ import annotations

import pytest

from agents.errors import RetryableError
from agents.events import Done, Event, Failed, Notice, TextDelta
from agents.faults import KINDS, FaultInjector, FaultSpec
from agents.providers.base import ChatMessage, GenerationParams, Provider
from agents.providers.echo import EchoProvider, pieces
from agents.retry import RetryPolicy
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import FakeClock, RecordingSleep

MAX = 3
STALL = 0.05
ECHO_TEXT = "Streams break mid-answer: connections drop, servers answer 429 or 5xx, and a stream stalls."
ECHO_TOKENS = len(pieces(ECHO_TEXT))


async def run_with_fault(
    provider: Provider,
    messages: list[ChatMessage],
    params: GenerationParams,
    spec: FaultSpec | None,
    stall: float = STALL,
) -> tuple[list[Event], Runner]:
    runner = Runner(
        provider,
        clock=FakeClock(),
        retry=RetryPolicy(max_attempts=MAX),
        stall_timeout=stall,
        faults=FaultInjector(spec) if spec else None,
        sleep=RecordingSleep(),
    )
    return [e async for e in runner.run(messages, params)], runner


def check(events: list[Event], runner: Runner, reference: str, at: int, count: int, reference_tokens: int) -> None:
    """The shared assertions: one ending, nothing lost or repeated, stats and notices that add up."""
    ends = [e for e in events if isinstance(e, Done | Failed)]
    assert len(ends) == 1 and ends[0] is events[-1]
    end = ends[0]
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown == end.text == runner.text, "what was shown is exactly the answer's text"
    retrying = [e for e in events if isinstance(e, Notice) and e.kind == "retrying"]
    fires = at <= reference_tokens
    if not fires:
        assert isinstance(end, Done) and end.text == reference and retrying == []
    elif count <= MAX:
        assert isinstance(end, Done), end
        assert end.text == reference, "the resumed answer equals an unbroken one"
        assert end.stats.outcome == "complete" and end.stats.retries == count
        assert end.stats.resumes == (at,) * count and len(retrying) == count
    else:
        assert isinstance(end, Failed) and isinstance(end.error, RetryableError)
        assert end.stats.outcome == "interrupted" and end.stats.retries == MAX
        assert reference.startswith(end.text) and end.stats.tokens == at, "nothing shown is lost"
        assert len(retrying) == MAX


@pytest.mark.parametrize("count", [1, MAX, MAX + 1])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["first", "middle", "last", "end"])
async def test_echo_matrix(where: str, kind: str, count: int) -> None:
    at = {"first": 0, "middle": ECHO_TOKENS // 2, "last": ECHO_TOKENS - 1, "end": ECHO_TOKENS}[where]
    spec = FaultSpec(kind, "once", at=at, count=count)  # type: ignore[arg-type]
    messages = [ChatMessage("user", ECHO_TEXT)]
    events, runner = await run_with_fault(EchoProvider(rate=0), messages, GenerationParams(), spec)
    check(events, runner, ECHO_TEXT, at, count, ECHO_TOKENS)


async def test_echo_every_n_tokens_completes_with_a_retry_each_time() -> None:
    spec = FaultSpec("disconnect", "every", at=4)
    events, runner = await run_with_fault(
        EchoProvider(rate=0), [ChatMessage("user", ECHO_TEXT)], GenerationParams(), spec
    )
    assert isinstance(events[-1], Done) and events[-1].text == ECHO_TEXT
    assert runner.stats is not None and runner.stats.resumes == tuple(range(4, ECHO_TOKENS + 1, 4))


async def test_echo_max_tokens_is_the_whole_answer_limit_across_a_resume() -> None:
    params = GenerationParams(max_tokens=7)
    reference = "".join(pieces(ECHO_TEXT)[:7])
    events, _ = await run_with_fault(
        EchoProvider(rate=0), [ChatMessage("user", ECHO_TEXT)], params, FaultSpec("disconnect", "once", at=3)
    )
    assert isinstance(events[-1], Done) and events[-1].text == reference


# -- the local model: greedy decoding, short answers ------------------------------------------

LOCAL_MESSAGES = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Name three rivers in Europe and say one thing about each."),
]
LOCAL_PARAMS = GenerationParams(temperature=0, max_tokens=24)
#: Long enough that a loaded 2-core machine never stalls a healthy stream (3 s gave false stalls under load);
#: only the stall case waits it out.
LOCAL_STALL = 8.0


@pytest.fixture(scope="module")
def local_provider() -> Provider:
    from agents.providers.local import LocalProvider

    return LocalProvider()


@pytest.fixture(scope="module")
def local_reference(local_provider: Provider) -> tuple[str, int]:
    """An unbroken greedy answer and its token count."""
    import asyncio

    async def reference() -> tuple[str, int]:
        events, runner = await run_with_fault(local_provider, LOCAL_MESSAGES, LOCAL_PARAMS, None, LOCAL_STALL)
        assert isinstance(events[-1], Done)
        assert runner.stats is not None
        return events[-1].text, runner.stats.tokens

    return asyncio.run(reference())


LOCAL_CASES = [
    *[(kind, "middle", 1) for kind in KINDS],
    ("disconnect", "first", 1),
    ("disconnect", "last", 1),
    ("server_error", "middle", MAX),
    ("server_error", "middle", MAX + 1),
    ("rate_limit", "first", MAX + 1),
]


@pytest.mark.model
@pytest.mark.parametrize(("kind", "where", "count"), LOCAL_CASES)
async def test_local_matrix_is_byte_identical_to_an_unbroken_greedy_run(
    local_provider: Provider, local_reference: tuple[str, int], kind: str, where: str, count: int
) -> None:
    reference, tokens = local_reference
    assert tokens >= 4, "the reference answer is long enough to break in the middle"
    at = {"first": 0, "middle": tokens // 2, "last": tokens - 1}[where]
    spec = FaultSpec(kind, "once", at=at, count=count)  # type: ignore[arg-type]
    events, runner = await run_with_fault(local_provider, LOCAL_MESSAGES, LOCAL_PARAMS, spec, LOCAL_STALL)
    check(events, runner, reference, at, count, tokens)


# -- through a session: giving up keeps everything, Continue carries on -----------------------


async def test_after_giving_up_nothing_shown_is_lost_and_continue_finishes_the_answer() -> None:
    session = ChatSession(Settings(provider="echo", echo_rate=0, fault=f"server_error@5x{MAX + 1}", retries=MAX))
    turn = session.start(ECHO_TEXT)
    turn.runner.sleep = RecordingSleep()
    seen: list[Event] = []

    async def handle(event: Event) -> None:
        seen.append(event)

    stats = await turn.run(handle)
    partial = "".join(pieces(ECHO_TEXT)[:5])
    assert stats is not None and stats.outcome == "interrupted"
    assert isinstance(seen[-1], Failed) and seen[-1].text == partial == turn.text
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == partial
    assert session.history[-1] == ChatMessage("assistant", partial), "the partial answer stays in the history"

    more = session.continue_last()
    more.runner.sleep = RecordingSleep()
    seen.clear()
    stats = await more.run(handle)
    assert stats is not None and stats.outcome == "complete" and stats.retries == 0  # the spent fault stays spent
    assert isinstance(seen[-1], Done) and seen[-1].text == ECHO_TEXT == more.text
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == ECHO_TEXT[len(partial) :]
    assert session.history[-2:] == [ChatMessage("user", ECHO_TEXT), ChatMessage("assistant", ECHO_TEXT)]


async def test_continue_with_nothing_to_continue_is_a_clear_input_error() -> None:
    from agents.errors import InputError

    with pytest.raises(InputError, match="no answer to continue"):
        ChatSession(Settings(provider="echo")).continue_last()


@pytest.mark.model
async def test_local_greedy_resume_is_exact_even_after_another_answer_used_the_model(
    local_provider: Provider, local_reference: tuple[str, int]
) -> None:
    reference, tokens = local_reference
    other = [LOCAL_MESSAGES[0], ChatMessage("user", "Say hello.")]
    await run_with_fault(local_provider, other, LOCAL_PARAMS, None, LOCAL_STALL)  # reuses the system prompt's cache
    spec = FaultSpec("disconnect", "every", at=5)
    events, runner = await run_with_fault(local_provider, LOCAL_MESSAGES, LOCAL_PARAMS, spec, LOCAL_STALL)
    assert isinstance(events[-1], Done) and events[-1].text == reference
    assert runner.stats is not None and runner.stats.retries == tokens // 5
