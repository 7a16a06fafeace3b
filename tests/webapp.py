"""Run the real Chainlit app (``chainlit run app.py``) on a free loopback port for HTTP tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-4f9c"
# CI is scrubbed too: `chainlit run` in "CI mode" (CI set) plants a fake OPENAI_API_KEY in its environment.
SCRUBBED_ENV = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "CHAT_USERNAME", "CHAT_PASSWORD", "CI",
)


@dataclass
class App:
    """A running app: its base URL and where its stderr (the answer log) goes."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]
    #: Where its stdout goes (Chainlit's own log lines).
    out: Path | None = None

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client with the bearer token set."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)  # type: ignore[arg-type]

    def log_lines(self) -> list[str]:
        """The lines the app wrote to stderr so far."""
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def metric(self, name: str, provider: str = "openai") -> float:
        """The sum of ``/metrics`` samples called ``name`` (e.g. ``chat_answer_confidence_count``) for ``provider``."""
        with self.client(timeout=30) as client:
            text = client.get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and sample.labels.get("provider") == provider
        )


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(tmp: Path, env: Mapping[str, str] | None = None, timeout: float = 90.0) -> Iterator[App]:
    """Start ``chainlit run app.py --headless`` with the echo provider; stop it afterwards."""
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    child_env.update({"DEFAULT_PROVIDER": "echo", "API_BEARER_TOKEN": TOKEN, **(env or {})})
    log = tmp / f"app-{port}.log"
    out_log = tmp / f"app-{port}.out"
    chainlit = Path(sys.executable).with_name("chainlit")
    cmd = [str(chainlit), "run", "app.py", "--headless", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as err, open(out_log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=ROOT, env=child_env, stdout=out, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited with {process.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer within {timeout:.0f} s")
            time.sleep(0.1)  # polling a subprocess's readiness; nothing to wait on instead
        yield App(url, log, process, out_log)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
