"""The echo provider: deterministic pieces, rate, continuation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.echo import EchoProvider, pieces


@given(st.text())
def test_pieces_concatenate_to_the_input(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text
    assert all(parts)


async def run(provider: EchoProvider, text: str, continue_from: str = "", max_tokens: int | None = None) -> list[str]:
    messages = [ChatMessage("system", "s"), ChatMessage("user", text)]
    params = GenerationParams(max_tokens=max_tokens)
    return [p async for p in provider.stream(messages, params, continue_from=continue_from) if isinstance(p, str)]


async def test_rate_sleeps_between_pieces() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    out = await run(EchoProvider(rate=20, sleep=sleep), "one two three")
    assert "".join(out) == "one two three"
    assert slept == [0.05] * len(out)


async def test_unlimited_rate_still_yields_to_the_loop() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    await run(EchoProvider(rate=0, sleep=sleep), "a b")
    assert slept and set(slept) == {0.0}


@given(st.text(min_size=1), st.data())
async def test_continuation_is_exact(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    out = await run(EchoProvider(rate=0), text, continue_from=text[:cut])
    assert text[:cut] + "".join(out) == text


async def test_max_tokens_limits_pieces() -> None:
    assert len(await run(EchoProvider(rate=0), "a b c d e f", max_tokens=2)) == 2
