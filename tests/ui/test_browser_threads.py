"""Threads in Chromium, from the hostile probe: a thread link in a fresh browser, Continue after a reload.

Each test runs the real app on its own SQLite file with no login configured (every page is the one local user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import send
from tests.ui.test_browser_e2e import confirm, open_settings
from tests.ui.test_browser_history import WAIT_MS, answers, chromium_page, env, stats_shown, wait_until
from tests.webapp import running_app

pytestmark = [pytest.mark.browser]


async def _answer_is(page: Any, text: str) -> bool:
    return [t for _, t in await answers(page)] == [text]


async def test_a_thread_link_opens_that_thread_in_a_fresh_browser(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            await send(page, "the green gate")
            await wait_until(page, lambda: stats_shown(page), "the answer")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
            link = page.url
        async with chromium_page(link) as fresh:  # a new browser: no cookie, first visit
            await wait_until(fresh, lambda: _answer_is(fresh, "the green gate"), "the linked thread")
            assert fresh.url == link


async def test_a_cut_off_answer_keeps_its_continue_button_after_a_reload_and_it_works(tmp_path: Path) -> None:
    whole = "one two three four five six"
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            await open_settings(page)
            await page.locator("#max_tokens").fill("4")
            await confirm(page)
            await send(page, whole)
            button = page.get_by_role("button", name="Continue")
            await button.wait_for(timeout=WAIT_MS)  # cut off at 4 tokens
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
            await wait_until(page, lambda: stats_shown(page), "the cut-off answer's end")
            cut = [t for _, t in await answers(page)]
            assert len(cut) == 1 and whole.startswith(cut[0]) and cut[0] != whole
            await page.reload()
            await wait_until(page, lambda: _answer_is(page, cut[0]), "the thread after the reload")
            await button.wait_for(timeout=WAIT_MS)  # Continue is back
            await button.click()
            await wait_until(page, lambda: _answer_is(page, whole), "Continue to finish the answer")
            assert await page.get_by_text("cut off at 4 tokens").count() == 0
            assert await button.count() == 0
