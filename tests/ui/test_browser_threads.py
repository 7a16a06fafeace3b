"""Threads in Chromium, from the hostile probe: a thread link in a fresh browser, Continue after a reload.

Each test runs the real app on its own SQLite file with no login configured (every page is the one local user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import send
from tests.ui.test_browser_e2e import confirm, open_settings
from tests.ui.test_browser_history import WAIT_MS, WORDS, answers, chromium_page, env, stats_shown, wait_until
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


async def test_two_tabs_on_one_thread_the_second_shows_what_the_first_added_when_it_sends(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as tab_a:
            await send(tab_a, "alpha")
            await wait_until(tab_a, lambda: _answer_is(tab_a, "alpha"), "the first answer")
            await tab_a.wait_for_url("**/thread/**", timeout=WAIT_MS)
            await wait_until(tab_a, lambda: stats_shown(tab_a), "the first answer's end")
            # A second page on the thread (its own context: chromium_page's page cannot open tabs; same local user).
            tab_b = await tab_a.context.browser.new_page(viewport={"width": 1100, "height": 760})
            await tab_b.goto(tab_a.url)
            await wait_until(tab_b, lambda: _answer_is(tab_b, "alpha"), "the thread in the second tab")
            await send(tab_a, "beta")
            await wait_until(tab_a, lambda: _answers_are(tab_a, "alpha", "beta"), "the first tab's second answer")
            await wait_until(tab_a, lambda: _stats_count(tab_a, 2), "its end")
            await send(tab_b, "gamma")  # the second tab never saw "beta"
            await wait_until(tab_b, lambda: _answers_are(tab_b, "alpha", "beta", "gamma"), "the second tab caught up")
            questions = await tab_b.locator('[data-step-type="user_message"]').all_inner_texts()
            assert [q.strip() for q in questions] == ["alpha", "beta", "gamma"]  # in the thread's order


async def _answers_are(page: Any, *texts: str) -> bool:
    return [t for _, t in await answers(page)] == list(texts)


async def _stats_count(page: Any, count: int) -> bool:
    return await page.get_by_text("TTFT").count() >= count


async def test_the_second_tab_follows_the_first_tabs_answer_still_streaming_then_answers(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as tab_a:
            await send(tab_a, "alpha")
            await tab_a.wait_for_url("**/thread/**", timeout=WAIT_MS)
            await wait_until(tab_a, lambda: stats_shown(tab_a), "the first answer's end")
            tab_b = await tab_a.context.browser.new_page(viewport={"width": 1100, "height": 760})
            await tab_b.goto(tab_a.url)
            await wait_until(tab_b, lambda: _answer_is(tab_b, "alpha"), "the thread in the second tab")
            await send(tab_a, WORDS)  # 8 s at the echo's 50 tok/s
            await wait_until(tab_a, lambda: _last_longer(tab_a, 20), "the long answer to start")
            await send(tab_b, "and now?")
            mid = await wait_until(tab_b, lambda: _last_longer(tab_b, 1, WORDS), "the long answer on the second tab")
            assert len(mid) < len(WORDS)  # seen while it streams
            await wait_until(tab_b, lambda: _answers_are(tab_b, "alpha", WORDS, "and now?"), "the second tab's answer")
            questions = await tab_b.locator('[data-step-type="user_message"]').all_inner_texts()
            assert [q.strip() for q in questions] == ["alpha", WORDS, "and now?"]


async def _last_longer(page: Any, chars: int, prefix: str = "") -> str | None:
    shown = [t for _, t in await answers(page)]
    last = shown[-1] if shown else ""
    return last if len(last) >= chars and (not prefix or prefix.startswith(last)) and last != "alpha" else None
