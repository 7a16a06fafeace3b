"""Buffering benchmark (issue 4): a 2,000 tokens/s echo stream of 20k tokens through the real Chainlit emit path.

Each run streams the echo provider (paced on an absolute schedule, so it keeps
2,000 tokens/s on average even though the event loop sleeps in 1 ms steps)
through the session, the runner, the buffering stage and ``ui.sink.ChainlitSink``
into a real Chainlit websocket context whose socket JSON-encodes every event
(as socket.io would) and drops it.  No browser, no server.

Reported for the default strategy and for ``token``:

- updates/s: ``stream_start`` + ``stream_token`` events per second of streaming;
- overhead/token: process CPU time of the run minus that of the same stream read
  by the bare runner with a no-op consumer (run before and after; their mean),
  divided by the tokens;
- event-loop lag p99: a ticker task asks for 5 ms sleeps and records how late it wakes.

Targets (default strategy): <= 25 updates/s, <= 20 us/token, lag p99 <= 20 ms.
Each figure is printed with its ratio to the target (<= 1.00 meets it).
Exit status 0 when the default strategy meets all three.

    .venv/bin/python bench/bench_buffering.py [--tokens 20000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # Chainlit reads .chainlit/config.toml from the working directory

from chainlit.context import init_ws_context  # noqa: E402
from chainlit.session import WebsocketSession  # noqa: E402

from agents.buffering import DEFAULT_SPEC  # noqa: E402
from agents.events import Done, Event  # noqa: E402
from agents.providers.base import ChatMessage, GenerationParams  # noqa: E402
from agents.providers.echo import EchoProvider  # noqa: E402
from agents.runner import Runner  # noqa: E402
from chat.session import ChatSession, Turn  # noqa: E402
from chat.settings import Settings  # noqa: E402
from ui.sink import ChainlitSink  # noqa: E402

TARGET_UPDATES_PER_S = 25.0
TARGET_US_PER_TOKEN = 20.0
TARGET_LAG_P99_MS = 20.0
TICK_S = 0.005


class FakeSocket:
    """Stands in for socket.io: encodes each event as JSON, counts it, drops it."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.bytes = 0

    async def emit(self, event: str, data: Any) -> None:
        self.bytes += len(json.dumps(data, default=str))
        self.counts[event] = self.counts.get(event, 0) + 1

    async def emit_call(self, *args: Any, **kwargs: Any) -> None:
        return None


def paced(rate: float) -> Callable[[float], Awaitable[None]]:
    """A sleep for the echo provider that keeps ``rate`` tokens/s on average (catching up after a late wake)."""
    due: list[float] = []

    async def sleep(_: float) -> None:
        now = time.perf_counter()
        if not due:
            due.append(now)
        due[0] += 1.0 / rate
        await asyncio.sleep(max(0.0, due[0] - now))

    return sleep


