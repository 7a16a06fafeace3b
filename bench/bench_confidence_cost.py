"""What the hallucination check costs the embedded model: tokens/s and TTFT with and without it (issue 18).

Same model, prompt and greedy settings through the CLI's session path, once with
``hallucination=flag`` (each token's log-probability computed from the raw
logits) and once without.  Runs alternate and repeat, and medians are compared,
because the machine is shared and noisy.  Also checks that the text is byte
for byte the same both ways.  Target: tokens/s with / without >= 0.95; TTFT unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.events import Done  # noqa: E402
from agents.providers.logits import token_logprob  # noqa: E402
from chat.session import ChatSession  # noqa: E402
from chat.settings import Settings  # noqa: E402
from tests.fakes import answer_events  # noqa: E402

PROMPT = "Write a detailed story about a lighthouse keeper and a storm."
MAX_TOKENS = 200
TARGET = 0.95
VOCAB = 49_152


async def one(guards: str) -> tuple[float, float, str, float | None, float]:
    """(tokens/s, TTFT ms, text, confidence, CPU ms per token) of one greedy answer."""
    session = ChatSession(Settings(provider="local", temperature=0.0, max_tokens=MAX_TOKENS, guards=guards,
                                   buffer="token"))  # fmt: skip
    cpu = time.process_time()
    events = await answer_events(session, PROMPT)
    cpu = time.process_time() - cpu
    done = events[-1]
    assert isinstance(done, Done), done
    stats = done.stats
    assert stats.tokens_per_s is not None and stats.ttft_ms is not None
    return stats.tokens_per_s, stats.ttft_ms, done.text, stats.confidence, cpu * 1000 / max(stats.tokens, 1)


def logsoftmax_cost(n: int = 2000) -> float:
    """Microseconds per token of ``token_logprob`` on a logit vector the size of SmolLM2's vocabulary."""
    import numpy as np

    logits = (np.random.default_rng(0).standard_normal(VOCAB) * 4).astype(np.float32)
    started = time.perf_counter()
    for i in range(n):
        token_logprob(logits, i, "x")
    return (time.perf_counter() - started) / n * 1e6


async def main(reps: int) -> None:
    await one("")  # load the model and warm the caches
    rates: dict[str, list[float]] = {"off": [], "flag": []}
    ttfts: dict[str, list[float]] = {"off": [], "flag": []}
    texts: dict[str, set[str]] = {"off": set(), "flag": set()}
    cpus: dict[str, list[float]] = {"off": [], "flag": []}
    confidence = None
    for _ in range(reps):
        for label, guards in (("off", ""), ("flag", "hallucination=flag")):
            rate, ttft, text, conf, cpu = await one(guards)
            cpus[label].append(cpu)
            rates[label].append(rate)
            ttfts[label].append(ttft)
            texts[label].add(text)
            confidence = conf if label == "flag" else confidence
    off, on = statistics.median(rates["off"]), statistics.median(rates["flag"])
    print(f"runs: {reps} each, {MAX_TOKENS} tokens max, greedy")
    print(f"tokens/s  without: {off:.1f}  with hallucination=flag: {on:.1f}  ratio: {on / off:.3f} "
          f"(target >= {TARGET})")  # fmt: skip
    cpu_off, cpu_on = statistics.median(cpus["off"]), statistics.median(cpus["flag"])
    print(f"CPU ms per token (all threads; less sensitive to a loaded machine)  without: {cpu_off:.1f}  "
          f"with: {cpu_on:.1f}  tokens per CPU-second ratio: {cpu_off / cpu_on:.3f}")  # fmt: skip
    print("each run, tokens/s:", {k: [round(r, 1) for r in v] for k, v in rates.items()})
    print(f"TTFT ms   without: {statistics.median(ttfts['off']):.0f}  with: {statistics.median(ttfts['flag']):.0f}")
    print(f"answer confidence (flag): {confidence}")
    per_token = logsoftmax_cost()
    print(f"the check's own work per token (log-softmax + top-5 of {VOCAB:,} logits): {per_token:.0f} us = "
          f"{per_token / 1e6 * off * 100:.2f}% of a token at {off:.1f} tok/s")  # fmt: skip
    print(f"text identical with and without: {texts['off'] == texts['flag'] and len(texts['off']) == 1}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8)
    asyncio.run(main(parser.parse_args().reps))
