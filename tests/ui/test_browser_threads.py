"""Threads in Chromium, from the hostile probe: a thread link in a fresh browser, Continue after a reload.

Each test runs the real app on its own SQLite file with no login configured (every page is the one local user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import send
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
