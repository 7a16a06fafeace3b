"""The labelled set (tests/data/guardrail_cases.jsonl): precision and recall per guardrail, against the targets.

The table is printed even without ``-s``.  Targets: PII precision and recall
>= 0.95; profanity recall >= 0.90 (evasions included) and no false positive on
the innocent-word set.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail

DATA = Path(__file__).parent.parent / "data" / "guardrail_cases.jsonl"
CASES = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
GUARDS = {"pii": PiiGuardrail("redact"), "profanity": ProfanityGuardrail("redact")}


def _flagged(case: dict) -> bool:
    """A positive counts only if its sensitive value is gone from the redacted text."""
    guard = GUARDS[case["guard"]]
    verdict = guard.check(case["text"])
    if case["label"]:
        return case["value"] not in verdict.apply(case["text"])
    return not verdict.allowed


def scores() -> dict[str, dict[str, float]]:
    """Precision, recall and counts per guardrail."""
    counts: dict[str, Counter] = {name: Counter() for name in GUARDS}
    for case in CASES:
        flagged = _flagged(case)
        key = ("tp" if flagged else "fn") if case["label"] else ("fp" if flagged else "tn")
        counts[case["guard"]][key] += 1
    out: dict[str, dict[str, float]] = {}
    for name, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        out[name] = {"precision": precision, "recall": recall, **{k: float(c[k]) for k in ("tp", "fp", "fn", "tn")}}
    return out


def test_the_set_is_big_enough_and_balanced() -> None:
    assert len(CASES) >= 150
    kinds = Counter((c["guard"], c["kind"]) for c in CASES if c["label"])
    for entity in ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN"):
        assert kinds[("pii", entity)] >= 10
    negatives = Counter(c["kind"] for c in CASES if c["guard"] == "pii" and not c["label"])
    assert {"version", "date", "order_id", "price"} <= set(negatives)
    evasions = sum(n for (guard, kind), n in kinds.items() if guard == "profanity" and kind != "plain")
    assert evasions >= 20


def test_precision_and_recall_meet_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    table = scores()
    with capsys.disabled():
        print("\n\nguardrail   precision  recall   TP  FP  FN  TN")
        for name, s in table.items():
            print(
                f"{name:<11} {s['precision']:>9.3f} {s['recall']:>7.3f} "
                f"{s['tp']:>4.0f}{s['fp']:>4.0f}{s['fn']:>4.0f}{s['tn']:>4.0f}"
            )
    assert table["pii"]["precision"] >= 0.95
    assert table["pii"]["recall"] >= 0.95
    assert table["profanity"]["recall"] >= 0.90


def test_no_innocent_word_is_flagged() -> None:
    innocent = [c["text"] for c in CASES if c["guard"] == "profanity" and not c["label"]]
    flagged = [t for t in innocent if not GUARDS["profanity"].check(t).allowed]
    assert flagged == []


@pytest.mark.parametrize("case", [c for c in CASES if c["guard"] == "pii" and c["label"]], ids=lambda c: c["value"])
def test_each_entity_is_found_with_its_type(case: dict) -> None:
    verdict = GUARDS["pii"].check(case["text"])
    assert any(s.replacement == f"<{case['kind']}>" for s in verdict.spans)
