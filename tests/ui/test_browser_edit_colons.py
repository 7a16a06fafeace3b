"""An edited question with colons reaches the model as typed: the pencil's box holds the bubble's Markdown
(escaped so Chainlit shows every colon), and the app takes those escapes back out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import send
from tests.ui.test_browser_history import _finished, _has_answer, answers, chromium_page, env, wait_until
from tests.ui.test_browser_ui import clipboard_text
from tests.webapp import running_app
from ui.markdown import escape, unescape

TYPED = "Status:ok, a:b and :::note"


@pytest.mark.parametrize(
    "text",
    [TYPED, ":::note\nbody:x\n:::", "code `a\\:b` and x:y", "```\nq\\:z\n```\nw:v", "and \\\\:double",
     "<!-- c:d --> e:f", "see https://a/b:c d:e", "> :::tip\n> x\n> :::", "Meet 10:30, std::vector, ::1"],
)
def test_unescape_gives_back_what_was_typed(text: str) -> None:
    assert unescape(escape(text)) == text


@pytest.mark.browser
@pytest.mark.asyncio
async def test_an_edited_question_resent_as_it_was_reaches_the_model_as_typed(tmp_path: Path) -> None:
    with running_app(tmp_path, env=env(tmp_path / "chat.db")) as app:
        async with chromium_page(app.url) as page:
            await send(page, TYPED)
            await wait_until(page, lambda: _finished(page, 1), "the first answer")
            await page.wait_for_url("**/thread/**", timeout=30_000)
            first = page.locator('[data-step-type="user_message"]').first
            await first.hover()
            await first.locator("button.edit-message").click()  # Chainlit's pencil
            box = page.locator("#edit-chat-input")
            await box.fill((await box.input_value()) + " again")  # an edit of what the box holds
            await page.locator("button.confirm-edit").click()
            # The echo provider answers with what the model received: no backslash may have crept in.
            await wait_until(page, lambda: _has_answer(page, TYPED + " again"), "the edited answer")
            assert [t for _, t in await answers(page)] == [TYPED + " again"]
            # The screen cannot tell (an escape renders as nothing), the copy icon can: it copies the answer as
            # the model's context holds it.
            await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
            await page.evaluate("() => navigator.clipboard.writeText('')")
            answer = page.locator('[data-step-type="assistant_message"]').filter(has_text=TYPED + " again").last
            await answer.locator("button:has(svg.lucide-copy)").last.click()
            assert await clipboard_text(page) == TYPED + " again"
