"""Escaping Markdown text directives: every colon case, code left literal, and streaming in any split."""

from __future__ import annotations

import random

import pytest

from ui.markdown import StreamEscaper, escape

CASES = [
    ("Status:ok, mode:fast", r"Status\:ok, mode\:fast"),
    ("Note:this line", r"Note\:this line"),
    ("at 10:30 on port 127.0.0.1:8080", "at 10:30 on port 127.0.0.1:8080"),  # digits start no directive
    ("John 3:16", "John 3:16"),
    ("fe80::1 and ::ffff:10.0.0.1", r"fe80\::1 and \:\:ffff:10.0.0.1"),
    (":smile: and :+1:", r"\:smile: and :+1:"),
    ("std::vector", r"std\:\:vector"),
    (":::note\ninside\n:::", ":\u2060\\:\\:note\ninside\n\\:\\::"),  # an alert-shaped container directive
    ("::leaf[x] then ::", r"\:\:leaf[x] then \::"),
    ("use `a:b` and ``x`y:z``", "use `a:b` and ``x`y:z``"),  # code spans stay literal
    ("an unmatched ` then a:b", r"an unmatched ` then a\:b"),
    ("```\nfoo:bar\n```\nafter:x", "```\nfoo:bar\n```\nafter\\:x"),  # fenced block literal, text after it not
    ("~~~~\nx:y\n~~~\nz:w\n~~~~\nv:u", "~~~~\nx:y\n~~~\nz:w\n~~~~\nv\\:u"),  # only a long enough fence closes
    ("    code:x\n\npara:x", "    code:x\n\npara\\:x"),  # an indented code block
    ("see https://example.com/a:b", "see https://example.com/a:b"),  # an autolink is one token
    (r"already\:escaped", r"already\:escaped"),
    ("no colon at all", "no colon at all"),
]


@pytest.mark.parametrize(("raw", "escaped"), CASES)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def _stream(raw: str, cuts: list[int]) -> tuple[list[str], str, StreamEscaper]:
    """Feed ``raw`` cut at ``cuts``; return every screen state, the final screen, and the escaper."""
    escaper = StreamEscaper()
    screen = ""
    states = []
    bounds = [0, *cuts, len(raw)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        text, replace = escaper.feed(raw[a:b])
        screen = text if replace else screen + text
        states.append(screen)
    return states, screen, escaper


def test_a_colon_at_the_end_of_a_piece_waits_for_the_next_character() -> None:
    states, screen, escaper = _stream("Status:ok", [7])
    assert states == ["Status", r"Status\:ok"]
    assert escaper.finish() == r"Status\:ok"


def test_a_trailing_colon_is_shown_at_the_end() -> None:
    _, screen, escaper = _stream("Remember:", [])
    assert screen == "Remember" and escaper.finish() == "Remember:"


def test_a_closing_backtick_turns_escaped_text_back_to_code() -> None:
    states, _, escaper = _stream("x `a:b` y", [5, 6])
    assert states[1] == r"x `a\:b"  # not a code span yet: escaped
    assert states[2] == "x `a:b` y"  # now it is: replaced as a whole
    assert escaper.sent == "x `a:b` y"


def test_streaming_in_any_split_ends_as_the_whole_text_escaped() -> None:
    rng = random.Random(15)
    corpus = "\n\n".join(raw for raw, _ in CASES) + "\n\nend:x\n\n```py\na:b\n\nc:d\n```\n\ne:f `g:h`"
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(corpus)), rng.randint(1, 60)))
        states, screen, escaper = _stream(corpus, cuts)
        assert escaper.finish() == escape(corpus)
        assert escaper.raw == corpus
        assert escape(corpus).startswith(screen.rstrip(":"))


def test_continuing_from_text_already_shown() -> None:
    escaper = StreamEscaper("Status:")
    assert escaper.sent == "Status"
    text, replace = escaper.feed("ok")
    assert (text, replace) == (r"\:ok", False)
