"""The app as a person uses it: Chromium against the real Chainlit server, echo provider.

One app server and one chromium serve the whole module; every test opens its
own browser context and page, which is a fresh Chainlit session with default
settings.  Settings are changed the
way a person does it: the gear in the composer, the widgets, Confirm.  A
MutationObserver in the page records every text each message showed, so
"the answer grew" and "the text stopped growing" are read from what was
rendered, not from polling at lucky moments.  Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, send
from tests.webapp import App, running_app

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 30_000  # generous: the machine is shared and chromium is slow to start under load

# Records, in order, every distinct text any reply showed: [[step id, text], ...].  The user's own
# messages are skipped: re-reading a 200k-character paste on every mutation would crawl.
_RECORDER = """() => {
  window.__log = [];
  const last = {};
  const record = () => {
    for (const step of document.querySelectorAll('[data-step-type]:not([data-step-type="user_message"])')) {
      const box = step.querySelector('[id^="step-"]');
      const content = step.querySelector('.message-content');
      if (!box || !content) continue;
      const text = content.textContent;  // not innerText: that forces a layout on every mutation
      if (last[box.id] !== text) { last[box.id] = text; window.__log.push([box.id, text]); }
    }
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true});
  record();
}"""

# Every message on screen: its step id, type, author (from the avatar; "" for error messages) and text
# (a user message's only up to 1,000 characters, so a huge paste is not shipped back on every poll).
_MESSAGES = """() => [...document.querySelectorAll('[data-step-type]')].map(step => {
  const box = step.querySelector('[id^="step-"]');
  const avatar = step.querySelector('img[alt^="Avatar for "]');
  const content = step.querySelector('.message-content');
  const user = step.getAttribute('data-step-type') === 'user_message';
  return {
    id: box ? box.id : '',
    type: step.getAttribute('data-step-type'),
    author: avatar ? avatar.alt.slice('Avatar for '.length) : '',
    text: (content ? content.innerText : step.innerText).slice(0, user ? 1000 : undefined),
  };
})"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One running app (echo provider) for the module."""
    require_chromium()
    with running_app(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    """One chromium for the module (launching it is most of a test's cost)."""
    from playwright.async_api import async_playwright

    require_chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(app: App, browser: Any) -> AsyncIterator[Any]:
    """A fresh page (its own context: a new Chainlit session), connected, recording message states."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        page = await context.new_page()
        await page.goto(app.url)
        await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
        await page.evaluate(_RECORDER)
        yield page
    finally:
        await context.close()


async def messages(page: Any) -> list[dict[str, str]]:
    """Every message on screen, in order."""
    return await page.evaluate(_MESSAGES)


async def history(page: Any) -> list[tuple[str, str]]:
    """Every (step id, text) any message has shown so far, in order."""
    return [(step, text) for step, text in await page.evaluate("() => window.__log")]


async def states(page: Any, step_id: str) -> list[str]:
    """Every text the message ``step_id`` has shown so far."""
    return [text for step, text in await history(page) if step == step_id]


async def wait_for_message(page: Any, after: int, *, author: str | None = None, contains: str = "") -> dict[str, str]:
    """The first message past index ``after`` by ``author`` containing ``contains``, once it is on screen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_MS / 1000
    while True:
        for message in (await messages(page))[after:]:
            if (author is None or message["author"] == author) and contains in message["text"]:
                return message
        if loop.time() > deadline:
            raise AssertionError(f"no message by {author!r} containing {contains!r}; on screen: {await messages(page)}")
        await page.wait_for_timeout(25)  # the page's own timer: re-read the DOM on the next frames


async def wait_for_answer(page: Any, after: int) -> dict[str, str]:
    """The answer to the message just sent, once its Stats step says it is done."""
    await wait_for_message(page, after, author="Stats")
    shown = await messages(page)
    return next(m for m in shown[after:] if m["type"] == "assistant_message")


async def open_settings(page: Any) -> None:
    """Click the gear in the composer."""
    await page.locator("#chat-settings-open-modal").click()
    await page.locator("#confirm").wait_for(timeout=WAIT_MS)


async def choose(page: Any, widget: str, option: str) -> str:
    """Pick the option whose label starts with ``option`` in the select ``widget``; returns the full label."""
    await page.locator(f"#{widget}").click()
    item = page.get_by_role("option").filter(has_text=option).first
    label = (await item.inner_text()).strip()
    await item.click()
    return label


async def confirm(page: Any) -> None:
    """Press Confirm and wait for the panel to close."""
    await page.locator("#confirm").click()
    await page.locator("#confirm").wait_for(state="detached", timeout=WAIT_MS)


async def test_answer_grows_through_intermediate_states(page: Any) -> None:
    text = " ".join(f"Sentence number {i} streams in small pieces, token by token." for i in range(8))
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_message(page, before, author="Guarded Stream Chat")
    await page.screenshot(path=str(ARTIFACTS / "e2e-grows-mid.png"))
    answer = await wait_for_answer(page, before)
    await page.screenshot(path=str(ARTIFACTS / "e2e-grows-done.png"))
    shown = await states(page, answer["id"])
    assert shown[-1] == text
    intermediate = [s for s in shown[:-1] if s]
    assert len(intermediate) >= 3, f"the answer appeared in only {len(shown)} states: {shown!r}"
    for shorter, longer in zip(shown, shown[1:], strict=False):
        assert longer.startswith(shorter.rstrip()), (shorter, longer)  # it grows; nothing shown is taken back


async def test_stop_mid_answer_keeps_the_partial_text_and_it_stops_growing(page: Any) -> None:
    text = " ".join(f"word{i:03d}" for i in range(400))  # ~800 pieces at 50 tok/s: 16 s if never stopped
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_message(page, before, author="Guarded Stream Chat", contains="word010")
    stop = page.locator("#stop-button")
    await stop.click()
    await wait_for_message(page, before, contains="stopped")
    await stop.wait_for(state="detached", timeout=WAIT_MS)
    settled = await states(page, answer["id"])
    await page.wait_for_timeout(1500)  # a stopped stream must stay still: watch it for 75 would-be tokens
    after = await states(page, answer["id"])
    await page.screenshot(path=str(ARTIFACTS / "e2e-stopped.png"))
    assert after == settled, f"the text kept changing after Stop: {after[len(settled) - 1:]!r}"
    partial = after[-1]
    assert partial and text.startswith(partial.rstrip()), partial
    assert len(partial) < len(text) // 2, f"Stop did not stop: {len(partial)} of {len(text)} characters shown"
    # The session carries on.
    before = len(await messages(page))
    await send(page, "still here")
    assert (await wait_for_answer(page, before))["text"] == "still here"


async def test_provider_without_its_key_gives_a_clear_message_and_the_chat_carries_on(page: Any) -> None:
    await open_settings(page)
    label = await choose(page, "provider", "OpenAI")
    assert "unavailable" in label and "OPENAI_API_KEY" in label, label
    before = len(await messages(page))
    await confirm(page)
    error = await wait_for_message(page, before, contains="OPENAI_API_KEY")
    await page.screenshot(path=str(ARTIFACTS / "e2e-missing-key.png"))
    assert error["author"] == "" and "needs an API key" in error["text"], error  # an error message, one line
    assert "Traceback" not in error["text"]
    before = len(await messages(page))
    await send(page, "is anyone there?")
    assert (await wait_for_answer(page, before))["text"] == "is anyone there?"


async def test_a_200k_character_paste_gets_a_clear_message(page: Any) -> None:
    # Prose, as people paste it.  (One unbroken 200k-character word also works, but Chromium takes
    # ~15 s just to lay the echoed user message out: a browser cost, not the app's.)
    paste = ("lorem ipsum dolor sit amet " * 8000)[:199_999] + "!"
    before = len(await messages(page))
    await send(page, paste)
    error = await wait_for_message(page, before, contains="200,000 characters")
    await page.screenshot(path=str(ARTIFACTS / "e2e-too-long.png"))
    assert "limit is 32,000" in error["text"] and "Nothing was sent" in error["text"], error
    before = len(await messages(page))
    await send(page, "a short one")
    assert (await wait_for_answer(page, before))["text"] == "a short one"


async def test_buffering_and_pii_guardrail_settings_have_a_visible_effect(page: Any) -> None:
    await open_settings(page)
    await page.locator("#buffer").fill("sentence")
    await choose(page, "guard_pii", "Redact")
    await page.screenshot(path=str(ARTIFACTS / "e2e-settings-panel.png"))
    await confirm(page)
    text = "Hello, I am Jane. Write to jane.doe@example.com today. Or call 555-123-4567 tonight. Bye now."
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    redacted = "Hello, I am Jane. Write to <EMAIL_ADDRESS> today. Or call <PHONE_NUMBER> tonight. Bye now."
    assert answer["text"] == redacted
    shown = await states(page, answer["id"])
    assert not any("example.com" in s or "4567" in s for s in shown), shown  # never shown, not even briefly
    # Sentence buffering: the answer grows a whole sentence at a time.
    assert len(shown) >= 3, shown
    for partial in shown[:-1]:
        assert partial.rstrip().endswith((".", "!", "?")), f"a partial sentence was shown: {partial!r}"
    # The verdict is in a Step under the answer.
    step = await wait_for_message(page, before, author="Guardrails")
    assert step["type"] == "tool", step
    await page.locator(f"#{step['id']}").get_by_text("Guardrails").first.click()
    details = page.locator(f"#{step['id']}").get_by_role("region")
    await details.wait_for(timeout=WAIT_MS)
    verdict = await details.inner_text()
    await page.screenshot(path=str(ARTIFACTS / "e2e-guardrail-verdict.png"))
    # Rendered as a table (not raw Markdown): one row per rule, cells separated by tabs.
    assert await details.locator("table").count() == 1, verdict
    rows = [line.split("\t") for line in verdict.splitlines()]
    assert rows[0][:3] == ["rule", "action", "where"], verdict
    assert any(row[0] == "pii" and row[1].startswith("redact") for row in rows[1:]), verdict


async def test_simulated_failure_shows_the_resume_notice_then_the_full_answer(page: Any) -> None:
    await open_settings(page)
    await choose(page, "fault_mode", "Once at token N")
    await choose(page, "fault_kind", "Disconnect")
    await page.locator("#fault_n").fill("10")
    await confirm(page)
    text = " ".join(f"part{i}" for i in range(40))
    before = len(await messages(page))
    await send(page, text)
    answer = await wait_for_answer(page, before)
    await page.screenshot(path=str(ARTIFACTS / "e2e-resumed.png"))
    assert answer["text"] == text
    log = await history(page)
    shown = await messages(page)
    # One notice line under the answer, updated in place: "resuming", then "resumed".
    notice = next(m for m in shown[before:] if m["author"] == "Resume")
    lines = [t for step, t in log if step == notice["id"]]
    assert any("resuming" in t for t in lines) and "resumed" in lines[-1], lines
    first_notice = next(i for i, (step, _) in enumerate(log) if step == notice["id"])
    before_notice = [t for step, t in log[:first_notice] if step == answer["id"]]
    after_notice = [t for step, t in log[first_notice:] if step == answer["id"]]
    # The partial answer was on screen when the notice came, and it then grew to the full answer.
    assert before_notice and before_notice[-1] and len(before_notice[-1]) < len(text), before_notice
    assert after_notice and after_notice[-1] == text
    assert "1 retry" in shown[-1]["text"], shown[-1]
