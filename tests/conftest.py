"""Shared fixtures: no test ever sees a real API key or reaches past loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import postgres
from tests.chainlit_harness import SocketRecorder, open_session
from tests.servers.scripted import ScriptedServer

# No test writes the default chat.db in the project folder: tests that persist pass their own DATABASE_URL.
os.environ["DATABASE_URL"] = "off"

_KEY_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "API_BEARER_TOKEN")


@pytest.fixture(autouse=True)
def _no_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def scripted_module() -> Iterator[ScriptedServer]:
    """One scripted loopback HTTP server per test module (tests/servers/scripted.py)."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def scripted(scripted_module: ScriptedServer) -> ScriptedServer:
    """The module's scripted server, with its queue and request log emptied."""
    scripted_module.reset()
    return scripted_module


@pytest.fixture
async def ui(monkeypatch: pytest.MonkeyPatch) -> SocketRecorder:
    """A new Chainlit chat (echo provider) whose socket events are recorded; ``app.start`` has run."""
    import app  # late: only UI tests pay for importing Chainlit

    monkeypatch.setenv("DEFAULT_PROVIDER", "echo")
    recorder = open_session()
    await app.start()
    return recorder


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback (tests/postgres.py); skips only when the binaries are absent."""
    if postgres.binaries() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres.cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A new, empty database on the session's cluster, for one test."""
    return postgres.new_database(postgres_cluster)
