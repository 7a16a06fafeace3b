"""From the CLI, ``--fault`` runs print exactly what a run without faults prints; giving up exits 4."""

from __future__ import annotations

import pytest

from cli import main as cli

ECHO_PROMPT = "The quick brown fox jumps over the lazy dog, and then it jumps back again."
LOCAL_PROMPT = "Name three rivers in Europe and say one thing about each."
LOCAL = ["--temperature", "0", "--max-tokens", "24"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fault", ["disconnect@3", "stall@5", "rate_limit@0", "server_error@4x3", "disconnect@every4"])
def test_echo_output_with_a_fault_is_byte_identical(capsys: pytest.CaptureFixture[str], fault: str) -> None:
    base = ["--provider", "echo", "--rate", "0", "--stall-timeout", "0.05"]
    code, clean, _ = run(capsys, *base, ECHO_PROMPT)
    assert code == 0 and clean == ECHO_PROMPT + "\n"
    code, out, err = run(capsys, *base, "--fault", fault, ECHO_PROMPT)
    assert code == 0 and out == clean
    assert "resuming (attempt 1/3" in err and "[resumed after" in err


def test_giving_up_exits_4_with_the_partial_answer_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--provider", "echo", "--rate", "0", "--fault", "server_error@5x2", "--retries", "1",
                         "--stats", ECHO_PROMPT)  # fmt: skip
    assert code == cli.EXIT_GAVE_UP == 4
    assert ECHO_PROMPT.startswith(out.rstrip("\n")) and len(out.rstrip("\n")) > 10
    assert "gave up after 1 attempt to resume" in err and '"outcome": "interrupted"' in err


def test_a_bad_fault_spec_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--provider", "echo", "--fault", "explode@3", ECHO_PROMPT)
    assert code == 2 and out == "" and err.count("\n") == 1 and "fault" in err


@pytest.mark.model
@pytest.mark.parametrize("fault", ["disconnect@8", "server_error@12x3", "stall@3"])
def test_local_greedy_output_with_a_fault_is_byte_identical(capsys: pytest.CaptureFixture[str], fault: str) -> None:
    code, clean, _ = run(capsys, *LOCAL, LOCAL_PROMPT)
    assert code == 0 and len(clean) > 40
    code, out, err = run(capsys, *LOCAL, "--stall-timeout", "3", "--fault", fault, LOCAL_PROMPT)
    assert code == 0 and out == clean, err
    assert "[resumed after" in err
