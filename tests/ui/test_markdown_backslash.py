"""A colon after a literal backslash (``\\\\:``) still opens a directive, so it is escaped like any other."""

from __future__ import annotations

import pytest

from ui.markdown import StreamEscaper, escape


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("and \\\\:double", "and \\\\\\:double"),  # a literal backslash, then an escaped colon
        ("and \\\\\\\\:four", "and \\\\\\\\\\:four"),
        ("and \\:single", "and \\:single"),  # escaped already: left as it is
        ("and \\\\\\:three", "and \\\\\\:three"),
    ],
)
def test_a_colon_after_backslashes_is_escaped_unless_one_escapes_it(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_a_streamed_colon_after_a_literal_backslash_ends_escaped_the_same_way() -> None:
    escaper = StreamEscaper()
    for piece in ["Path C", ":\\", "\\", ":dir and more"]:
        escaper.feed(piece)
    assert escaper.finish() == escape("Path C:\\\\:dir and more") == "Path C:\\\\\\:dir and more"
