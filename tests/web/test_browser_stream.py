"""In a real browser, the embedded model's answer grows token by token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, answer_texts, browser_page, send
from tests.webapp import running_app

pytestmark = [pytest.mark.browser, pytest.mark.model]


async def test_answer_grows_token_by_token_in_chromium(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with running_app(tmp_path, env={"DEFAULT_PROVIDER": "local"}) as app:
        async with browser_page(app.url) as page:
            await page.get_by_text("SmolLM2").first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
            before = len(await answer_texts(page))
            await send(page, "Tell me a short story about a lighthouse.")
            states: list[str] = []
            shot = False
            for _ in range(1500):  # up to ~30 s, sampling the growing answer every 20 ms
                texts = await answer_texts(page)
                if len(texts) > before and texts[before] and (not states or texts[before] != states[-1]):
                    states.append(texts[before])
                    if len(states) == 6 and not shot:
                        await page.screenshot(path=str(ARTIFACTS / "stream-mid.png"))  # type: ignore[attr-defined]
                        shot = True
                if any("tok/s" in t for t in texts[before:]):
                    break
                await asyncio.sleep(0.02)
            await page.screenshot(path=str(ARTIFACTS / "stream-done.png"))  # type: ignore[attr-defined]
    assert len(states) >= 4, f"the answer appeared in {len(states)} states: {states!r}"
    for shorter, longer in zip(states, states[1:], strict=False):
        assert longer.startswith(shorter.rstrip()[:-1] if len(shorter) > 1 else ""), (shorter, longer)
    assert shot
