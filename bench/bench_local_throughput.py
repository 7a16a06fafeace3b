"""Tokens/s through the CLI path against the best raw llama-cpp-python loop (issues 2 and 14).

Same model, same prompt, temperature 0.  The raw loop is measured at every
thread count from 1 to the number of cores, and the app is compared with the
best of them, not with a raw loop at the app's own thread count (which would
hide a bad default).  Runs are interleaved and repeated and the medians
compared, because the machine is shared and noisy.  Also prints how long Stop
takes to halt the worker, and the event loop's lag while the model generates.
Target: CLI / best raw >= 0.97.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.providers.base import ChatMessage, GenerationParams  # noqa: E402
from agents.providers.local import (  # noqa: E402
    DEFAULT_N_CTX,
    DEFAULT_SAMPLING,
    LocalProvider,
    default_threads,
    locate_model,
)
from chat.session import ChatSession  # noqa: E402
from chat.settings import Settings  # noqa: E402
from cli.main import ConsoleSink, answer  # noqa: E402

PROMPT = "Write a detailed story about a lighthouse keeper and a storm."
SYSTEM = "You are a helpful assistant."
MAX_TOKENS = 200
REPS = 10
TARGET = 0.97


def raw_rate(llm: object) -> float:
    """Tokens/s after the first token, with llama-cpp-python's own streaming chat API."""
    first = last = 0.0
    count = 0
    stream = llm.create_chat_completion(  # type: ignore[attr-defined]
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        temperature=0.0, max_tokens=MAX_TOKENS, stream=True,
        top_k=DEFAULT_SAMPLING.top_k, top_p=DEFAULT_SAMPLING.top_p, min_p=DEFAULT_SAMPLING.min_p,
        repeat_penalty=DEFAULT_SAMPLING.repeat_penalty,
    )
    for chunk in stream:
        if chunk["choices"][0]["delta"].get("content"):
            now = time.perf_counter()
            first = first or now
            last = now
            count += 1
    return (count - 1) / (last - first)


async def cli_rate() -> float:
    """Tokens/s after the first token, through the CLI's session, runner and console sink."""
    session = ChatSession(Settings(provider="local", temperature=0.0, max_tokens=MAX_TOKENS, system_prompt=SYSTEM))
    code, stats = await answer(session, PROMPT, ConsoleSink(io.StringIO(), io.StringIO()))
    assert code == 0 and stats is not None and stats.tokens_per_s is not None
    return stats.tokens_per_s


async def stop_latency_ms(provider: LocalProvider) -> float:
    """Milliseconds from closing a stream (Stop) until the worker thread is idle.

    The worker is idle first (nothing left from earlier runs), so only the stopped
    answer's own wind-down is timed.
    """
    await provider.engine.wait_idle()
    stream = provider.stream([ChatMessage("user", PROMPT)], GenerationParams(temperature=0.0, max_tokens=400))
    received = 0
    async for piece in stream:
        received += isinstance(piece, str)
        if received == 20:
            break
    start = time.perf_counter()
    await stream.aclose()
    await provider.engine.wait_idle()
    return (time.perf_counter() - start) * 1000


async def loop_lag_ms() -> list[float]:
    """Lag of a 5 ms ticker while the model generates an answer."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append((time.perf_counter() - start - 0.005) * 1000)

    task = asyncio.create_task(ticker())
    await cli_rate()
    done.set()
    await task
    return lags


def main() -> None:
    from llama_cpp import Llama

    cores = len(os.sched_getaffinity(0))
    raws = {
        n: Llama(model_path=str(locate_model()), n_ctx=DEFAULT_N_CTX, n_threads=n, n_threads_batch=n, verbose=False)
        for n in range(1, cores + 1)
    }
    provider = LocalProvider()
    asyncio.run(provider.engine.ensure_loaded())
    raw: dict[int, list[float]] = {n: [] for n in raws}
    ours = []
    for _ in range(REPS):
        for n, llm in raws.items():
            raw[n].append(raw_rate(llm))
        ours.append(asyncio.run(cli_rate()))
    stops = [asyncio.run(stop_latency_ms(provider)) for _ in range(5)]
    lags = sorted(asyncio.run(loop_lag_ms()))
    medians = {n: statistics.median(rates) for n, rates in raw.items()}
    best = max(medians, key=lambda n: medians[n])
    raw_med, ours_med = medians[best], statistics.median(ours)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
    for n, rates in raw.items():
        mark = "  <- best" if n == best else ""
        print(f"raw loop, {n} thread{'s' if n > 1 else ' '}   : {medians[n]:7.1f} tok/s  "
              f"(runs: {', '.join(f'{r:.0f}' for r in rates)}){mark}")
    print(f"app threads (default)     : {provider.engine.n_threads} (LOCAL_THREADS overrides; cores: {cores}; "
          f"default_threads() = {default_threads()})")
    print(f"CLI path (runner + sink)  : {ours_med:7.1f} tok/s  (runs: {', '.join(f'{r:.0f}' for r in ours)})")
    ratio = ours_med / raw_med
    print(f"ratio CLI / best raw      : {ratio:7.3f}  (target >= {TARGET}; ratio to target {ratio / TARGET:.3f})")
    stop_med, stop_max = statistics.median(stops), max(stops)
    print(f"Stop -> worker idle       : median {stop_med:.1f} ms, max {stop_max:.1f} ms (target <= 100 ms)")
    print(f"loop lag while generating : p50 {statistics.median(lags):.2f} ms, p99 {p99:.2f} ms over {len(lags)} ticks")


if __name__ == "__main__":
    main()
