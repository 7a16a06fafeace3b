"""The hallucination check in the terminal client (issue 18): ``--guard hallucination``, the stats line."""

from __future__ import annotations

import json

import pytest

from cli import main as cli
from guardrails.hallucination import UNCHECKED


def test_echo_with_the_check_says_it_cannot_be_checked_and_keeps_the_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["--provider", "echo", "--rate", "0", "--guard", "hallucination=flag", "--stats", "Hello there."])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK and out.strip() == "Hello there."
    assert UNCHECKED in err
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["confidence"] is None and stats["flagged"] == []
    assert stats["verdicts"][-1]["action"] == "unchecked"


def test_a_bad_threshold_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "echo", "--guard", "hallucination=block:7", "hi"])
    assert code == 2 and "from 0 to 1" in capsys.readouterr().err


@pytest.mark.model
def test_the_local_models_stats_line_carries_its_confidence(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--temperature", "0", "--max-tokens", "16", "--guard", "hallucination=flag", "--stats", "Name a colour."]
    assert cli.main(args) == cli.EXIT_OK
    stats = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert 0.0 < stats["confidence"] <= 1.0 and isinstance(stats["flagged"], list)
