"""The self-check in the terminal client (issue 18 item 4): ``--selfcheck N``, its line and its ``--stats`` object."""

from __future__ import annotations

import json

import pytest

from cli import main as cli


def test_selfcheck_line_comes_after_the_answer_and_its_object_is_in_the_stats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["--provider", "echo", "--rate", "0", "--selfcheck", "2", "--stats", "Hello there."])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK and out.strip() == "Hello there."  # stdout holds only the answer
    lines = err.strip().splitlines()
    assert lines[-2].startswith("[self-check: agreement ") and "2 requests" in lines[-2]
    stats = json.loads(lines[-1])
    check = stats["selfcheck"]
    assert check["requests"] == 2 and check["samples"] == 2 and check["error"] is None
    assert 0.0 <= check["agreement"] <= 1.0 and isinstance(check["flagged"], bool)


def test_without_the_flag_there_is_no_selfcheck(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--provider", "echo", "--rate", "0", "--stats", "Hello there."]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "self-check" not in err and "selfcheck" not in json.loads(err.strip().splitlines()[-1])


@pytest.mark.parametrize("value", ["x", "-2", "99"])
def test_a_bad_count_is_a_usage_error_in_one_line(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code = cli.main(["--provider", "echo", "--selfcheck", value, "hi"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and err.count("\n") == 1 and "selfcheck" in err
