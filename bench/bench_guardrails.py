"""Guardrail benchmark (issue 5): cost per token, TTFT added by hold-back, throughput with guards on/off.

1. Cost per token of profanity + PII checks on a 1k-token and a 20k-token echo
   stream (the pure ``StreamGuard`` with real checks, no I/O), and their ratio.
   Target: 20k / 1k <= 1.3 (checks are incremental, not rescans).
2. TTFT added in ``hold_back`` mode on the local model: time from the runner's
   first token to the guard stage's first released text, p50 over several
   prompts.  Target: p50 <= 150 ms.
3. Delivered tokens/s on the local model with profanity + PII on, divided by
   the same with guardrails off (interleaved runs, medians, temperature 0).
   Target: >= 0.90.

Each figure is printed with its ratio to the target.  Exit status 0 when all
three are met.  ``--quick`` skips the local model (parts 2 and 3).

    .venv/bin/python bench/bench_guardrails.py [--quick] [--reps 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import AsyncGenerator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.events import Done, Event, TextDelta  # noqa: E402
from agents.providers.base import ChatMessage, GenerationParams  # noqa: E402
from agents.providers.echo import pieces  # noqa: E402
from agents.runner import Runner  # noqa: E402
from guardrails.pii import PiiGuardrail  # noqa: E402
from guardrails.profanity import ProfanityGuardrail  # noqa: E402
from guardrails.stream import StreamGuard, guard_stage, run_checks  # noqa: E402

TARGET_COST_RATIO = 1.3
TARGET_TTFT_P50_MS = 150.0
TARGET_RATE_RATIO = 0.90
SENTENCE = (
    "The service answered in 120 ms on version 3.11.4, and the order ORD-2024-000123 shipped on 2024-01-15 "
    "for $1,299.99; write to the team if anything looks off. "
)
PROMPTS = [
    "Say hello in one short sentence.",
    "Name three colours.",
    "What is the capital of France?",
    "Give me a tip for writing clean code.",
    "Describe the sea in one sentence.",
    "What is 2 + 2? Answer briefly.",
    "List two fruits.",
]


def guards() -> list:
    """Profanity (block) and PII (redact): the combination the issue measures."""
    return [ProfanityGuardrail("block"), PiiGuardrail("redact")]


def cost_per_token(tokens: int) -> float:
    """Microseconds of guardrail work per token for an answer of ``tokens`` echo tokens."""
    text_pieces: list[str] = []
    while len(text_pieces) < tokens:
        text_pieces.extend(pieces(SENTENCE))
    text_pieces = text_pieces[:tokens]
    sg = StreamGuard(guards(), "hold_back")
    started = time.perf_counter()
    for piece in text_pieces:
        sg.feed(piece)
        if (window := sg.window()) is not None:
            sg.commit(window, run_checks(sg.guards, window.text))
    if (window := sg.window(final=True)) is not None:
        sg.commit(window, run_checks(sg.guards, window.text))
    return (time.perf_counter() - started) / tokens * 1e6


async def timed_run(provider: object, prompt: str, guarded: bool) -> tuple[float | None, float, int]:
    """(TTFT added in ms, delivered tokens/s, tokens) for one local-model answer."""
    marks: dict[str, float] = {}

    async def tap(name: str, events: AsyncGenerator[Event, None]) -> AsyncGenerator[Event, None]:
        async for event in events:
            if isinstance(event, TextDelta) and name not in marks:
                marks[name] = time.perf_counter()
            if isinstance(event, TextDelta):
                marks[name + "_last"] = time.perf_counter()
            yield event

    runner = Runner(provider)  # type: ignore[arg-type]
    messages = [ChatMessage("system", "You are a helpful assistant."), ChatMessage("user", prompt)]
    params = GenerationParams(temperature=0.0, max_tokens=96)
    events: AsyncGenerator[Event, None] = tap("runner", runner.run(messages, params))
    if guarded:
        events = guard_stage(guards(), "hold_back")(events)
    events = tap("out", events)
    tokens = 0
    started = time.perf_counter()
    async for event in events:
        if isinstance(event, Done):
            tokens = event.stats.tokens
    total = time.perf_counter() - started
    added = (marks["out"] - marks["runner"]) * 1000 if "out" in marks and "runner" in marks else None
    return added, tokens / total if total > 0 else 0.0, tokens


def line(label: str, value: float, unit: str, target: float, higher_is_better: bool = False) -> bool:
    """Print one figure with its ratio to target; True when met."""
    ratio = (target / value if value else float("inf")) if higher_is_better else value / target
    ok = ratio <= 1.0
    print(f"  {label:<44} {value:>10.3f} {unit:<6} target {'>=' if higher_is_better else '<='} {target:g}"
          f"  ratio {ratio:.2f} {'OK' if ok else 'MISS'}")  # fmt: skip
    return ok


async def local_figures(reps: int) -> tuple[bool, bool]:
    """Parts 2 and 3 on the embedded model."""
    from agents.providers.local import LocalProvider

    provider = LocalProvider()
    await timed_run(provider, "Warm up.", guarded=True)  # loads the model and Presidio
    added: list[float] = []
    on_rates: list[float] = []
    off_rates: list[float] = []
    for rep in range(reps):
        for prompt in PROMPTS:
            order = (True, False) if (rep % 2 == 0) else (False, True)
            for guarded in order:
                ttft_added, rate, _ = await timed_run(provider, prompt, guarded)
                if guarded:
                    on_rates.append(rate)
                    if ttft_added is not None:
                        added.append(ttft_added)
                else:
                    off_rates.append(rate)
    p50 = statistics.median(added)
    p90 = sorted(added)[int(0.9 * (len(added) - 1))]
    ratio = statistics.median(on_rates) / statistics.median(off_rates)
    print(f"\nLocal model, hold_back, {len(added)} guarded answers (96 tokens max, temperature 0):")
    ok_ttft = line("TTFT added by hold-back, p50", p50, "ms", TARGET_TTFT_P50_MS)
    print(f"  {'TTFT added, p90 (for information)':<44} {p90:>10.3f} ms")
    print(f"  delivered tok/s: guards on median {statistics.median(on_rates):.1f}, "
          f"off median {statistics.median(off_rates):.1f}")  # fmt: skip
    ok_rate = line("tokens/s on / off", ratio, "", TARGET_RATE_RATIO, higher_is_better=True)
    return ok_ttft, ok_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the local model")
    parser.add_argument("--reps", type=int, default=2, help="rounds over the prompts on the local model")
    args = parser.parse_args()
    cost_per_token(200)  # warm: build the Presidio analyzer
    # Interleaved, best of several: the machine is shared, and load only ever adds time.
    smalls: list[float] = []
    larges: list[float] = []
    for _ in range(3):
        smalls.extend(cost_per_token(1_000) for _ in range(3))
        larges.append(cost_per_token(20_000))
    small, large = min(smalls), min(larges)
    print("Guardrail cost per token (profanity block + PII redact, hold_back, echo pieces; best of runs):")
    print(f"  {'1k tokens':<44} {small:>10.1f} us/token   (median {statistics.median(smalls):.1f})")
    print(f"  {'20k tokens':<44} {large:>10.1f} us/token   (median {statistics.median(larges):.1f})")
    ok = line("cost ratio 20k / 1k", large / small, "", TARGET_COST_RATIO)
    if not args.quick:
        ok_ttft, ok_rate = asyncio.run(local_figures(args.reps))
        ok = ok and ok_ttft and ok_rate
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
