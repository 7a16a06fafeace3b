"""A new chat on a phone-sized window (the thread sidebar closed) gets its thread URL too, in Chromium.

Chainlit moves a new chat to ``/thread/<id>`` only from its sidebar's thread list, which is not
mounted while the sidebar is closed (always, at first, on a narrow window): the chat stayed at
"/", and a reload opened an empty new chat, the conversation gone from the page.
``public/thread-url.js`` names the thread once the server says it is stored.  The real app on
its own SQLite file, no login (the local user); without history the URL stays "/"
(tests/ui/test_browser_new_thread.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, send
from tests.ui.test_browser_history import ANSWER, WAIT_MS, answers, env, stats_shown, wait_until
from tests.webapp import running_app

pytestmark = [pytest.mark.browser]

PHONE = {"width": 420, "height": 800}


@asynccontextmanager
async def phone_page(url: str, login: tuple[str, str] | None = None) -> AsyncIterator[Any]:
    """A fresh phone-sized browser on ``url``, signed in with ``login`` (user, password) when given, once greeted."""
    from playwright.async_api import async_playwright

    require_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport=PHONE)
            await page.goto(url)
            if login:
                await page.locator("#email").fill(login[0])
                await page.locator("#password").fill(login[1])
                await page.locator("#password").press("Enter")
            await page.locator(ANSWER).first.wait_for(timeout=WAIT_MS)
            yield page
        finally:
            await browser.close()


async def _answers_are(page: Any, *texts: str) -> bool:
    return [t for _, t in await answers(page)] == list(texts)


# The local user (no login), and a password login: there Chainlit's socket.io stayed on long-polling in our
# runs, so a script watching WebSocket frames for `first_interaction` missed it.
LOGINS = {
    "local": ({}, None),
    "password": ({"CHAT_USERS": "alice:pa55word", "CHAINLIT_AUTH_SECRET": "s" * 64}, ("alice", "pa55word")),
}


@pytest.mark.parametrize("mode", list(LOGINS))
async def test_on_a_narrow_window_the_first_answer_names_its_thread_and_a_reload_keeps_the_chat(
    tmp_path: Path, mode: str
) -> None:
    more, login = LOGINS[mode]
    with running_app(tmp_path, env=env(tmp_path / "chat.db", **more)) as app:
        async with phone_page(app.url, login) as page:
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            assert await page.locator("#thread-history").count() == 0  # the sidebar's list is not on the page
            question = page.locator('[data-step-type="user_message"]')
            await send(page, "asked on a phone")
            await question.wait_for(timeout=WAIT_MS)
            before = await question.element_handle()
            await wait_until(page, lambda: stats_shown(page), "the answer's end")
            await page.wait_for_url("**/thread/**", timeout=10_000)
            assert await page.evaluate("(node) => node.isConnected", before)  # the page was not rebuilt
            thread_url = page.url
            await page.reload()
            await wait_until(page, lambda: _answers_are(page, "asked on a phone"), "the chat after a reload")
            assert page.url == thread_url
            assert not errors, errors
