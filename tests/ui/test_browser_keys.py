"""Keys entered in the chat UI (issue 15, part 5): one session's own, never stored, logged or shown.

Two Chromium sessions on one app that has no server-side keys.  The first
types an OpenAI key and a base URL (the loopback scripted OpenAI server) into
the settings panel and gets its answer from that server; the second cannot use
OpenAI and is told so in one line.  Afterwards the key is nowhere in the
app's logs (stderr and stdout) nor in its SQLite database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, require_chromium, send
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import (
    WAIT_MS,
    choose,
    confirm,
    messages,
    open_settings,
    wait_for_answer,
    wait_for_message,
)
from tests.webapp import App, running_app

browser = e2e.browser

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

KEY = "sk-user-only-7f3a91c2d4e5b6a8"
REFUSED_URL = "http://169.254.169.254/v1"


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedServer]:
    """The OpenAI-compatible server the first user points their base URL at."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys-db") / "chat.db"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, db_path: Path) -> Iterator[App]:
    """The app with history on, no server keys, and user base URLs allowed to loopback only."""
    require_chromium()
    env = {"DATABASE_URL": f"sqlite:///{db_path}", "ALLOW_USER_BASE_URL": "127.0.0.1"}
    with running_app(tmp_path_factory.mktemp("keys"), env=env) as running:
        yield running


@asynccontextmanager
async def chat_page(app: App, browser: Any) -> AsyncIterator[Any]:
    """A new browser context on the app: a Chainlit session of its own."""
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(app.url)
        await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
        yield page
    finally:
        await context.close()


async def test_a_key_entered_in_the_panel_serves_that_session_only_and_is_never_kept(
    app: App, browser: Any, upstream: ScriptedServer, db_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    upstream.enqueue(Reply.sse(openai_stream(["Hello ", "from ", "your ", "own ", "key."]), done=True))
    async with chat_page(app, browser) as alice, chat_page(app, browser) as bob:
        # Alice: her key and her base URL, then OpenAI, in one Confirm.
        await open_settings(alice)
        box = alice.locator("#openai_api_key")
        assert await box.evaluate("e => getComputedStyle(e).webkitTextSecurity") == "disc"  # masked as typed
        await box.fill(KEY)
        await alice.locator("#openai_base_url").fill(f"{upstream.url}/v1")
        await alice.screenshot(path=str(ARTIFACTS / "ui-keys-panel.png"))
        before = len(await messages(alice))
        await choose(alice, "provider", "OpenAI")
        await confirm(alice)
        note = await wait_for_message(alice, before, contains="never stored")
        assert "OpenAI API key" in note["text"] and KEY not in note["text"], note
        await wait_for_message(alice, before, contains="Now answering with: OpenAI")
        # The panel shows that a key is set, never the key.
        await open_settings(alice)
        assert await alice.locator("#openai_api_key").input_value() == ""
        label = await alice.locator("label[for='openai_api_key']").inner_text()
        assert "set for this chat" in label and KEY not in label, label
        assert KEY not in await alice.content()
        await alice.keyboard.press("Escape")
        before = len(await messages(alice))
        await send(alice, "Who answers?")
        answer = await wait_for_answer(alice, before)
        await alice.screenshot(path=str(ARTIFACTS / "ui-keys-alice.png"))
        assert answer["text"] == "Hello from your own key.", answer
        assert upstream.requests[-1].header("Authorization") == f"Bearer {KEY}"

        # Bob, at the same time: OpenAI is still unavailable to him, and choosing it says why in one line.
        await open_settings(bob)
        label = await choose(bob, "provider", "OpenAI")
        assert "unavailable" in label, label
        before = len(await messages(bob))
        await confirm(bob)
        error = await wait_for_message(bob, before, contains="needs an API key")
        await bob.screenshot(path=str(ARTIFACTS / "ui-keys-bob.png"))
        assert error["author"] == "" and "\n" not in error["text"].strip(), error
        assert "OpenAI API key" in error["text"] and "OPENAI_API_KEY" in error["text"], error
        # A base URL to a host the operator did not allow is refused, without repeating it.
        await open_settings(bob)
        await bob.locator("#openai_base_url").fill(REFUSED_URL)
        before = len(await messages(bob))
        await confirm(bob)
        error = await wait_for_message(bob, before, contains="OpenAI base URL refused")
        assert "ALLOW_USER_BASE_URL" in error["text"] and "169.254" not in error["text"], error
        before = len(await messages(bob))
        await send(bob, "still echo")
        assert (await wait_for_answer(bob, before))["text"] == "still echo"
        assert len(upstream.requests) == 1  # only Alice's answer reached her server

    # Both pages closed: Chainlit has written each session's state to the database by now, or will soon.
    app.process.send_signal(2)  # SIGINT: a clean stop flushes everything there is to store
    app.process.wait(timeout=30)
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob("chat.db*"))
    assert b"openai" in stored  # the threads and their settings are there...
    assert KEY.encode() not in stored  # ...the key is not
    for log in (app.log, app.out):
        assert log is not None and KEY not in log.read_text(encoding="utf-8", errors="replace"), log
