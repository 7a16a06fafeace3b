"""A ``:::name`` ... ``:::`` block in an answer stays text: Chainlit's alert plugin must not eat it.

Besides remark-directive (``ui.markdown``'s first concern), Chainlit 2.x runs a
MarkdownAlert plugin over the parsed text: a text node matching
``^:::\\s*name\\n...\\n:::`` becomes an "Info"/"Warning"... box and its fences
and name vanish.  A backslash escape does not help there (the parsed text has
no backslash), so the escaper breaks every run of three colons with an
invisible WORD JOINER after an opening fence's first colon.  The browser test shows it on screen (echo provider,
history off).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import send
from tests.ui.test_browser_history import answers, chromium_page, stats_shown, wait_until
from ui.markdown import StreamEscaper, escape

ALERT = ":::danger\nrun away\n:::"
JOINER = "\u2060"


def _as_parsed(escaped: str) -> str:
    """The text a Markdown parser keeps: character escapes resolved (no code here)."""
    return escaped.replace("\\:", ":")


def test_no_three_colons_survive_escaping_outside_code() -> None:
    for text in (ALERT, "::: tip\nx\n:::", "**b**:::warning\nx\n:::", "`c`:::note\nx\n:::"):
        parsed = _as_parsed(escape(text))
        assert not re.search(r":::\s*[\w-]+\n", parsed), parsed
        assert parsed.replace(JOINER, "") == text  # nothing else changes


def test_colon_runs_that_open_no_alert_get_no_joiner() -> None:
    mid_sentence = ("say :::note\nx\n:::", "a bare ::: fence\n")
    for text in (":::note a container, ::leaf and a bare ::: fence", "a ::::: b", "x ::::note\ny\n:::", *mid_sentence):
        assert JOINER not in escape(text)


def test_code_keeps_its_colons() -> None:
    assert escape("`:::x`") == "`:::x`"
    assert escape("```\n:::note\nx\n:::\n```") == "```\n:::note\nx\n:::\n```"


def test_a_streamed_alert_ends_escaped_the_same_way() -> None:
    escaper = StreamEscaper()
    shown = ""
    for piece in [":", ":", ":dan", "ger\nrun", " away\n:", "::"]:
        text, replace = escaper.feed(piece)
        shown = text if replace else shown + text
    final = escaper.finish()
    assert final == escape(ALERT) and JOINER in final
    assert shown == final[:-1]  # all but the last colon, held until the answer ends


@pytest.mark.browser
async def test_an_answer_with_an_alert_block_shows_every_character(tmp_path: Path) -> None:
    from tests.webapp import running_app

    with running_app(tmp_path, env={"DATABASE_URL": "off"}) as app:
        async with chromium_page(app.url) as page:
            await send(page, ALERT)
            await wait_until(page, lambda: stats_shown(page), "the answer's end")
            [(_, shown)] = await answers(page)
            assert shown.replace(JOINER, "") == ALERT
