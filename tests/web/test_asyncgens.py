"""Abandoned async generators are closed on the loop, in their own tasks, under Chainlit's nest_asyncio.

The check runs in a subprocess: ``nest_asyncio.apply()`` patches asyncio for
the whole process, as ``chainlit run`` does.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.webapp import ROOT

SCRIPT = """
import asyncio, gc, json, sys
import nest_asyncio
nest_asyncio.apply()
from web.asyncgens import install_finalizer

seen = []

async def stream():
    try:
        yield 1
        yield 2
    finally:
        seen.append(asyncio.current_task().get_name())
        await asyncio.sleep(0)  # cleanup that awaits, like closing an HTTP response
        seen.append("closed")

async def answer():
    pieces = stream()
    await anext(pieces)
    del pieces  # dropped mid-way, as when a client disconnects
    gc.collect()
    await asyncio.sleep(0.05)

async def main():
    if sys.argv[1] == "install":
        install_finalizer()
    await asyncio.create_task(answer(), name="answer")
    await asyncio.sleep(0.05)

asyncio.run(main())
print(json.dumps(seen))
"""


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )


def test_a_dropped_generator_is_closed_in_its_own_task_not_inside_an_answer() -> None:
    done = _run("install")
    seen = json.loads(done.stdout)
    assert seen[-1] == "closed" and seen[0] != "answer", seen
    assert "Exception ignored" not in done.stderr, done.stderr


def test_without_it_nest_asyncio_finalizes_inside_the_running_task() -> None:
    # Why the finalizer is needed: the cleanup runs in the answer's task and cannot await.
    done = _run("none")
    assert json.loads(done.stdout) == ["answer"]
    assert "async generator ignored GeneratorExit" in done.stderr
