"""The canonical prompt layout's price and gain: a greedy 5-turn conversation with ~250-token answers.

Prints, for the code under ``--root`` (default: this checkout; point it at an older
checkout to compare), each follow-up's time to first token when sent at once after the
previous answer (a cache hit), then the cold run: a fresh model answering turn 5 of the
same history (its earlier answers read one token at a time, in the canonical layout).
The history is fixed text (``HISTORY``), so both checkouts read the same prompt.
Usage: ``python bench/bench_local_layout.py [--root DIR] [--reps N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

QUESTIONS = [
    "Write a long story about a lighthouse keeper.",
    "Now write a long story about her brother, a baker.",
    "Write a long story about the town they live in.",
    "Write a long story about the storm that hit the town.",
    "Write a long story about how the town rebuilt.",
]
PARAMS = {"temperature": 0.0, "max_tokens": 250}


async def first_token(model: object, messages: list, params: object) -> tuple[float, str]:
    started = time.perf_counter()
    ttft = None
    text = []
    async for piece in model.stream(messages, params):  # type: ignore[attr-defined]
        if isinstance(piece, str) and piece:
            if ttft is None:
                ttft = time.perf_counter() - started
            text.append(piece)
    return ttft or 0.0, "".join(text)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    from agents.providers.base import ChatMessage, GenerationParams
    from agents.providers.local import LocalModel, locate_model

    params = GenerationParams(**PARAMS)
    model = LocalModel(locate_model(), slots=1)
    await model.ensure_loaded()
    messages = [ChatMessage("system", "You tell stories.")]
    follow_ups = []
    for turn, question in enumerate(QUESTIONS):
        messages.append(ChatMessage("user", question))
        ttft, answer = await first_token(model, messages, params)
        print(f"turn {turn + 1} sent at once: TTFT {ttft:.3f} s, answer {len(answer)} chars")
        if turn:
            follow_ups.append(ttft)
        if turn < len(QUESTIONS) - 1:
            messages.append(ChatMessage("assistant", answer))
    model.close()
    print(f"follow-ups sent at once: median TTFT {statistics.median(follow_ups):.3f} s")
    colds = []
    for _ in range(args.reps):
        cold = LocalModel(locate_model(), slots=1)
        await cold.ensure_loaded()
        ttft, _ = await first_token(cold, messages, params)
        print(f"cold turn 5 (fresh model): TTFT {ttft:.3f} s, prompt tokens read {cold.prompt_tokens_evaluated}")
        colds.append(ttft)
        cold.close()
    print(f"cold turn 5: median TTFT {statistics.median(colds):.3f} s  (root {args.root})")


if __name__ == "__main__":
    asyncio.run(main())
