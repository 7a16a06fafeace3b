"""Soak: N API answers through the OpenAI provider against a keep-alive loopback server (issue 12, item 7).

Starts ``chainlit run app.py`` with ``OPENAI_BASE_URL`` pointing at a scripted
OpenAI-compatible server on loopback (HTTP/1.1 keep-alive, chunked SSE), then
sends N ``POST /api/chat/stream`` requests with ``"provider": "openai"``, one
after another.  Each API request builds its own session and provider, so this
is where a per-answer SDK client would show: failed answers, memory and
sockets that grow.

Reported: failed answers (target 0), the app's resident memory and open
sockets from the end of warm-up to the last answer (target: growth at most
8 MB, sockets within 2), answers per second, and each figure's ratio to its
target.  Exit status 0 only if every target is met.

    .venv/bin/python bench/bench_soak_openai.py [--answers 200] [--warmup 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers.scripted import ScriptedServer  # noqa: E402
from tests.soak import run_soak  # noqa: E402
from tests.webapp import running_app  # noqa: E402

TARGET_RSS_GROWTH_MB = 8.0
TARGET_SOCKET_SPREAD = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--every", type=int, default=10, help="sample memory and sockets every N answers")
    args = parser.parse_args(argv)

    with ScriptedServer() as upstream, tempfile.TemporaryDirectory() as tmp:
        with running_app(Path(tmp), env={"OPENAI_BASE_URL": f"{upstream.url}/v1"}) as app:
            result = run_soak(app, upstream, args.answers, every=args.every)
            upstream_requests = len(upstream.requests)

    steady = result.after_warmup(args.warmup)
    growth = steady[-1].rss_mb - steady[0].rss_mb
    sockets = [s.sockets for s in steady]
    spread = max(sockets) - min(sockets)
    print(f"answers: {result.answers} in {result.seconds:.1f} s ({result.answers / result.seconds:.1f} answers/s);"
          f" upstream requests: {upstream_requests}")
    print(f"failed answers: {len(result.failures)} (target 0)")
    for line in result.failures[:5]:
        print(f"  {line}")
    print(f"app RSS: {result.samples[0].rss_mb:.1f} MB at start, {steady[0].rss_mb:.1f} MB after "
          f"{steady[0].answers} answers, {steady[-1].rss_mb:.1f} MB after {steady[-1].answers}")
    print(f"RSS growth after warm-up: {growth:+.2f} MB; ratio to the {TARGET_RSS_GROWTH_MB:g} MB target: "
          f"{max(growth, 0.0) / TARGET_RSS_GROWTH_MB:.2f}")
    print(f"open sockets after warm-up: min {min(sockets)}, max {max(sockets)} (spread {spread}; "
          f"ratio to the {TARGET_SOCKET_SPREAD} target: {spread / TARGET_SOCKET_SPREAD:.2f})")
    print("samples (answers: RSS MB / sockets): " + ", ".join(
        f"{s.answers}: {s.rss_mb:.1f}/{s.sockets}" for s in result.samples
    ))
    ok = not result.failures and growth <= TARGET_RSS_GROWTH_MB and spread <= TARGET_SOCKET_SPREAD
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
