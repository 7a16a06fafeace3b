"""No client leak (issue 12, item 7): one OpenAI client per configuration, shared, closed at shutdown.

Every API request builds its own session and provider.  Each provider used to
build its own SDK client, left for the garbage collector to close in whatever
task ran at the time: failed answers ("Attempted to exit cancel scope in a
different task"), growing memory and sockets.  The soak streams 200 answers
through the running app against a keep-alive loopback server (figures:
``bench/bench_soak_openai.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents.providers.gemini_provider import GeminiProvider
from agents.providers.openai_provider import OpenAIProvider
from agents.providers.remote import aclose_shared
from tests.servers.scripted import ScriptedServer
from tests.soak import run_soak
from tests.webapp import App, running_app

ANSWERS = 200
WARMUP = 20
#: Flat means this little growth from the end of warm-up to the last answer (it grew ~60 MB before the fix).
MAX_RSS_GROWTH_MB = 8.0
MAX_SOCKET_SPREAD = 2


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedServer) -> Iterator[App]:
    env = {"OPENAI_BASE_URL": f"{upstream.url}/v1"}
    with running_app(tmp_path_factory.mktemp("soak"), env=env) as running:
        yield running


def test_200_api_answers_through_openai_fail_none_and_leak_nothing(app: App, upstream: ScriptedServer) -> None:
    upstream.reset()
    result = run_soak(app, upstream, ANSWERS, every=10)
    assert result.failures == [], result.failures[:5]
    assert result.answers == ANSWERS and len(upstream.requests) == ANSWERS
    steady = result.after_warmup(WARMUP)
    growth = steady[-1].rss_mb - steady[0].rss_mb
    assert growth <= MAX_RSS_GROWTH_MB, f"memory grew {growth:.1f} MB after warm-up: {steady}"
    sockets = [s.sockets for s in steady]
    assert max(sockets) - min(sockets) <= MAX_SOCKET_SPREAD, f"open sockets drifted: {sockets}"


async def test_providers_with_one_configuration_share_one_client() -> None:
    first = OpenAIProvider("a", base_url="http://127.0.0.1:9/v1")
    second = OpenAIProvider("b", base_url="http://127.0.0.1:9/v1")  # the model is per request, not per client
    other = OpenAIProvider("a", base_url="http://127.0.0.1:10/v1")
    client = await first._clients.get()
    assert await second._clients.get() is client
    assert await other._clients.get() is not client
    gemini = GeminiProvider("g", api_key="k-123456", base_url="http://127.0.0.1:9")
    assert await GeminiProvider("h", api_key="k-123456", base_url="http://127.0.0.1:9")._clients.get() is (
        await gemini._clients.get()
    )


async def test_a_dropped_provider_leaves_the_shared_client_open() -> None:
    import gc

    keep = OpenAIProvider("a", base_url="http://127.0.0.1:11/v1")
    client = await keep._clients.get()
    dropped = OpenAIProvider("a", base_url="http://127.0.0.1:11/v1")
    await dropped._clients.get()
    del dropped
    gc.collect()
    assert not client.is_closed()


async def test_app_shutdown_closes_the_shared_clients() -> None:
    provider = OpenAIProvider("a", base_url="http://127.0.0.1:12/v1")
    client = await provider._clients.get()
    await aclose_shared()
    assert client.is_closed()
    assert await provider._clients.get() is not client  # a later answer builds a new one


async def test_chainlits_shutdown_hook_closes_the_shared_clients() -> None:
    from chainlit.config import config

    import app  # noqa: F401  app.py runs web.mount.install(), which registers the hook

    provider = OpenAIProvider("a", base_url="http://127.0.0.1:13/v1")
    client = await provider._clients.get()
    assert config.code.on_app_shutdown is not None
    await config.code.on_app_shutdown()  # what Chainlit's lifespan runs when the server stops
    assert client.is_closed()
