"""Fault injection: the spec's CLI form, where faults fire, and wrapping any provider."""

from __future__ import annotations

import asyncio

import pytest

from agents.errors import ConnectionLost, InvalidSetting, RateLimited, ServerError
from agents.faults import FaultInjector, FaultSpec, parse_fault
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.echo import EchoProvider, pieces

TEXT = "one two three four five six seven eight nine ten"
MESSAGES = [ChatMessage("user", TEXT)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("disconnect@20", FaultSpec("disconnect", "once", at=20)),
        ("stall@5", FaultSpec("stall", "once", at=5)),
        ("rate_limit@0", FaultSpec("rate_limit", "once", at=0)),
        ("server_error@10x5", FaultSpec("server_error", "once", at=10, count=5)),
        ("Disconnect@every20", FaultSpec("disconnect", "every", at=20)),
        (" server_error@p0.25x2 ", FaultSpec("server_error", "probability", probability=0.25, count=2)),
        ("disconnect@p1", FaultSpec("disconnect", "probability", probability=1.0)),
    ],
)
def test_parse_accepts_the_cli_forms(text: str, expected: FaultSpec) -> None:
    spec = parse_fault(text)
    assert spec == expected
    assert parse_fault(str(spec)) == spec  # the CLI form round-trips


@pytest.mark.parametrize("text", ["off", "", "OFF", "none"])
def test_parse_off(text: str) -> None:
    assert parse_fault(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "disconnect",
        "explode@3",
        "disconnect@-1",
        "disconnect@x3",
        "disconnect@3x0",
        "disconnect@3x101",
        "disconnect@every0",
        "disconnect@p0",
        "disconnect@p1.5",
        "disconnect@3y2",
        "@3",
        "disconnect@ 3",
    ],
)
def test_parse_rejects_bad_specs_with_one_clear_line(text: str) -> None:
    with pytest.raises(InvalidSetting) as info:
        parse_fault(text)
    message = str(info.value)
    assert "\n" not in message and message.startswith("Invalid setting fault")


def test_probability_is_seeded_so_runs_repeat() -> None:
    def fired(seed: int) -> list[int]:
        injector = FaultInjector(FaultSpec("disconnect", "probability", probability=0.3, seed=seed))
        hits = []
        for pos in range(200):
            injector.position = pos
            if injector.due():
                hits.append(pos)
        return hits

    assert fired(1) == fired(1) != fired(2)
    assert 30 < len(fired(1)) < 90


def test_once_fires_count_times_at_its_position_only() -> None:
    injector = FaultInjector(FaultSpec("disconnect", "once", at=3, count=2))
    results = []
    for pos in (0, 1, 2, 3, 3, 3, 4):
        injector.position = pos
        results.append(injector.due())
    assert results == [False, False, False, True, True, False, False] and injector.injected == 2


def test_every_fires_at_each_multiple() -> None:
    injector = FaultInjector(FaultSpec("server_error", "every", at=4))
    hits = []
    for pos in range(13):
        injector.position = pos
        if injector.due():
            hits.append(pos)
    assert hits == [4, 8, 12]


async def collect(stream) -> tuple[list[str], BaseException | None]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    try:
        async for piece in stream:
            out.append(piece)
    except Exception as err:  # noqa: BLE001 - the test inspects it
        return out, err
    return out, None


@pytest.mark.parametrize(
    ("kind", "error"), [("disconnect", ConnectionLost), ("rate_limit", RateLimited), ("server_error", ServerError)]
)
async def test_wrapped_provider_breaks_at_token_n_and_continues_after(kind: str, error: type) -> None:
    echo = EchoProvider(rate=0)
    injector = FaultInjector(parse_fault(f"{kind}@4") or FaultSpec())
    faulty = injector.wrap(echo)
    assert faulty.name == "echo" and faulty.model == echo.model
    first, err = await collect(faulty.stream(MESSAGES, GenerationParams()))
    assert first == pieces(TEXT)[:4] and isinstance(err, error)
    assert err.partial == "".join(first)
    if isinstance(err, RateLimited):
        assert err.retry_after is not None and err.retry_after > 0
    if isinstance(err, ServerError):
        assert err.status == 503
    rest, err2 = await collect(faulty.stream(MESSAGES, GenerationParams(), continue_from="".join(first)))
    assert err2 is None and "".join(first + rest) == TEXT
    assert injector.position == len(pieces(TEXT))


async def test_fault_at_the_end_fires_after_the_last_token() -> None:
    n = len(pieces(TEXT))
    faulty = FaultInjector(FaultSpec("disconnect", "once", at=n)).wrap(EchoProvider(rate=0))
    out, err = await collect(faulty.stream(MESSAGES, GenerationParams()))
    assert "".join(out) == TEXT and isinstance(err, ConnectionLost)


async def test_stall_hangs_until_cancelled_and_closes_the_inner_stream() -> None:
    closed = asyncio.Event()

    class Inner:
        name = "inner"
        exact_continuation = True
        model = "m"

        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[no-untyped-def]
            try:
                for piece in ("a", "b", "c"):
                    yield piece
            finally:
                closed.set()

    stream = FaultInjector(FaultSpec("stall", "once", at=2)).wrap(Inner()).stream(MESSAGES, GenerationParams())
    assert [await anext(stream), await anext(stream)] == ["a", "b"]
    read = asyncio.ensure_future(anext(stream))
    done, _ = await asyncio.wait((read,), timeout=0.05)
    assert not done  # it hangs: no token, no error
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    assert closed.is_set()
    await stream.aclose()
