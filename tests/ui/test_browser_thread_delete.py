"""Deleting a thread from the sidebar while a new chat is on screen, in Chromium.

``public/thread-url.js`` writes a new chat's ``/thread/<id>`` into the address bar
behind React Router's back, so Chainlit still believes the page is at "/".  Deleting
ANOTHER thread makes Chainlit navigate to "/": on a chat whose URL the script wrote,
that left the chat on screen at "/" (a reload then opened an empty new chat and the
conversation seemed gone).  The real app on its own SQLite file, no login (the local user).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import send
from tests.ui.test_browser_history import WAIT_MS, answers, chromium_page, env, stats_shown, wait_until
from tests.webapp import running_app

pytestmark = [pytest.mark.browser]


async def _answers_are(page: Any, *texts: str) -> bool:
    return [t for _, t in await answers(page)] == list(texts)


async def _listed(page: Any, thread_id: str) -> bool:
    return await page.locator(f"#thread-{thread_id}").count() > 0


async def _new_chat(page: Any, root: str) -> None:
    await page.locator("#new-chat-button").click()
    await page.locator("#new-chat-dialog #confirm").click()
    await page.wait_for_url(root + "/", timeout=WAIT_MS)
    await wait_until(page, lambda: _answers_are(page), "an empty new chat")
    await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)  # greeted


async def _first_answer(page: Any, text: str) -> str:
    """Ask ``text`` in a new chat; the thread id its URL names once the sidebar lists it."""
    await send(page, text)
    await wait_until(page, lambda: stats_shown(page), f"the answer to {text!r}")
    await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
    thread = page.url.rsplit("/thread/", 1)[-1]
    await wait_until(page, lambda: _listed(page, thread), "the new thread in the sidebar")
    return thread


async def _delete(page: Any, thread: str) -> None:
    await page.locator(f"#thread-{thread}").hover()
    await page.locator(f"#thread-{thread} #thread-options").click()
    await page.locator("#delete-thread").click()
    await page.get_by_role("button", name="Confirm").click()


async def test_deleting_another_thread_keeps_the_new_chats_url_and_a_reload_reopens_it(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            old = await _first_answer(page, "the old chat")
            await _new_chat(page, app.url)
            current = await _first_answer(page, "the current chat")
            await _delete(page, old)
            await wait_until(page, lambda: _gone(page, old), "the old thread out of the sidebar")
            await page.wait_for_timeout(500)  # the page's own timer: Chainlit navigates once the delete succeeds
            assert page.url == f"{app.url}/thread/{current}"  # still names the chat on screen
            assert [t for _, t in await answers(page)] == ["the current chat"]
            await send(page, "and more")
            await wait_until(page, lambda: _answers_are(page, "the current chat", "and more"), "the next answer")
            await page.reload()
            await wait_until(
                page, lambda: _answers_are(page, "the current chat", "and more"), "the current chat after a reload"
            )
            assert page.url == f"{app.url}/thread/{current}"
            assert not errors, errors


async def _gone(page: Any, thread: str) -> bool:
    return not await _listed(page, thread)


async def test_deleting_the_new_chats_own_thread_clears_it_and_goes_to_the_root(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            current = await _first_answer(page, "soon gone")
            await _delete(page, current)
            await wait_until(page, lambda: _gone(page, current), "the thread out of the sidebar")
            await page.wait_for_url(app.url + "/", timeout=WAIT_MS)
            await wait_until(page, lambda: _answers_are(page), "an empty chat")
            await page.reload()
            await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
            assert [t for _, t in await answers(page)] == [] and page.url == app.url + "/"
