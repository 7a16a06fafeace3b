"""The CLI's flags and exit codes, shared by ``python -m cli`` and its ``compare`` subcommand."""

from __future__ import annotations

import argparse

from agents.providers import registry
from chat.settings import Settings, coerce
from guardrails.base import names as guard_names

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_GAVE_UP = 4
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's flags."""
    p = _Parser(prog="python -m cli", description="Stream a chat answer in the terminal.")
    p.add_argument(
        "prompt", nargs="?", help="ask once and exit ('-' reads it from stdin); without it, chat interactively"
    )
    p.add_argument("--provider", choices=registry.names(), help="model provider (default: local)")
    p.add_argument("--model", help="model name (default: the provider's)")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--temperature", help="0 is greedy and deterministic")
    p.add_argument("--max-tokens", help="answer length limit in tokens")
    p.add_argument("--seed", help="sampling seed")
    p.add_argument("--rate", help="echo provider speed in tokens/s (0: unlimited)")
    p.add_argument(
        "--fault", metavar="KIND@N[xCOUNT]",
        help="simulate a failure: disconnect|stall|rate_limit|server_error at token N (COUNT times), "
        "or @everyN / @pP; e.g. disconnect@20, server_error@10x5",
    )  # fmt: skip
    p.add_argument("--retries", help="resume attempts per outage, 3x that per answer (default 3; 0: give up at once)")
    p.add_argument("--stall-timeout", help="seconds without a token before resuming (default 30; 0: off)")
    p.add_argument("--failover", metavar="PROVIDER[,PROVIDER]", help="providers that take over a broken answer")
    p.add_argument("--buffer", metavar="SPEC", help="how tokens are grouped into updates, e.g. sentence+time:80")
    p.add_argument(
        "--guard", action="append", metavar="NAME[=ACTION[:OPTION]]",
        help=f"turn on a guardrail ({', '.join(guard_names())}), action block|redact|warn "
        "(hallucination: flag|block[:THRESHOLD]); repeatable",
    )  # fmt: skip
    p.add_argument("--release", choices=("hold_back", "stream_first"), help="how guarded text is shown")
    p.add_argument(
        "--selfcheck", metavar="N",
        help="after the answer, sample it N more times and report their agreement (costs N requests; default 0: off)",
    )  # fmt: skip
    p.add_argument("--stats", action="store_true", help="print the answer's stats as JSON on stderr's last line")
    return p


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Build validated settings from parsed flags; raises ``ConfigError``."""
    raw = {
        "provider": args.provider,
        "model": args.model,
        "system_prompt": args.system,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "seed": args.seed,
        "echo_rate": args.rate,
        "fault": args.fault,
        "retries": args.retries,
        "stall_timeout": args.stall_timeout,
        "failover": args.failover,
        "buffer": args.buffer,
        "guards": args.guard,
        "release": args.release,
        "selfcheck": args.selfcheck,
    }
    return Settings.from_env(**coerce({k: v for k, v in raw.items() if v is not None}))
