"""The terminal client: streams answers to stdout as they arrive.

    python -m cli "PROMPT"        one answer, then exit
    python -m cli - < FILE        the same, with the prompt read from stdin
    python -m cli                 interactive chat; /quit or Ctrl-D ends it

Exit codes: 0 complete; 1 the provider failed; 2 usage or configuration error
(one line on stderr); 130 interrupted by Ctrl-C (the partial answer stays printed).
3 blocked by a guardrail (the block line is printed);
4 gave up resuming a broken stream (the partial answer stays on stdout).
With --guard, stdout gets only text the guardrails cleared (--release hold_back, the default).
With --selfcheck N, a complete answer is then sampled N more times: one "[self-check: ...]" line on
stderr, after the answer (and a "selfcheck" object in the --stats JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TextIO

from agents.errors import ChatError, ConfigError, InputError
from agents.events import Done, Event, Failed, Notice, Replace, SelfChecked, Stats, TextDelta
from chat import selfcheck
from chat.session import ChatSession
from cli import compare
from cli.args import (
    EXIT_BLOCKED,
    EXIT_FAILED,
    EXIT_GAVE_UP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
    settings_from_args,
)


class ConsoleSink:
    """Writes deltas as they come, flushing each, with no newline per token."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out = out
        self.err = err
        self.failed: ChatError | None = None
        #: The last answer's self-check, when one ran.
        self.checked: SelfChecked | None = None
        self._column = 0
        self._notice_ended_line = False  # a notice already broke stdout's current line on stderr

    async def handle(self, event: Event) -> None:
        """Render one event."""
        match event:
            case TextDelta(text=text):
                self._write(text)
            case Replace(text=text, reason=reason):
                self._newline()
                self.err.write(f"[replaced: {reason}]\n")
                self._write(text)
            case Notice(message=message):
                # The line break goes to stderr: stdout holds exactly the answer, even with a notice mid-line.
                self.err.write(("\n" if self._column and not self._notice_ended_line else "") + f"[{message}]\n")
                self._notice_ended_line = True
                self.err.flush()
            case Done(block=block) if block is not None:
                self._newline()
                self._write(block.line() + "\n")
            case Done():
                self._newline()
            case Failed(error=error):
                self._newline()
                self.failed = error

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        self._notice_ended_line = False
        self._column = 0 if text.endswith("\n") else self._column + len(text)

    def _newline(self) -> None:
        if self._column:
            self.out.write("\n")
            self.out.flush()
            self._column = 0


async def answer(session: ChatSession, prompt: str, sink: ConsoleSink) -> tuple[int, Stats | None]:
    """Stream one answer to ``sink``, then its self-check if asked for; returns the exit code and the stats."""
    turn = session.start(prompt)
    try:
        stats = await turn.run(sink.handle)
    except asyncio.CancelledError:  # Ctrl-C: the stream is closed, the partial answer stays
        sink._newline()
        return EXIT_INTERRUPTED, turn.stats
    if selfcheck.wanted(turn):  # after the answer is printed whole: it never delays it
        try:
            sink.checked = await selfcheck.check(turn)
        except asyncio.CancelledError:  # Ctrl-C during the self-check: the answer stands, unchecked
            sink.err.write("[self-check cancelled]\n")
            return EXIT_INTERRUPTED, stats
        sink.err.write(f"[{sink.checked.line()}]\n")
        sink.err.flush()
    if sink.failed is not None:
        sink.err.write(f"error: {sink.failed}\n")
        sink.failed = None
        return (EXIT_GAVE_UP if stats is not None and stats.outcome == "interrupted" else EXIT_FAILED), stats
    if stats is not None and stats.outcome == "blocked":
        return EXIT_BLOCKED, stats
    return EXIT_OK, stats


def _print_stats(stats: Stats | None, err: TextIO, checked: SelfChecked | None = None) -> None:
    if stats is not None:
        figures = stats.to_dict()
        if checked is not None:
            figures["selfcheck"] = checked.to_dict()
        err.write(json.dumps(figures) + "\n")
        err.flush()


def _run_once(session: ChatSession, prompt: str, args: argparse.Namespace) -> int:
    sink = ConsoleSink(sys.stdout, sys.stderr)
    code, stats = asyncio.run(answer(session, prompt, sink))
    if args.stats:
        _print_stats(stats, sys.stderr, sink.checked)
    return code


def _interactive(session: ChatSession, args: argparse.Namespace) -> int:
    s = session.settings
    sys.stderr.write(f"Chatting with {s.provider}. /quit or Ctrl-D to end, Ctrl-C stops an answer.\n")
    while True:
        try:
            line = input("> ")
        except EOFError:
            sys.stderr.write("\n")
            return EXIT_OK
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            return EXIT_INTERRUPTED
        if line.strip() in {"/quit", "/exit"}:
            return EXIT_OK
        try:
            _run_once(session, line, args)
        except InputError as err:
            sys.stderr.write(f"error: {err}\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:  # subcommand; `python -m cli -- compare` still asks the word itself
        return compare.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        from dotenv import load_dotenv

        load_dotenv()
        session = ChatSession(settings_from_args(args))
        session.provider()  # a missing key fails here, before any prompt
        if args.prompt is None:
            return _interactive(session, args)
        prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
        return _run_once(session, prompt, args)
    except (ConfigError, InputError) as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_USAGE
