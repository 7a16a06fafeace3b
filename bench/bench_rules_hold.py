"""Custom-rules benchmark (issue 12): cost per token of the shipped policies on a live stream, hold included.

The rules guardrail runs on the event loop (it is not ``slow``), and since
issue 12 its hold-back also holds a complete match that touches the end of the
text (one partial search per rule per window).  This prints the cost per
token on a 1k- and a 20k-token stream and their ratio, against two targets:

- cost per token <= 150 us (the rules check + hold on every token, p = best of runs);
- 20k / 1k <= 1.3 (windows are bounded: no rescans).

It also prints the 1k figure's ratio to the code before the fix (48.2 us/token).
Measured on the shared 2-core machine (load average 5 on 2 cores, so noisy):
47.2 to 48.0 us/token (1k), 48.9 to 104.8 (20k), ratio 1.0 to 1.3; x0.98 to
x1.00 of the baseline when the machine was quietest.

    .venv/bin/python bench/bench_rules_hold.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardrails.rules import RulesGuardrail  # noqa: E402
from guardrails.stream import StreamGuard, run_checks  # noqa: E402

TARGET_US_PER_TOKEN = 150.0
TARGET_COST_RATIO = 1.3
#: 1k-token figure of this script on the code before issue 12 (commit ae7590e), same 2-core machine.
BASELINE_US_PER_TOKEN = 48.2
#: Words that come close to the shipped rules without completing them (and a few that do, as warn/redact).
WORDS = (
    "the quick brown fox jumps over a lazy dog and then acme corporation bluebird project nightly key "
    "sk-proj sk-projABCDEFGHIJKLMNOPQRSTUV acme corp"
).split()


def cost_per_token(tokens: int, seed: int = 1) -> float:
    """Microseconds of rules work per token for a stream of ``tokens`` word pieces."""
    rng = random.Random(seed)
    pieces = [" " + rng.choice(WORDS) for _ in range(tokens)]
    guard = RulesGuardrail("warn")  # warn: never blocks, so every token is checked
    sg = StreamGuard([guard], "hold_back")
    started = time.perf_counter()
    for piece in pieces:
        sg.feed(piece)
        if (window := sg.window()) is not None:
            sg.commit(window, run_checks(sg.guards, window.text))
    if (window := sg.window(final=True)) is not None:
        sg.commit(window, run_checks(sg.guards, window.text))
    return (time.perf_counter() - started) / tokens * 1e6


def line(label: str, value: float, unit: str, target: float) -> bool:
    """Print one figure with its ratio to target; True when met."""
    ratio = value / target
    verdict = "OK" if ratio <= 1 else "MISS"
    print(f"  {label:<30} {value:>8.1f} {unit:<9} target <= {target:g}  ratio {ratio:.2f} {verdict}")
    return ratio <= 1


def main() -> int:
    cost_per_token(200)
    # Interleaved, best of several: the machine is shared, and load only ever adds time.
    smalls: list[float] = []
    larges: list[float] = []
    for seed in range(3):
        smalls.extend(cost_per_token(1_000, seed * 3 + k) for k in range(3))
        larges.append(cost_per_token(20_000, seed))
    small, large = min(smalls), min(larges)
    print("Custom rules (shipped policies, warn), hold_back, cost per token (best of runs):")
    print(f"  medians: 1k {statistics.median(smalls):.1f} us, 20k {statistics.median(larges):.1f} us per token")
    vs = small / BASELINE_US_PER_TOKEN
    print(f"  1k tokens vs the code before issue 12 ({BASELINE_US_PER_TOKEN} us/token): x{vs:.2f}")
    ok = line("1k tokens", small, "us/token", TARGET_US_PER_TOKEN)
    ok = line("20k tokens", large, "us/token", TARGET_US_PER_TOKEN) and ok
    ok = line("cost ratio 20k / 1k", large / small, "", TARGET_COST_RATIO) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
