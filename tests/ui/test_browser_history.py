"""History as a person meets it, in Chromium: threads in the sidebar, reload mid-answer, restart, kill -9, edit.

Each test runs the real app on its own SQLite file (``DATABASE_URL``), with
no login configured: every page is the one local user, so a fresh browser
after a restart sees the same threads.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, send
from tests.webapp import running_app

pytestmark = [pytest.mark.browser]

WAIT_MS = 30_000
ANSWER = '[data-step-type="assistant_message"]'
WORDS = " ".join(f"w{i}" for i in range(400))  # 400 echo pieces: 8 s at the default 50 tok/s


@asynccontextmanager
async def chromium_page(url: str) -> AsyncIterator[Any]:
    """A fresh browser (a new visitor) on ``url``, once the app has greeted it or shown the thread."""
    from playwright.async_api import async_playwright

    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 760})
            await page.goto(url)
            await page.locator(ANSWER).first.wait_for(timeout=WAIT_MS)
            yield page
        finally:
            await browser.close()


def env(db: Path, **more: str) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{db}", **more}


async def answers(page: Any) -> list[tuple[str, str]]:
    """(step id, text) of every assistant message that is an answer (not the greeting, stats or a notice)."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('[data-step-type="assistant_message"]')].map(step => {
            const box = step.querySelector('[id^="step-"]');
            const avatar = step.querySelector('img[alt^="Avatar for "]');
            const content = step.querySelector('.message-content');
            return [box ? box.id : '', avatar ? avatar.alt : '', content ? content.innerText : ''];
        }).filter(([id, who, text]) => !who.includes('stats') && !who.includes('notice')
            && !text.startsWith('Hi!') && !text.startsWith('TTFT') && !text.includes('cut off'))
          .map(([id, who, text]) => [id, text])"""
    )


async def wait_until(page: Any, predicate: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            await page.screenshot(path=str(ARTIFACTS / "history-timeout.png"))
            raise AssertionError(f"timed out waiting for {what}; answers on screen: {await answers(page)}")
        await page.wait_for_timeout(50)  # the page's own timer: re-read the DOM on the next frames


async def stats_shown(page: Any) -> bool:
    return await page.get_by_text("TTFT").count() > 0


async def test_reload_mid_answer_then_it_finishes_in_place_and_the_thread_is_listed(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            await send(page, WORDS)
            await wait_until(page, lambda: _grown(page, 10), "the answer to start")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)  # Chainlit names the thread in the URL
            await page.reload()  # mid-answer
            await page.locator(ANSWER).first.wait_for(timeout=WAIT_MS)
            mid = await wait_until(page, lambda: _grown(page, 1), "the answer on the reloaded page")
            assert len(mid[0][1]) < len(WORDS)  # seen mid-answer, still growing
            await page.screenshot(path=str(ARTIFACTS / "history-reattached.png"))
            await wait_until(page, lambda: stats_shown(page), "the answer to finish")
            shown = await answers(page)
            assert [text for _, text in shown] == [WORDS]  # one message, the whole text, nothing repeated
            assert shown[0][0] == mid[0][0]  # the same message it was streaming into
            sidebar = page.locator("#thread-history")
            assert await sidebar.get_by_text("w0 w1 w2", exact=False).count() >= 1  # the thread list
            await page.screenshot(path=str(ARTIFACTS / "history-finished.png"))


async def _grown(page: Any, chars: int) -> list[tuple[str, str]] | None:
    shown = await answers(page)
    return shown if shown and len(shown[-1][1]) >= chars else None


async def test_a_thread_resumes_after_a_restart_and_the_chat_carries_on(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    with running_app(tmp_path, env=env(db)) as app:
        async with chromium_page(app.url) as page:
            await send(page, "remember the blue door")
            await wait_until(page, lambda: stats_shown(page), "the first answer")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
            thread_url = page.url
    assert "/thread/" in thread_url
    with running_app(tmp_path, env=env(db)) as app:  # a new server process on the same database
        async with chromium_page(app.url) as page:
            await page.locator("#thread-history").get_by_text("remember the blue door").first.click()
            await wait_until(
                page, lambda: _has_answer(page, "remember the blue door"), "the stored answer after the restart"
            )
            await send(page, "and the red window")
            await wait_until(page, lambda: _has_answer(page, "and the red window"), "a new answer in the old thread")
            assert [t for _, t in await answers(page)] == ["remember the blue door", "and the red window"]
            await page.screenshot(path=str(ARTIFACTS / "history-after-restart.png"))


async def _has_answer(page: Any, text: str) -> bool:
    return any(t == text for _, t in await answers(page))


async def test_kill_9_mid_answer_then_restart_shows_it_interrupted_and_continue_finishes_it(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    with running_app(tmp_path, env=env(db)) as app:
        async with chromium_page(app.url) as page:
            await send(page, WORDS)
            await wait_until(page, lambda: _grown(page, 600), "the answer to be well under way")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
            shown_at_kill = (await answers(page))[-1][1]
            thread_url = page.url
            os.kill(app.process.pid, signal.SIGKILL)  # no shutdown, no last write
            app.process.wait()
    with sqlite3.connect(db) as raw:
        stored = raw.execute(
            """SELECT output FROM steps WHERE type = 'assistant_message' AND metadata LIKE '%"answer": "streaming"%'"""
        ).fetchall()
    assert len(stored) == 1
    kept = stored[0][0]
    assert shown_at_kill.startswith(kept) and kept
    assert len(shown_at_kill) - len(kept) <= len(" w000") * 50 * 1.5  # at most ~1 s of text lost at 50 tok/s
    with running_app(tmp_path, env=env(db)) as app:
        async with chromium_page(app.url) as page:
            await page.locator("#thread-history").get_by_text("w0 w1 w2", exact=False).first.click()
            await page.wait_for_url(f"**{thread_url[thread_url.index('/thread/') :]}", timeout=WAIT_MS)
            await page.get_by_text("cut off").first.wait_for(timeout=WAIT_MS)
            await page.screenshot(path=str(ARTIFACTS / "history-interrupted.png"))
            await page.get_by_role("button", name="Continue").click()
            await wait_until(page, lambda: _has_answer(page, WORDS), "Continue to finish the answer", 40)
            assert [t for _, t in await answers(page)] == [WORDS]


async def _finished(page: Any, count: int) -> bool:
    """Whether ``count`` answers have ended (each ends with its stats line) and the composer takes a message."""
    return await page.get_by_text("TTFT").count() >= count and await page.locator("#stop-button").count() == 0


async def test_edit_then_ask(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            await send(page, "first try")
            await wait_until(page, lambda: _finished(page, 1), "the first answer")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)  # a message sent while it navigates is lost
            await send(page, "second thing")
            await wait_until(page, lambda: _finished(page, 2), "the second answer")
            first = page.locator('[data-step-type="user_message"]').first
            await first.hover()
            await first.locator("button.edit-message").click()  # Chainlit's pencil
            await page.locator("#edit-chat-input").fill("first, edited")
            await page.locator("button.confirm-edit").click()
            await wait_until(page, lambda: _has_answer(page, "first, edited"), "the edited answer")
            await wait_until(page, lambda: _finished(page, 1), "the edited answer's end")
            assert [t for _, t in await answers(page)] == ["first, edited"]  # the rest is gone from the screen
            await send(page, "then ask")
            await wait_until(page, lambda: _has_answer(page, "then ask"), "the next answer")
            assert [t for _, t in await answers(page)] == ["first, edited", "then ask"]
            await page.screenshot(path=str(ARTIFACTS / "history-edit.png"))

