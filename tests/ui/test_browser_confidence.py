"""The hallucination check as a person sees it in Chromium (issue 18): marks beside the answer, copy unchanged.

The real app answers through its OpenAI provider, pointed at a scripted
OpenAI-compatible server on loopback whose stream chunks carry log-probabilities,
with ``GUARDS=hallucination=flag``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

from agents.confidence import DEFAULT_THRESHOLD, sentence_confidences
from agents.providers.base import TokenLogprob
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, send
from tests.servers.payloads import openai_scored_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.ui.test_browser_e2e import WAIT_MS, messages, wait_for_answer, wait_for_message
from tests.ui.test_browser_ui import clipboard_text
from tests.webapp import App, running_app

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PIECES = [("Paris is ", math.log(0.95)), ("the capital of France. ", math.log(0.9)), ("It has ", math.log(0.03)),
          ("nine moons and a ", math.log(0.02)), ("glass river.", math.log(0.04))]  # fmt: skip
TEXT = "".join(t for t, _ in PIECES)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, scripted_module: ScriptedServer) -> Iterator[App]:
    require_chromium()
    env = {"DEFAULT_PROVIDER": "openai", "OPENAI_BASE_URL": f"{scripted_module.url}/v1", "GUARDS": "hallucination=flag",
           "DATABASE_URL": "off"}  # fmt: skip
    with running_app(tmp_path_factory.mktemp("confidence-ui"), env=env) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def page(app: App) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 760})
            await context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = await context.new_page()
            await page.goto(app.url)
            await page.locator('[data-step-type="assistant_message"]').first.wait_for(timeout=WAIT_MS)
            yield page
        finally:
            await browser.close()


async def test_the_doubtful_sentences_are_marked_and_the_copied_answer_is_the_streamed_text(
    page: Any, scripted_module: ScriptedServer
) -> None:
    scripted_module.enqueue(Reply.sse(openai_scored_stream(PIECES), done=True))
    before = len(await messages(page))
    await send(page, "Tell me about Paris.")
    answer = await wait_for_answer(page, before)
    marks = await wait_for_message(page, before, author="Confidence", contains="nine moons")
    await page.screenshot(path=str(ARTIFACTS / "ui-confidence.png"))
    assert answer["text"] == TEXT, "the answer on screen is the text as streamed, unmarked"
    assert scripted_module.requests[-1].body["logprobs"] is True
    stats = next(m for m in (await messages(page))[before:] if m["author"] == "Stats")
    assert "confidence" in stats["text"]
    assert "Confidence" in marks["text"] and "check" in marks["text"]
    tokens = [TokenLogprob(t, lp) for t, lp in PIECES]
    for start, end, score in sentence_confidences(TEXT, tokens):  # whatever the scorer calls a sentence
        sentence = " ".join(TEXT[start:end].split())
        if score < DEFAULT_THRESHOLD:
            assert sentence in " ".join(marks["text"].split()), (sentence, marks["text"])
        else:
            assert sentence not in marks["text"], "only the low-confidence sentences are marked"
    copy = page.locator(f"#{answer['id']}").locator("button").last
    await copy.click()
    assert await clipboard_text(page) == TEXT
