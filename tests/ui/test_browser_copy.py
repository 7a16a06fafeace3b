"""The copy icon under an answer copies the answer as it streamed, not the escaped Markdown the page got.

The colon corpus of ``test_browser_ui`` comes back from the echo provider; the
page shows every colon because the app sends them escaped (``Status\\:ok``),
and the clipboard must hold the text as written (``Status:ok``).  A code
block's own copy button is Chainlit's and stays untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import ARTIFACTS, send
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import messages, wait_for_answer
from tests.ui.test_browser_ui import COLONS, clipboard_text

app, browser, page = e2e.app, e2e.browser, e2e.page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def copy_answer(page: Any, answer_id: str) -> str:
    """Click the copy icon under the answer ``answer_id``; the clipboard's text."""
    await page.evaluate("() => navigator.clipboard.writeText('')")
    await page.locator(f"#{answer_id}").locator("button").last.click()
    return await clipboard_text(page)


async def test_the_copy_icon_copies_the_answer_as_streamed_colons_and_all(page: Any) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    text = "\n\n".join(COLONS)
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    await page.screenshot(path=str(ARTIFACTS / "ui-copy-colons.png"))
    copied = await copy_answer(page, answer["id"])
    assert "\\:" not in copied
    assert copied == text


async def test_a_code_blocks_own_copy_button_still_copies_its_code(page: Any) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    code = "host = 'localhost:8000'\nprint(std::vector)"
    text = f"Status:ok\n\n```python\n{code}\n```"
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    await page.evaluate("() => navigator.clipboard.writeText('')")
    block = page.locator(f"#{answer['id']}").locator("pre").first
    await block.locator("xpath=../..").locator("button").first.click()  # the card's header: its own copy icon
    assert (await clipboard_text(page)).rstrip("\n") == code
    assert await copy_answer(page, answer["id"]) == text
