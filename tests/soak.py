"""The OpenAI soak (issue 12, item 7): many API answers through the OpenAI provider, one running app.

Shared by ``tests/test_soak_openai.py`` (asserts) and ``bench/bench_soak_openai.py``
(prints figures).  The app under test is the real ``chainlit run app.py`` with
``OPENAI_BASE_URL`` pointing at a scripted keep-alive server on loopback; each
answer is one ``POST /api/chat/stream`` with ``"provider": "openai"``, which is
how every API request builds its own session and provider.  Between answers
the app's resident memory and open sockets are read from ``/proc``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.webapp import App
from web import sse

#: The scripted answer: a few pieces, a finish reason and ``[DONE]``.
PIECES = ("The sky ", "looks blue ", "because air ", "scatters blue ", "light most.")
ANSWER = "".join(PIECES)


@dataclass
class Sample:
    """The app process after ``answers`` answers."""

    answers: int
    rss_mb: float
    sockets: int


@dataclass
class SoakResult:
    """What a soak run saw."""

    answers: int = 0
    #: One line per answer that did not end in ``done`` with the exact text.
    failures: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0

    def after_warmup(self, warmup: int) -> list[Sample]:
        """The samples taken once ``warmup`` answers had run."""
        return [s for s in self.samples if s.answers >= warmup]


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (``VmRSS``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_sockets(pid: int) -> int:
    """How many sockets process ``pid`` holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:  # closed between listing and reading
            pass
    return count


def sample(app: App, answers: int) -> Sample:
    """Read the app's memory and sockets now."""
    return Sample(answers, rss_mb(app.process.pid), open_sockets(app.process.pid))


def run_soak(app: App, upstream: ScriptedServer, answers: int, *, every: int = 10) -> SoakResult:
    """Stream ``answers`` API answers through the OpenAI provider, one after another, sampling every ``every``."""
    result = SoakResult()
    body = {"messages": [{"role": "user", "content": "Why is the sky blue?"}], "provider": "openai", "buffer": "token"}
    started = time.perf_counter()
    with app.client(timeout=60) as client:
        result.samples.append(sample(app, 0))
        for index in range(1, answers + 1):
            upstream.enqueue(Reply.sse(openai_stream(PIECES), done=True))
            response = client.post("/api/chat/stream", json=body)
            events = sse.parse(response.text) if response.status_code == 200 else []
            text = "".join(data["text"] for name, data in events if name == "delta")
            last = events[-1] if events else ("none", {})
            if response.status_code != 200 or last[0] != "done" or text != ANSWER:
                detail = last[1].get("message") if last[0] == "error" else last[0]
                result.failures.append(f"answer {index}: HTTP {response.status_code}, ended with {detail!r}")
            result.answers = index
            if index % every == 0:
                result.samples.append(sample(app, index))
    result.seconds = time.perf_counter() - started
    return result
