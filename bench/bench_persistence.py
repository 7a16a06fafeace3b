"""Persistence benchmark (issue 13): what saving partial answers costs a stream, and how often it writes.

Each answer is the echo provider at 500 tokens/s (paced on an absolute
schedule) through the same path the Chainlit UI takes (``ui.live_view.play``:
a live answer, the runner, buffering, ``ChainlitSink``) into a Chainlit
websocket context whose socket JSON-encodes every event and drops it.  With
persistence on, Chainlit's data layer is ours on a SQLite file, and the
answer's step is checkpointed while it streams; off, there is no data layer.
On and off runs are interleaved (the machine is shared).

Printed:

- tokens/s on and off (median of the runs) and their ratio; target >= 0.97;
- database writes per answer for answers of different lengths and speeds:
  they follow the answer's duration (the first text at once, then about one per second, plus the final
  write), not its token count.

    .venv/bin/python bench/bench_persistence.py [--tokens 1500] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # Chainlit reads .chainlit/config.toml from the working directory

import chainlit.data  # noqa: E402
from chainlit.config import config  # noqa: E402
from chainlit.context import context, init_ws_context  # noqa: E402
from chainlit.session import WebsocketSession  # noqa: E402
from chainlit.user import User  # noqa: E402

from agents.providers.echo import EchoProvider  # noqa: E402
from chat.session import ChatSession  # noqa: E402
from chat.settings import Settings  # noqa: E402
from store.database import database_url, prepare  # noqa: E402
from store.datalayer import DataLayer  # noqa: E402
from ui import history, live_view  # noqa: E402

TARGET_RATIO = 0.97


class FakeSocket:
    """Stands in for socket.io: encodes each event as JSON and drops it."""

    async def emit(self, event: str, data: Any) -> None:
        json.dumps(data, default=str)

    async def emit_call(self, *args: Any, **kwargs: Any) -> None:
        return None


def paced(rate: float) -> Callable[[float], Awaitable[None]]:
    """A sleep that keeps ``rate`` tokens/s on average (catching up after a late wake)."""
    due: list[float] = []

    async def sleep(_: float) -> None:
        now = time.perf_counter()
        if not due:
            due.append(now)
        due[0] += 1.0 / rate
        await asyncio.sleep(max(0.0, due[0] - now))

    return sleep


def use(layer: DataLayer | None) -> None:
    """Make ``layer`` Chainlit's data layer (``None``: persistence off)."""
    config.code.data_layer = lambda: layer  # type: ignore[assignment,return-value]
    chainlit.data._data_layer = None
    chainlit.data._data_layer_initialized = False


async def answer(tokens: int, rate: float, user: Any, layer: DataLayer | None = None) -> tuple[float, float, int]:
    """One answer through the UI's path, in a thread that exists; returns (tokens/s, seconds, database writes)."""
    socket = FakeSocket()
    init_ws_context(
        WebsocketSession(
            id=str(uuid.uuid4()), socket_id=str(uuid.uuid4()),
            emit=socket.emit,  # type: ignore[arg-type]
            emit_call=socket.emit_call, user_env={}, client_type="webapp",
        )
    )  # fmt: skip
    context.session.user = user
    context.session.has_first_interaction = True
    text = " word" * tokens
    session = ChatSession(Settings(provider="echo", max_input_chars=len(text) + 1, system_prompt=""))
    session._provider = EchoProvider(rate, sleep=paced(rate))
    session._provider_key = ("echo", None, session.settings.echo_rate)
    turn = session.start(text)
    if layer is not None:
        await layer.update_thread(context.session.thread_id, name="bench", user_id=user.id)
    await settle()
    before = layer.writes if layer is not None else 0
    start = time.perf_counter()
    await live_view.play(session, turn, for_id=None)
    seconds = time.perf_counter() - start
    await settle()  # Chainlit stores sent messages in background tasks
    stats = turn.stats
    assert stats is not None and stats.outcome == "complete" and stats.tokens == tokens, stats
    return float(stats.tokens_per_s or 0.0), seconds, (layer.writes - before if layer is not None else 0)


async def settle() -> None:
    """Wait for every other task (Chainlit's fire-and-forget database writes) to end."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    await asyncio.gather(*others, return_exceptions=True)


async def main(tokens: int, runs: int, rate: float) -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-persist-"))
    url = database_url(f"sqlite:///{folder / 'chat.db'}") or ""
    await prepare(url)
    layer = DataLayer(url)
    use(layer)
    init_ws_context(
        WebsocketSession(id="setup", socket_id="setup", emit=FakeSocket().emit, emit_call=FakeSocket().emit_call,  # type: ignore[arg-type]
                         user_env={}, client_type="webapp")
    )  # fmt: skip
    user = await layer.create_user(User(identifier="bench"))

    on: list[float] = []
    off: list[float] = []
    for _ in range(runs):  # interleaved: on, off, on, off...
        use(layer)
        on.append((await answer(tokens, rate, user, layer))[0])
        use(None)
        off.append((await answer(tokens, rate, user))[0])
    ratio = statistics.median(on) / statistics.median(off)
    print(f"echo at {rate:g} tok/s, {tokens} tokens per answer, {runs} runs each, interleaved")
    print(f"  persistence off: {statistics.median(off):8.1f} tok/s (median; runs {', '.join(f'{x:.1f}' for x in off)})")
    print(f"  persistence on:  {statistics.median(on):8.1f} tok/s (median; runs {', '.join(f'{x:.1f}' for x in on)})")
    print(f"  on / off = {ratio:.3f} (target >= {TARGET_RATIO}; ratio to target {ratio / TARGET_RATIO:.3f})")

    use(layer)
    print("database writes per answer (the first text at once, a checkpoint per second; then the answer, its stats"
          " line, the final write):")  # fmt: skip
    print(f"  {'tokens':>7} {'tok/s':>7} {'seconds':>8} {'writes':>7} {'writes/s':>9}")
    bounded = True
    for count, speed in ((250, 500.0), (1000, 500.0), (2000, 2000.0), (2000, 500.0), (4000, 500.0)):
        _, seconds, writes = await answer(count, speed, user, layer)
        print(f"  {count:>7} {speed:>7g} {seconds:>8.2f} {writes:>7} {writes / seconds:>9.2f}")
        # About one checkpoint a second, plus a fixed four: the first text's checkpoint (written at once, so a
        # kill in the first second leaves the answer behind), the answer's and the stats line's steps, the final write.
        bounded &= writes <= seconds / history.CHECKPOINT_S + 4
    await layer.close()
    ok = ratio >= TARGET_RATIO and bounded
    print("target met" if ok else "target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.tokens, args.runs, args.rate)))
