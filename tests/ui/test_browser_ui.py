"""What a person sees in Chromium (issue 15): every character, one bubble per answer, their own message.

The app, chromium and the page helpers are those of ``test_browser_e2e``: one
app server (echo provider) and one chromium for the module, a fresh Chainlit
session per test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser import ARTIFACTS, send
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import (
    WAIT_MS,
    choose,
    confirm,
    history,
    messages,
    open_settings,
    wait_for_answer,
    wait_for_message,
)
from tests.webapp import TOKEN

# The fixtures, shared with the e2e module: one app and one chromium here too, a new page per test.
app, browser, page = e2e.app, e2e.browser, e2e.page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# Colon cases people and models write.  Each is one paragraph of the message; several put the
# colon at a piece boundary of the echo provider (a run of up to four non-space characters), so a
# directive would be split across tokens: "Sys:" | "ok", "Mode" | ":fas" | "t".
COLONS = [
    "Status:ok, mode:fast",
    "Note:this line",
    "Sys:ok and Mode:fast",
    "Meet at 10:30, or at 9:05pm",
    "Served on localhost:8000 and 127.0.0.1:5432",
    "key:value pairs like user:alice and role:admin",
    "IPv6 fe80::1ff:fe23:4567:890a and ::1 and [2001:db8::1]:443",
    "John 3:16 and Genesis 1:1-3 and Psalm 23:1",
    "Emoji :smile: and :thumbsup: and :+1:",
    "C++ std::vector and std::string::npos",
    ":::note a container, ::leaf and a bare ::: fence",
    "Code `a:b` and `std::map` stay as they are",
    "Remember:",
]

# The paragraphs of the message ``id``, each with its inline code put back between backticks.
_PARAGRAPHS = """(id) => {
  const step = document.getElementById(id).closest('[data-step-type]');
  const content = step.querySelector('.message-content');
  return [...content.querySelectorAll('[role="article"]')].map(p => {
    const copy = p.cloneNode(true);
    copy.querySelectorAll('code').forEach(code => { code.textContent = '`' + code.textContent + '`'; });
    return copy.textContent;
  });
}"""


async def set_buffer(page: Any, spec: str) -> None:
    """Type a buffering spec into the settings panel and confirm it."""
    await open_settings(page)
    await page.locator("#buffer").fill(spec)
    await confirm(page)


async def test_every_colon_the_model_writes_is_on_screen_as_it_streams(page: Any) -> None:
    await set_buffer(page, "token")  # every piece its own update: the splits reach the page as they are
    before = len(await messages(page))
    await send(page, "\n\n".join(COLONS))
    answer = await wait_for_answer(page, before)
    await page.screenshot(path=str(ARTIFACTS / "ui-colons.png"))
    assert await page.evaluate(_PARAGRAPHS, answer["id"]) == COLONS
    # Nothing was dropped on the way either: each state the answer showed is the start of the last.
    shown = [text for step, text in await history(page) if step == answer["id"]]
    assert len(shown) >= 10, shown
    final = shown[-1]
    for state in shown:
        if "`" not in state:  # a code span still open shows its backtick until it closes
            assert final.startswith(state), (state, final)


async def test_the_apps_own_lines_keep_their_colons(page: Any) -> None:
    greeting = (await messages(page))[0]
    assert "Hi! Answers come from" in greeting["text"]
    before = len(await messages(page))
    await set_buffer(page, "tokens:x")
    error = await wait_for_message(page, before, contains="Invalid setting")
    assert "tokens:N with N a whole number" in error["text"], error
    assert "buffer='tokens:x'" in error["text"], error


async def clipboard_text(page: Any) -> str:
    """The clipboard's text once the copy landed (the write is async; an async predicate's Promise counts as done)."""
    deadline = asyncio.get_running_loop().time() + WAIT_MS / 1000
    while True:
        got = str(await page.evaluate("async () => await navigator.clipboard.readText()"))
        if got or asyncio.get_running_loop().time() > deadline:
            return got
        await page.wait_for_timeout(50)


async def choose_failure(page: Any, mode: str, n: str, count: str) -> None:
    """Switch "Simulate failure" on: disconnects ``mode`` at token ``n``, ``count`` in a row."""
    await open_settings(page)
    await choose(page, "fault_mode", mode)
    await choose(page, "fault_kind", "Disconnect")
    await page.locator("#fault_n").fill(n)
    await page.locator("#fault_count").fill(count)
    await confirm(page)


async def test_one_answer_is_one_bubble_and_its_copy_icon_copies_the_answer(page: Any) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await choose_failure(page, "Once at token N", "10", "1")
    text = " ".join(f"part{i}" for i in range(40))
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    shown = (await messages(page))[before:]
    await page.screenshot(path=str(ARTIFACTS / "ui-one-bubble.png"))
    bubbles = [m for m in shown if m["type"] != "tool"]
    assert [m["type"] for m in bubbles] == ["user_message", "assistant_message"], shown
    assert {m["author"] for m in shown if m["type"] == "tool"} == {"Resume", "Stats"}, shown
    assert "1 retry" in next(m["text"] for m in shown if m["author"] == "Stats")
    copy = page.locator(f"#{answer['id']}").locator("button").last
    await copy.click()
    assert await clipboard_text(page) == text


async def test_continue_carries_on_in_the_same_bubble_and_the_old_error_goes(page: Any) -> None:
    await choose_failure(page, "Once at token N", "12", "4")  # more failures in a row than resume attempts
    text = "\n\n".join(f"Line {i} of a long answer." for i in range(30))
    before = len(await messages(page))
    await send(page, text)
    await page.get_by_role("button", name="Continue").wait_for(timeout=WAIT_MS)
    shown = (await messages(page))[before:]
    answer = next(m for m in shown if m["type"] == "assistant_message")
    assert answer["text"] and len(answer["text"]) < len(text) // 3, answer
    errors = [m for m in shown if m["type"] == "tool" and m["author"] in {"", "Error"}]
    assert errors, shown
    await page.get_by_role("button", name="Continue").click()
    await page.locator(f"#{answer['id']}").get_by_text("Line 29 of a long answer.").wait_for(timeout=WAIT_MS)
    await wait_for_message(page, before, author="Stats", contains="tok/s")
    await page.screenshot(path=str(ARTIFACTS / "ui-continued.png"))
    shown = (await messages(page))[before:]
    assert [m["type"] for m in shown if m["type"] != "tool"] == ["user_message", "assistant_message"], shown
    notes = {m["author"]: m["text"] for m in shown if m["type"] == "tool"}
    assert set(notes) == {"Stats"}, f"the old error and give-up notice stayed: {notes}"
    assert "interrupted" not in notes["Stats"], notes  # the one Stats step, updated in place


async def user_bubble(page: Any, after: int) -> dict[str, str]:
    """The user's message sent after index ``after``."""
    return next(m for m in (await messages(page))[after:] if m["type"] == "user_message")


