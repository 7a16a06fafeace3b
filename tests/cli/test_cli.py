"""The terminal client, run as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def test_one_shot_prints_the_answer_and_stats_json_last_on_stderr() -> None:
    done = cli("--provider", "echo", "--rate", "0", "--stats", "Streaming, token by token.")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Streaming, token by token.\n"
    stats = json.loads(done.stderr.strip().splitlines()[-1])
    assert stats["outcome"] == "complete"
    assert stats["tokens"] == 8  # Stre|amin|g,| tok|en| by| tok|en.
    assert {"ttft_ms", "total_ms", "tokens", "tokens_per_s", "outcome"} <= stats.keys()


def test_output_arrives_while_streaming_not_at_the_end() -> None:
    with subprocess.Popen(
        [sys.executable, "-u", "-m", "cli", "--provider", "echo", "--rate", "20", "one two three four five six"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.read(3)  # returns as soon as the first pieces are flushed
        still_running = proc.poll() is None
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    assert first == b"one"
    assert still_running, "the first piece only arrived when the answer was complete"
    assert (first + rest).decode() == "one two three four five six\n"


def test_usage_and_configuration_errors_exit_2_with_one_line() -> None:
    for args in (["--provider", "nope", "x"], ["--provider", "echo", "--temperature", "7", "x"],
                 ["--provider", "echo", "--max-tokens", "many", "x"], ["--provider", "echo", "   "]):
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_huge_input_is_refused_clearly() -> None:
    done = subprocess.run(  # a 200k paste is too long for argv, so it comes on stdin
        [sys.executable, "-m", "cli", "--provider", "echo", "-"],
        cwd=ROOT, input="x" * 200_000, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "200,000 characters" in done.stderr
    assert done.stdout == ""


def test_ctrl_c_leaves_the_partial_answer_and_exits_130() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "cli", "--provider", "echo", "--rate", "10", "--stats",
         "a b c d e f g h i j k l"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(3) == b"a b"
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    printed = ("a b" + out.decode()).strip()
    assert "a b c d e f g h i j k l".startswith(printed) and len(printed) < 23
    assert json.loads(err.decode().strip().splitlines()[-1])["outcome"] == "cancelled"


def test_interactive_chat_is_multi_turn_and_quits() -> None:
    env = {**os.environ, "SYSTEM_PROMPT": "unused"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--provider", "echo", "--rate", "0"],
        cwd=ROOT, input="first line\n\nsecond\n/quit\n", capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "first line\n" in done.stdout and "second\n" in done.stdout
    assert "error: Your message is empty" in done.stderr


def test_ctrl_d_ends_the_interactive_chat() -> None:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--provider", "echo"],
        cwd=ROOT, input="", capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0
    assert time.monotonic() - start < 60