class Ticker:
    """Measures event-loop lag: how late a 5 ms sleep wakes up."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags.append(max(0.0, time.perf_counter() - start - TICK_S))

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def p99_ms(self) -> float:
        lags = sorted(self.lags)
        return lags[min(len(lags) - 1, int(0.99 * len(lags)))] * 1000 if lags else 0.0


@dataclass
class Result:
    name: str
    tokens: int
    stream_s: float
    cpu_s: float
    updates: int
    chunks: int
    lag_p99_ms: float
    exact: bool

    @property
    def updates_per_s(self) -> float:
        return self.updates / self.stream_s


def prompt(tokens: int) -> str:
    return " word" * tokens  # the echo provider splits this into `tokens` pieces of " word"


async def baseline(tokens: int, rate: float) -> tuple[float, float]:
    """CPU and wall seconds of the bare runner reading the stream, with a no-op consumer."""
    runner = Runner(EchoProvider(rate, sleep=paced(rate)))
    messages = [ChatMessage("user", prompt(tokens))]
    with Ticker():
        cpu, wall = time.process_time(), time.perf_counter()
        async for _ in runner.run(messages, GenerationParams()):
            pass
        return time.process_time() - cpu, time.perf_counter() - wall


async def through_chainlit(spec: str, tokens: int, rate: float) -> Result:
    """One answer through the session, the buffering stage and the Chainlit sink."""
    socket = FakeSocket()
    init_ws_context(
        WebsocketSession(
            id=str(uuid.uuid4()), socket_id=str(uuid.uuid4()),
            emit=socket.emit,  # type: ignore[arg-type]  # Chainlit's hint says sync; socket.io's emit is async
            emit_call=socket.emit_call,
            user_env={}, client_type="webapp",
        )
    )  # fmt: skip
    text = prompt(tokens)
    session = ChatSession(Settings(provider="echo", buffer=spec, max_input_chars=len(text) + 1, system_prompt=""))
    turn = Turn(session, text, EchoProvider(rate, sleep=paced(rate)))
    sink = ChainlitSink()
    first: list[float] = []
    last: list[float] = []
    done: list[Done] = []

    async def handle(event: Event) -> None:
        now = time.perf_counter()
        if not first:
            first.append(now)
        if isinstance(event, Done):
            last.append(now)
            done.append(event)
        await sink.handle(event)

    with Ticker() as ticker:
        cpu = time.process_time()
        await turn.run(handle)
        cpu = time.process_time() - cpu
    updates = socket.counts.get("stream_start", 0) + socket.counts.get("stream_token", 0)
    return Result(
        name=spec, tokens=tokens, stream_s=last[0] - first[0], cpu_s=cpu, updates=updates,
        chunks=done[0].stats.chunks, lag_p99_ms=ticker.p99_ms(),
        exact=done[0].text == text and sink.message.content == text,
    )  # fmt: skip


def show(result: Result, base_cpu: float, *, judged: bool) -> bool:
    overhead_us = max(0.0, result.cpu_s - base_cpu) / result.tokens * 1e6
    rows = [
        ("updates/s", result.updates_per_s, TARGET_UPDATES_PER_S, ""),
        ("overhead/token", overhead_us, TARGET_US_PER_TOKEN, " us"),
        ("loop lag p99", result.lag_p99_ms, TARGET_LAG_P99_MS, " ms"),
    ]
    label = f"{result.name} (default)" if judged else result.name
    rate = result.tokens / result.stream_s
    print(f"\n{label}: {result.tokens:,} tokens in {result.stream_s:.2f} s ({rate:,.0f} tok/s), "
          f"{result.updates:,} updates, {result.chunks:,} chunks, CPU {result.cpu_s:.2f} s, "
          f"text {'exact' if result.exact else 'WRONG'}")  # fmt: skip
    ok = result.exact
    for name, value, target, unit in rows:
        ratio = value / target
        verdict = ("meets" if ratio <= 1 else "MISSES") if judged else "for comparison"
        print(f"  {name:<15} {value:>10,.1f}{unit:<3}  target <= {target:g}{unit}  ratio {ratio:6.2f}  {verdict}")
        ok = ok and ratio <= 1
    return ok


async def main(tokens: int, rate: float) -> int:
    print(f"Buffering benchmark: {tokens:,} tokens at {rate:,.0f} tokens/s, echo -> runner -> buffering -> "
          "ChainlitSink -> Chainlit emitter -> JSON-encoding fake socket")  # fmt: skip
    before, base_wall = await baseline(tokens, rate)
    default = await through_chainlit(DEFAULT_SPEC, tokens, rate)
    token = await through_chainlit("token", tokens, rate)
    after, _ = await baseline(tokens, rate)
    base_cpu = (before + after) / 2  # run before and after: the machine is shared, so CPU time drifts
    print(f"baseline (bare runner, no-op consumer): CPU {before:.2f} s / {after:.2f} s over {base_wall:.2f} s "
          f"= {base_cpu / tokens * 1e6:.1f} us/token "
          f"(noise about ±{abs(before - after) / 2 / tokens * 1e6:.1f} us/token)")  # fmt: skip
    ok = show(default, base_cpu, judged=True)
    show(token, base_cpu, judged=False)
    print(f"\n{'token':>8} vs {DEFAULT_SPEC}: {token.updates_per_s / default.updates_per_s:,.0f}x the updates/s, "
          f"{(token.cpu_s - base_cpu) / max(default.cpu_s - base_cpu, 1e-9):,.1f}x the overhead")  # fmt: skip
    print("default strategy:", "meets all targets" if ok else "MISSES a target")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=2_000.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.tokens, args.rate)))
