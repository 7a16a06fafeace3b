"""Streaming vs non-streaming: the same prompt both ways, timed side by side.

    python -m cli compare "PROMPT" [--provider ...] [any flag of the normal CLI]

The streaming run prints each piece of text as it arrives; the non-streaming
run waits for the whole answer, then prints it at once, which is what a client
without streaming shows.  Both go through the same session, runner and stages,
so the only difference is when the user first sees text.  Each run starts from
a fresh session (no history).  An untimed one-token warm-up with the same
prompt runs first (``--no-warmup`` skips it), so neither timed run pays for
loading the model or benefits alone from a warm prompt cache.

Prints a table on stdout:

                           streaming  non-streaming
    time to first output       21 ms       1,204 ms
    total time              1,210 ms       1,206 ms

Exit codes as for the CLI: 0, 1 if a run failed, 2 usage/config, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from agents.errors import ChatError, ConfigError, InputError
from agents.events import Done, Event, Failed, Replace, TextDelta
from chat.session import ChatSession
from chat.settings import Settings
from cli.args import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, settings_from_args
from cli.args import build_parser as cli_parser

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Timing:
    """One run's figures, in milliseconds from sending the prompt."""

    mode: str
    first_output_ms: float | None
    total_ms: float
    tokens: int
    outcome: str
    error: ChatError | None = None


async def run_streaming(settings: Settings, prompt: str, out: TextIO, clock: Clock = time.perf_counter) -> Timing:
    """Print the answer as it arrives; first output is the first text printed."""
    turn = ChatSession(settings, clock=clock).start(prompt)
    start = clock()
    first: float | None = None
    error: ChatError | None = None

    async def show(event: Event) -> None:
        nonlocal first, error
        match event:
            case TextDelta(text=text) | Replace(text=text):
                if text and first is None:
                    first = clock() - start
                if isinstance(event, Replace):
                    out.write("\n")
                out.write(text)
                out.flush()
            case Done(block=block) if block is not None:
                out.write(("\n\n" if turn.text else "") + block.line())
                out.flush()
            case Failed(error=err):
                error = err
            case _:
                pass

    stats = await turn.run(show)
    total = clock() - start
    out.write("\n")
    out.flush()
    return _timing("streaming", first, total, stats.tokens if stats else 0, stats.outcome if stats else "", error)


async def run_non_streaming(settings: Settings, prompt: str, out: TextIO, clock: Clock = time.perf_counter) -> Timing:
    """Wait for the whole answer, then print it; first output is that moment."""
    turn = ChatSession(settings, clock=clock).start(prompt)
    start = clock()
    error: ChatError | None = None

    final = ""

    async def keep(event: Event) -> None:
        nonlocal error, final
        if isinstance(event, Failed):
            error = event.error
        if isinstance(event, Done):
            final = event.shown()  # the answer, and the block line if a guardrail stopped it

    stats = await turn.run(keep)
    text = final or turn.text
    out.write(text + "\n")
    out.flush()
    shown = clock() - start
    first = shown if text else None
    return _timing("non-streaming", first, shown, stats.tokens if stats else 0, stats.outcome if stats else "", error)


def _timing(mode: str, first: float | None, total: float, tokens: int, outcome: str, error: ChatError | None) -> Timing:
    return Timing(mode, None if first is None else first * 1000, total * 1000, tokens, outcome, error)


def table(streaming: Timing, non_streaming: Timing) -> str:
    """The side-by-side comparison."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    rows = [
        ("", streaming.mode, non_streaming.mode),
        ("time to first output", ms(streaming.first_output_ms), ms(non_streaming.first_output_ms)),
        ("total time", ms(streaming.total_ms), ms(non_streaming.total_ms)),
        ("tokens", f"{streaming.tokens:,}", f"{non_streaming.tokens:,}"),
        ("outcome", streaming.outcome, non_streaming.outcome),
    ]
    lines = [f"{a:<22}{b:>14}{c:>16}" for a, b, c in rows]
    s, n = streaming.first_output_ms, non_streaming.first_output_ms
    if s and n:
        lines.append(f"streaming showed text {n / s:,.1f}x sooner ({n - s:,.0f} ms earlier)")
    return "\n".join(lines)


async def compare(settings: Settings, prompt: str, out: TextIO, *, warmup: bool = True) -> tuple[Timing, Timing]:
    """Warm up (untimed), then run the prompt streaming and non-streaming."""
    if warmup:
        await ChatSession(settings.replace(max_tokens=1)).start(prompt).run(_ignore)
    out.write("--- streaming ---\n")
    streamed = await run_streaming(settings, prompt, out)
    out.write("--- non-streaming ---\n")
    whole = await run_non_streaming(settings, prompt, out)
    return streamed, whole


async def _ignore(event: Event) -> None:
    return None


def build_parser() -> argparse.ArgumentParser:
    """The normal CLI's flags, plus ``--no-warmup``; PROMPT is required."""
    p = cli_parser()
    p.prog = "python -m cli compare"
    p.description = "Run one prompt streaming and non-streaming; print time to first output and total time."
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed one-token warm-up run")
    return p


def main(argv: list[str]) -> int:
    """``python -m cli compare``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.prompt is None:
        parser.error("a PROMPT is needed")
    try:
        from dotenv import load_dotenv

        load_dotenv()
        settings = settings_from_args(args)
        ChatSession(settings).provider()  # a missing key fails here, before any run
        prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
        streamed, whole = asyncio.run(compare(settings, prompt, sys.stdout, warmup=not args.no_warmup))
    except (ConfigError, InputError) as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    sys.stdout.write("\n" + table(streamed, whole) + "\n")
    failed = streamed.error or whole.error
    if failed is not None:
        sys.stderr.write(f"error: {failed}\n")
        return EXIT_FAILED
    return EXIT_OK
