"""The user's own bubble shows every character typed (Chainlit renders it as Markdown too: "a:b" lost ":b")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import send
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import messages, wait_for_answer

# The fixtures of the e2e module: one app (echo provider) and one chromium, a fresh page per test.
app, browser, page = e2e.app, e2e.browser, e2e.page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_the_users_bubble_keeps_every_colon(page: Any) -> None:
    text = "Time 12:30 and a:b:c and Status:ok, see http:foo and \\\\:double"
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    shown = "Time 12:30 and a:b:c and Status:ok, see http:foo and \\:double"  # "\\\\" is Markdown for one
    assert answer["text"] == shown
    bubble = next(m for m in (await messages(page))[before:] if m["type"] == "user_message")
    assert bubble["text"] == shown
