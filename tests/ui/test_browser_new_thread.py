"""A new chat's first answer in Chromium: the page is not rebuilt when the chat gets its thread URL.

Chainlit (history on) moves a new chat from "/" to "/thread/<id>" after the first
message, and that navigation re-renders every message from scratch: with a long
question, a freeze in the middle of the answer (bench/bench_browser_longanswer.py).
``public/thread-url.js`` gives the chat its URL without it.  Each test runs the real
app on its own SQLite file, with no login configured (the one local user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import send
from tests.ui.test_browser_history import WAIT_MS, answers, chromium_page, env, stats_shown, wait_until
from tests.webapp import running_app

pytestmark = [pytest.mark.browser]

# 120 echo pieces (~2.4 s at 50 tok/s).  No colons: a question with "q0:x" in it has its bubble updated once, to
# its escaped form, when the answer ends (test_browser_user_bubble.py), which the question's change count below
# would count; here that count must show that nothing rebuilt the page.
QUESTION = " ".join(f"q{i}-x" for i in range(120))

_WATCH = """() => {
  // The question's bubble and the greeting as they are now, and every change to the question's content
  // (its edit button's `disabled` flips when the answer ends: not content).
  window.__question = document.querySelector('[data-step-type="user_message"]');
  window.__greeting = document.querySelector('[data-step-type="assistant_message"]');
  window.__questionChanges = 0;
  new MutationObserver(records => { window.__questionChanges += records.length; })
    .observe(window.__question, {subtree: true, childList: true, characterData: true});
}"""
_SAME_NODES = """() => ({
  question: document.querySelector('[data-step-type="user_message"]') === window.__question,
  greeting: document.querySelector('[data-step-type="assistant_message"]') === window.__greeting,
  changes: window.__questionChanges,
})"""
_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0))))"


def _watch_errors(page: Any) -> list[str]:
    """Uncaught errors in the page (console noise such as an unreachable font is left out: no network here)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def _thread_listed(page: Any) -> bool:
    thread = page.url.rsplit("/thread/", 1)[-1]
    return "/thread/" in page.url and await page.locator(f"#thread-{thread}").count() > 0


async def test_the_first_answer_of_a_new_chat_streams_into_the_page_as_it_was_and_the_url_names_its_thread(
    tmp_path: Path,
) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            errors = _watch_errors(page)
            assert page.url.rstrip("/") == app.url  # a new chat, at "/"
            await send(page, QUESTION)
            await page.locator('[data-step-type="user_message"]').wait_for(timeout=WAIT_MS)
            await page.evaluate(_WATCH)
            await wait_until(page, lambda: stats_shown(page), "the answer's end")
            await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
            # Chainlit decides to navigate once it has listed the threads: wait for the new one in the
            # sidebar, then for two frames, so a navigation it started would have re-rendered the page.
            await wait_until(page, lambda: _thread_listed(page), "the new thread in the sidebar")
            await page.evaluate(_FRAMES)
            same = await page.evaluate(_SAME_NODES)
            assert same == {"question": True, "greeting": True, "changes": 0}  # nothing on screen was rebuilt
            assert [text for _, text in await answers(page)] == [QUESTION]  # every character, as sent
            thread_url = page.url
            asked = await page.locator('[data-step-type="user_message"]').all_inner_texts()
            await page.reload()  # the URL names the stored thread: it opens there
            await wait_until(page, lambda: _answers_are(page, QUESTION), "the thread after a reload")
            assert page.url == thread_url
            questions = await page.locator('[data-step-type="user_message"]').all_inner_texts()
            assert questions == asked  # the same question, shown as it was before the reload
            assert not errors, errors


async def test_without_history_a_new_chat_stays_at_the_root_url(tmp_path: Path) -> None:
    with running_app(tmp_path, env={"DATABASE_URL": "off"}) as app:
        async with chromium_page(app.url) as page:
            errors = _watch_errors(page)
            await send(page, "no history here")
            await wait_until(page, lambda: stats_shown(page), "the answer's end")
            await page.evaluate(_FRAMES)
            assert [text for _, text in await answers(page)] == ["no history here"]
            assert page.url.rstrip("/") == app.url  # no stored thread to name: a reload starts a new chat
            assert not errors, errors


async def _answers_are(page: Any, *texts: str) -> bool:
    return [t for _, t in await answers(page)] == list(texts)


async def test_new_chat_after_a_first_answer_starts_at_the_root_and_its_own_first_answer_names_its_thread(
    tmp_path: Path,
) -> None:
    # The first chat's URL was set behind React Router's back: New chat must still start afresh at "/".
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            errors = _watch_errors(page)
            await send(page, "first chat")
            await wait_until(page, lambda: stats_shown(page), "the first answer's end")
            await wait_until(page, lambda: _thread_listed(page), "the first thread in the sidebar")
            first = page.url
            await page.locator("#new-chat-button").click()
            await page.locator("#new-chat-dialog #confirm").click()
            await page.wait_for_url(app.url + "/", timeout=WAIT_MS)
            await wait_until(page, lambda: _answers_are(page), "an empty new chat")
            await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)  # greeted
            await send(page, "second chat")
            await wait_until(page, lambda: stats_shown(page), "the second answer's end")
            await wait_until(page, lambda: _thread_listed(page), "the second thread in the sidebar")
            assert page.url != first
            assert [t for _, t in await answers(page)] == ["second chat"]
            await page.reload()
            await wait_until(page, lambda: _answers_are(page, "second chat"), "the second thread after a reload")
            await page.goto(first)
            await wait_until(page, lambda: _answers_are(page, "first chat"), "the first thread by its URL")
            assert not errors, errors
