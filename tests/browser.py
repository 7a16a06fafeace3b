"""Playwright driving Debian's chromium (/usr/bin/chromium) against the running app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling out, and this
# machine has no network: it must only ever talk to the app on loopback.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
ANSWERS = '[data-step-type="assistant_message"] .message-content'


def require_chromium() -> None:
    """Skip (loudly) when chromium is missing; CI installs it through apt."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@asynccontextmanager
async def browser_page(url: str) -> AsyncIterator[object]:
    """A fresh chromium page on ``url``, closed afterwards."""
    from playwright.async_api import async_playwright

    require_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 760})
            await page.goto(url)
            yield page
        finally:
            await browser.close()


async def send(page: object, text: str) -> None:
    """Type ``text`` into the composer and send it."""
    box = page.locator("#chat-input")  # type: ignore[attr-defined]
    await box.fill(text)
    await box.press("Enter")


async def answer_texts(page: object) -> list[str]:
    """The text of every assistant message on screen."""
    return await page.locator(ANSWERS).all_inner_texts()  # type: ignore[attr-defined]