async def test_the_users_bubble_shows_what_the_model_received(page: Any) -> None:
    await open_settings(page)
    await choose(page, "guard_pii", "Redact")
    await confirm(page)
    text = "Write to jane.doe@example.com or call 555-123-4567 tonight."
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    redacted = "Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER> tonight."
    assert answer["text"] == redacted
    await page.screenshot(path=str(ARTIFACTS / "ui-user-redacted.png"))
    assert (await user_bubble(page, before))["text"] == redacted


async def test_a_blocked_message_is_marked_as_blocked(page: Any) -> None:
    await open_settings(page)
    await choose(page, "guard_profanity", "Block")
    await confirm(page)
    before = len(await messages(page))
    await send(page, "well sh1t")
    await wait_for_answer(page, before)
    await page.screenshot(path=str(ARTIFACTS / "ui-user-blocked.png"))
    bubble = await user_bubble(page, before)
    assert "Blocked by guardrail profanity" in bubble["text"] and "never saw" in bubble["text"], bubble
    struck = page.locator(f"#{bubble['id']}").locator("del")
    assert await struck.inner_text() == "well sh1t"


async def test_a_settings_change_says_what_was_applied_refused_and_who_answers(page: Any) -> None:
    await open_settings(page)
    await choose(page, "provider", "Local")
    await page.locator("#model").fill("gpt-4o")  # the embedded provider has no choice of model
    await page.locator("#temperature").fill("0.3")
    await page.locator("#max_tokens").fill("lots")
    before = len(await messages(page))
    await confirm(page)
    refused = await wait_for_message(page, before, contains="Refused")
    await page.screenshot(path=str(ARTIFACTS / "ui-settings-refused.png"))
    assert "max_tokens='lots'" in refused["text"] and "Model 'gpt-4o'" in refused["text"], refused
    assert "Applied: provider, temperature." in refused["text"], refused
    await wait_for_message(page, before, contains="Now answering with: Local")


async def test_buffering_is_chosen_from_a_list(page: Any) -> None:
    await open_settings(page)
    await choose(page, "buffer_choice", "Whole sentences (sentence)")
    await confirm(page)
    await open_settings(page)
    assert await page.locator("#buffer").input_value() == "sentence"  # the spec in force, shown in the box
    await page.locator("#buffer").fill("words:2")  # a custom spec is still possible
    await confirm(page)
    await open_settings(page)
    assert "Custom" in await page.locator("#buffer_choice").inner_text()
    assert await page.locator("#buffer").input_value() == "words:2"


async def test_the_stream_page_shows_why_the_api_refused(page: Any, app: Any) -> None:
    await page.goto(app.url + "/stream")
    await page.locator("#token").fill(TOKEN)
    await page.locator("#provider").fill("nope")
    await page.locator("#send").click()
    stats = page.locator("#stats")
    await page.wait_for_function("() => document.getElementById('stats').textContent.startsWith('refused')")
    await page.screenshot(path=str(ARTIFACTS / "ui-stream-refused.png"))
    text = await stats.inner_text()
    assert text.startswith("refused (400)") and "nope" in text, text


async def test_after_continue_the_continuation_stays_in_view(page: Any) -> None:
    await page.set_viewport_size({"width": 1100, "height": 560})
    await choose_failure(page, "Once at token N", "12", "4")
    text = "\n\n".join(f"Line {i} of a long answer." for i in range(30))
    before = len(await messages(page))
    await send(page, text)
    button = page.get_by_role("button", name="Continue")
    await button.wait_for(timeout=WAIT_MS)
    await page.wait_for_timeout(700)  # the page has scrolled to the end of what is there
    answer = next(m for m in (await messages(page))[before:] if m["type"] == "assistant_message")
    await button.dispatch_event("click")  # as a person clicks: no scrolling first, unlike Playwright's click()
    last = page.locator(f"#{answer['id']}").get_by_text("Line 29 of a long answer.")
    await last.wait_for(timeout=WAIT_MS)
    await page.wait_for_timeout(1500)  # the answer's end and its notes arrive, the page settles
    await page.screenshot(path=str(ARTIFACTS / "ui-continued-in-view.png"))
    box = await last.bounding_box()
    composer = await page.locator("#chat-input").bounding_box()
    assert box is not None and composer is not None
    assert 0 <= box["y"] and box["y"] + box["height"] <= composer["y"], (box, composer)
