"""Start llama-cpp-python's own OpenAI-compatible server on a free loopback port, for tests.

    with llama_server() as server:          # a few seconds: loads the embedded GGUF
        OpenAIProvider(base_url=server.base_url)

The server is a child process; it is killed when the block ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

READY_LIMIT = 120.0


@dataclass(frozen=True)
class LlamaServer:
    """A running ``llama_cpp.server``."""

    port: int
    model_path: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(model_path: Path | None = None, *, n_ctx: int = 2048, n_threads: int = 2) -> Iterator[LlamaServer]:
    """Run ``python -m llama_cpp.server`` with the embedded GGUF (default) until the block ends."""
    from agents.providers.local import locate_model

    path = model_path or locate_model()
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
        "--verbose", "False",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_ready(process, port, log)
            yield LlamaServer(port, path, process)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    deadline = time.monotonic() + READY_LIMIT
    url = f"http://127.0.0.1:{port}/v1/models"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            tail = log.read().decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        # Polling a child process's port: there is no event to wait on.
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer on port {port} within {READY_LIMIT:g}s")
