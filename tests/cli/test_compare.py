"""``python -m cli compare``: both runs, both timings, and the normal CLI untouched."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from agents.providers.echo import pieces
from chat.settings import Settings
from cli import main as cli
from cli.compare import Timing, run_non_streaming, run_streaming, table

PROMPT = "one two three four five six"


def ticking_clock(step: float = 0.001) -> Callable[[], float]:
    """A clock that advances ``step`` seconds each time it is read."""
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


async def test_streaming_shows_text_before_the_end_and_non_streaming_only_at_the_end() -> None:
    settings = Settings(provider="echo", echo_rate=0)
    out = io.StringIO()
    streamed = await run_streaming(settings, PROMPT, out, ticking_clock())
    whole = await run_non_streaming(settings, PROMPT, out, ticking_clock())
    assert out.getvalue() == f"{PROMPT}\n{PROMPT}\n"
    assert streamed.first_output_ms is not None and streamed.first_output_ms < streamed.total_ms
    assert whole.first_output_ms == whole.total_ms
    assert streamed.tokens == whole.tokens == len(pieces(PROMPT)) and streamed.outcome == whole.outcome == "complete"


def test_the_table_puts_both_timings_side_by_side() -> None:
    text = table(
        Timing("streaming", 20.0, 1000.0, 50, "complete"), Timing("non-streaming", 990.0, 990.0, 50, "complete")
    )
    lines = text.splitlines()
    assert lines[0].split() == ["streaming", "non-streaming"]
    assert lines[1].split()[-4:] == ["20", "ms", "990", "ms"] and lines[1].startswith("time to first output")
    assert lines[2].split()[-4:] == ["1,000", "ms", "990", "ms"] and lines[2].startswith("total time")
    assert "49.5x sooner" in text


def test_the_subcommand_prints_both_timings(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", PROMPT, "--provider", "echo", "--rate", "0"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert out.count(PROMPT) == 2
    assert "time to first output" in out and "total time" in out


def test_the_subcommand_needs_a_prompt_and_a_known_provider(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["compare", "--provider", "echo"])
    assert exited.value.code == cli.EXIT_USAGE
    assert cli.main(["compare", "hi", "--provider", "openai"]) == cli.EXIT_USAGE
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_the_normal_positional_prompt_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--provider", "echo", "--rate", "0", "hello there"]) == cli.EXIT_OK
    assert capsys.readouterr().out == "hello there\n"
    assert cli.main(["--provider", "echo", "--rate", "0", "--", "compare"]) == cli.EXIT_OK
    assert capsys.readouterr().out == "compare\n"


@pytest.mark.parametrize("run", [run_streaming, run_non_streaming])
async def test_both_runs_show_the_block_line_of_a_blocked_message(run: Callable[..., object]) -> None:
    out = io.StringIO()
    timing = await run(Settings(provider="echo", echo_rate=0, guards="rules"), "about project nightingale", out)  # type: ignore[misc]
    assert "[Blocked by guardrail: internal-codename]" in out.getvalue()
    assert timing.outcome == "blocked"  # type: ignore[attr-defined]
