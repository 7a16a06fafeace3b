"""The copy icon under an answer, in the cases a user meets: redacted, continued, re-attached after a reload.

The clipboard must hold what the answer shows, as written (no Markdown escapes):
a redacted answer its placeholders, a continued answer all of it, an answer
seen again after a reload the same text.  And the page's script makes no
console error along the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.browser import ARTIFACTS, require_chromium, send
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import WAIT_MS, choose, confirm, messages, open_settings, wait_for_answer
from tests.ui.test_browser_ui import choose_failure, clipboard_text
from tests.webapp import App, running_app

browser = e2e.browser

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app with history on (a reload shows the thread from the database)."""
    require_chromium()
    tmp: Path = tmp_path_factory.mktemp("copy")
    with running_app(tmp, env={"DATABASE_URL": f"sqlite:///{tmp / 'chat.db'}"}) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def page(app: App, browser: Any) -> AsyncIterator[Any]:
    """A fresh page with clipboard access; console errors collected in ``page.errors``."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    try:
        page = await context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        await page.goto(app.url)
        await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
        yield page
    finally:
        await context.close()


async def copy_answer(page: Any, answer_id: str) -> str:
    """Click the copy icon under the answer ``answer_id`` (with history on, the thumbs follow it); the clipboard."""
    await page.evaluate("() => navigator.clipboard.writeText('')")
    await page.locator(f"#{answer_id}").locator("button:has(svg.lucide-copy)").last.click()
    return await clipboard_text(page)


async def answer_with(page: Any, after: int, text: str) -> dict[str, str]:
    """The first answer past index ``after`` that shows ``text``, once it does."""
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while True:
        for message in (await messages(page))[after:]:
            if message["type"] == "assistant_message" and text in message["text"]:
                return message
        assert asyncio.get_running_loop().time() < deadline, await messages(page)
        await page.wait_for_timeout(25)  # the page's own timer: re-read the DOM on the next frames


async def test_a_redacted_answer_copies_as_shown(page: Any) -> None:
    await open_settings(page)
    await choose(page, "guard_pii", "Redact")
    await confirm(page)
    before = len(await messages(page))
    await send(page, "Status:ok. Write to jane.doe@example.com at 10:30 today.")
    answer = await wait_for_answer(page, before)
    copied = await copy_answer(page, answer["id"])
    assert copied == answer["text"] == "Status:ok. Write to <EMAIL_ADDRESS> at 10:30 today."
    assert not [e for e in page.errors if "copy-answer" in e], page.errors


async def test_a_continued_answer_copies_whole(page: Any) -> None:
    await choose_failure(page, "Once at token N", "12", "4")
    text = "\n\n".join(f"Line {i}: of a long answer." for i in range(30))
    before = len(await messages(page))
    await send(page, text)
    await page.get_by_role("button", name="Continue").wait_for(timeout=WAIT_MS)
    answer = next(m for m in (await messages(page))[before:] if m["type"] == "assistant_message")
    partial = await copy_answer(page, answer["id"])
    assert partial and text.startswith(partial), partial  # the interrupted answer: its text, no notice
    await page.get_by_role("button", name="Continue").click()
    await page.locator(f"#{answer['id']}").get_by_text("Line 29: of a long answer.").wait_for(timeout=WAIT_MS)
    await e2e.wait_for_message(page, before, author="Stats", contains="tok/s")
    copied = await copy_answer(page, answer["id"])
    assert copied == text


async def test_an_answer_copies_the_same_after_a_reload(page: Any) -> None:
    text = "Status:ok, mode:fast " + " ".join(f"w{i}" for i in range(150))
    before = len(await messages(page))
    await send(page, text)
    await page.wait_for_url("**/thread/**", timeout=WAIT_MS)
    growing = await answer_with(page, before, "w10 ")
    midcopy = await copy_answer(page, growing["id"])
    assert midcopy.startswith("Status:ok, mode:fast w0") and text.startswith(midcopy), midcopy  # mid-answer
    await page.reload()  # mid-answer: the page re-attaches to the live answer
    await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
    await e2e.wait_for_message(page, 0, author="Stats")
    answer = await answer_with(page, 0, "w149")
    copied = await copy_answer(page, answer["id"])
    await page.reload()
    await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
    answer = await answer_with(page, 0, "w149")
    copied2 = await copy_answer(page, answer["id"])
    assert copied == text and copied2 == text
