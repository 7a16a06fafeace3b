"""Raw HTML in an answer is shown as text by Chainlit, with no directive read in it: its colons get no
escape, which would show there as a backslash ("<!-- c\\:d -->")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import send
from tests.ui import test_browser_e2e as e2e
from tests.ui.test_browser_e2e import messages, wait_for_answer
from ui.markdown import StreamEscaper, escape

# The fixtures of the e2e module: one app (echo provider) and one chromium, a fresh page per test.
app, browser, page = e2e.app, e2e.browser, e2e.page

CASES = [
    # (sent, what must be on screen): an HTML block (a comment first), inline tags and a comment mid-paragraph,
    # a block-level tag's block, then prose again.
    ('<!-- c:d --> and <span title="a:b">x:y</span>', ["<!-- c:d -->", 'title="a:b"', "x:y"]),
    ("a <b>html:tag</b> and <!-- e:f --> z:w", ["<b>html:tag</b>", "<!-- e:f -->", "z:w"]),
    ("<div>\ng:h\n</div>\n\nafter:z", ["<div>", "g:h", "after:z"]),
]


def test_html_keeps_its_colons_and_text_around_it_is_escaped() -> None:
    assert escape(CASES[0][0]) == CASES[0][0]
    assert escape(CASES[1][0]) == "a <b>html\\:tag</b> and <!-- e:f --> z\\:w"
    assert escape(CASES[2][0]) == "<div>\ng:h\n</div>\n\nafter\\:z"


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("sent", "shown"), CASES)
async def test_html_in_an_answer_shows_no_backslash(page: Any, sent: str, shown: list[str]) -> None:
    before = len(await messages(page))
    await send(page, sent)
    answer = await wait_for_answer(page, before)
    assert "\\" not in answer["text"]
    for part in shown:
        assert part in answer["text"]


@pytest.mark.parametrize("sent", [sent for sent, _ in CASES])
def test_streamed_html_ends_escaped_the_same_way(sent: str) -> None:
    escaper = StreamEscaper()
    shown = ""
    for i in range(0, len(sent), 3):
        piece, replace = escaper.feed(sent[i : i + 3])
        shown = piece if replace else shown + piece
    assert escaper.finish() == escape(sent)
    assert shown == escaper.sent
