"""Measure offline detectors of person names and street addresses (issue 16) on tests/data/names_addresses_cases.jsonl.

Candidates, each run only if importable (nothing is downloaded at run time):

- ``spacy``: a spaCy English pipeline installed as a package (``--model``, default
  ``en_core_web_sm``), its ``PERSON`` entities as names, ``FAC``/``GPE``/``LOC``
  entities as (parts of) addresses;
- ``pyap``: pyap2's pattern-based US/CA/GB street address parser;
- ``names-guard``: ``guardrails.names`` as wired in this project.

Prints precision and recall per type and the cost per check.  A positive counts
when its labelled value is gone from the redacted text (strict) and, separately,
when any span of the type touches it (loose).

    .venv/bin/python bench/measure_names.py [--model en_core_web_sm]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "names_addresses_cases.jsonl"
Finder = Callable[[str], list[tuple[int, int, str]]]


def spacy_finder(model: str) -> Finder:
    """``PERSON`` -> PERSON; ``FAC``/``GPE``/``LOC`` -> STREET_ADDRESS (spaCy has no street-address label)."""
    import spacy

    nlp = spacy.load(model)
    mapping = {"PERSON": "PERSON", "FAC": "STREET_ADDRESS", "GPE": "STREET_ADDRESS", "LOC": "STREET_ADDRESS"}

    def find(text: str) -> list[tuple[int, int, str]]:
        return [(e.start_char, e.end_char, mapping[e.label_]) for e in nlp(text).ents if e.label_ in mapping]

    return find


def pyap_finder() -> Finder:
    """pyap2 street addresses, trying each supported country."""
    import pyap

    def find(text: str) -> list[tuple[int, int, str]]:
        found = []
        for country in ("US", "CA", "GB"):
            for address in pyap.parse(text, country=country):
                start = text.find(address.full_address)
                if start >= 0:
                    found.append((start, start + len(address.full_address), "STREET_ADDRESS"))
        return found

    return find


def guard_finder() -> Finder:
    """This project's names-and-addresses guardrail."""
    from guardrails.names import NamesGuardrail

    guard = NamesGuardrail("redact")

    def find(text: str) -> list[tuple[int, int, str]]:
        return [(s.start, s.end, (s.replacement or "").strip("<>")) for s in guard.check(text).spans]

    return find


def score(find: Finder, cases: list[dict]) -> tuple[dict[str, dict[str, float]], float]:
    """Per type: precision, strict and loose recall; and the median ms per check."""
    kinds = ("PERSON", "STREET_ADDRESS")
    counts = {k: {"tp": 0, "loose": 0, "fn": 0, "fp": 0} for k in kinds}
    times = []
    for case in cases:
        text = case["text"]
        started = time.perf_counter()
        spans = find(text)
        times.append((time.perf_counter() - started) * 1000)
        if case["label"]:
            kind, value = case["kind"], case["value"]
            start, end = text.find(value), text.find(value) + len(value)
            mine = [(a, b) for a, b, k in spans if k == kind]
            covered = set()
            for a, b in mine:
                covered |= set(range(max(a, start), min(b, end)))
            strict = all(i in covered or text[i].isspace() or text[i] in ",." for i in range(start, end))
            counts[kind]["tp" if strict else "fn"] += 1
            counts[kind]["loose"] += bool(covered)
        else:
            for kind in kinds:
                counts[kind]["fp"] += any(k == kind for _, _, k in spans)
    table = {}
    for kind, c in counts.items():
        positives = c["tp"] + c["fn"]
        flagged = c["loose"] + c["fp"]
        table[kind] = {
            "precision": c["loose"] / flagged if flagged else 1.0,
            "recall": c["tp"] / positives if positives else 1.0,
            "loose_recall": c["loose"] / positives if positives else 1.0,
            "fp": c["fp"],
        }
    return table, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="en_core_web_sm", help="an installed spaCy pipeline package")
    args = parser.parse_args()
    cases = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(cases)} cases ({sum(c['label'] for c in cases)} positive) from {DATA.name}")
    candidates: list[tuple[str, Callable[[], Finder]]] = []
    if importlib.util.find_spec(args.model):
        candidates.append((f"spacy {args.model}", lambda: spacy_finder(args.model)))
    else:
        print(f"  spacy {args.model}: not installed, skipped")
    if importlib.util.find_spec("pyap"):
        candidates.append(("pyap2", pyap_finder))
    else:
        print("  pyap2: not installed, skipped")
    candidates.append(("guardrails.names", guard_finder))
    print(f"{'detector':<34} {'type':<15} {'precision':>9} {'recall':>7} {'loose':>7} {'FP':>4} {'ms/check':>9}")
    for label, make in candidates:
        try:
            find = make()
        except Exception as exc:  # a candidate that cannot load is reported, not fatal to the others
            print(f"  {label}: failed to load ({type(exc).__name__}: {exc})")
            continue
        table, ms = score(find, cases)
        for kind, s in table.items():
            print(f"{label:<34} {kind:<15} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['loose_recall']:>7.3f}"
                  f" {s['fp']:>4.0f} {ms:>9.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
