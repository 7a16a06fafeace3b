"""The labelled sets for pii and profanity together (tests/data/*.jsonl, >= 500 cases): P/R per entity type.

``guardrail_cases.jsonl`` is the first, tuned set; ``guardrail_cases_realtext.jsonl``
(issue 16) is written as chat text: model answers full of dates, times, versions,
prices, order ids and code; contact data in many national formats and with the
probe's evasions; profanity in quotes, lyrics and place names.

The table is printed even without ``-s``.  For PII, a positive counts as found
only if its value is gone from the redacted text *and* a span of its type
covers it; a false positive of a type is a span of that type in a negative case.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from guardrails.pii import ENTITIES, PiiGuardrail
from guardrails.profanity import ProfanityGuardrail

DATA = Path(__file__).parent.parent / "data"
CASES = [
    json.loads(line)
    for path in sorted(DATA.glob("*.jsonl"))
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.strip() and json.loads(line)["guard"] in ("pii", "profanity")
]
PII = PiiGuardrail("redact")
PROFANITY = ProfanityGuardrail("redact")
#: Floors for the whole set; the printed table is the measurement (see docs/guardrails.md).
TARGETS = {"precision": 0.95, "recall": 0.90}


def per_type() -> dict[str, Counter]:
    """TP/FN/FP/TN counts per PII entity type, plus ``profanity``."""
    counts: dict[str, Counter] = {kind: Counter() for kind in (*ENTITIES, "profanity")}
    for case in CASES:
        text = case["text"]
        if case["guard"] == "profanity":
            flagged = not PROFANITY.check(text).allowed
            key = ("tp" if flagged else "fn") if case["label"] else ("fp" if flagged else "tn")
            counts["profanity"][key] += 1
            continue
        verdict = PII.check(text)
        if case["label"]:
            start = text.find(case["value"])
            typed = any(
                s.replacement == f"<{case['kind']}>" and s.start < start + len(case["value"]) and s.end > start
                for s in verdict.spans
            )
            gone = case["value"] not in verdict.apply(text)
            counts[case["kind"]]["tp" if typed and gone else "fn"] += 1
        else:
            found = {s.replacement for s in verdict.spans}
            for kind in ENTITIES:
                counts[kind]["fp" if f"<{kind}>" in found else "tn"] += 1
    return counts


def _ratio(a: float, b: float) -> float:
    return a / (a + b) if a + b else 1.0


def test_the_set_has_500_cases_of_every_kind() -> None:
    assert len(CASES) >= 500
    kinds = Counter((c["guard"], c["kind"], c["label"]) for c in CASES)
    for entity in ENTITIES:
        assert kinds[("pii", entity, 1)] >= 20
    negatives = {kind for guard, kind, label in kinds if guard == "pii" and not label}
    assert {"date", "time", "version", "price", "order_id", "code", "address"} <= negatives
    profanity = {kind for guard, kind, label in kinds if guard == "profanity" and label}
    assert {"quote", "lyrics", "phrase", "separator", "homoglyph"} <= profanity


def test_precision_and_recall_per_entity_type(capsys: pytest.CaptureFixture[str]) -> None:
    table = per_type()
    rows = []
    with capsys.disabled():
        print(f"\n\n{len(CASES)} cases\ntype            precision  recall   TP  FP  FN")
        for kind, c in table.items():
            p, r = _ratio(c["tp"], c["fp"]), _ratio(c["tp"], c["fn"])
            rows.append((kind, p, r))
            print(f"{kind:<15} {p:>9.3f} {r:>7.3f} {c['tp']:>4}{c['fp']:>4}{c['fn']:>4}")
        total = sum(table.values(), Counter())
        print(f"{'all':<15} {_ratio(total['tp'], total['fp']):>9.3f} {_ratio(total['tp'], total['fn']):>7.3f}")
    low = [(kind, round(p, 3), round(r, 3)) for kind, p, r in rows if p < TARGETS["precision"] or r < TARGETS["recall"]]
    assert low == []
