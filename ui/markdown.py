"""Keeping every character the model wrote on screen: escaping Markdown text directives.

Chainlit's Markdown renderer runs ``remark-directive``, which reads ``:word``
as a text directive and drops it ("Status:ok" shows as "Status", Chainlit
issue #1930).  A backslash before the colon (``\\:``) is a CommonMark escape
that renders as a plain ``:``, so we put one before every colon that could
start a directive name (a colon followed by an ASCII letter), except where
the text is literal anyway: code spans, fenced and indented code blocks,
where a backslash would show.

This is rendering only: the model's context and the history keep the raw
text (``chat.session``); only what a sink hands Chainlit is escaped.

``StreamEscaper`` does the same for an answer that arrives in pieces: a
trailing colon is held back until the next piece says whether a letter
follows it, and when new text changes how earlier text must be escaped (a
backtick that closes a code span), it asks for the whole text to be
replaced instead of appended.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# A colon that can open a directive: the next character is a directive name's first (an ASCII letter),
# or another colon (``::leaf`` and ``:::container`` directives; a bare ``:::`` line is a container fence).
# A colon after an odd number of backslashes is escaped already; after an even number (a literal backslash,
# then the colon) it still opens one (``_escape_colons``).
_DIRECTIVE = re.compile(r":(?=[A-Za-z:])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
# A URL is one autolink, whose colons never start a directive, and an escape would show inside it.
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.I)
# Chainlit's MarkdownAlert plugin turns a parsed text node matching ``^:::\s*name\n...\n:::`` into an alert box,
# dropping the fences and the name; backslash escapes are gone by then, so such an opening fence is broken by
# an invisible WORD JOINER after its first colon (``:\u2060::note``).  Only where a text node can start: not
# right after a word (or a word and a space), where the fence is mid-sentence; other colon runs stay as they are.
_ALERT_OPEN = re.compile(r"(?<![\w.,;!?])(?<![\w.,;!?] )(?<!:):(?=::\s*[A-Za-z0-9_-]+\n)")
# Raw HTML is shown as it is (Chainlit renders no HTML: it shows the tags as text) and no directive is read
# inside it, so an escape would show there: inline tags and comments are literal, like code spans (CommonMark's
# inline HTML), and so are HTML blocks that start with a comment (up to its end) or a block-level tag (up to
# a blank line).
_HTML_INLINE = (  # tags; comments are found by ``_escape_prose`` (a lazy regex is quadratic on many "<!--")
    r"</[A-Za-z][A-Za-z0-9-]*\s*>"
    r"|<[A-Za-z][A-Za-z0-9-]*(?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*(?:\s*=\s*(?:[^\s\"'=<>`]+|'[^']*'|\"[^\"]*\"))?)*\s*/?>"
)
_LITERAL = re.compile(f"{_HTML_INLINE}|{_URL.pattern}", re.I)
_HTML_COMMENT_BLOCK = re.compile(r"^ {0,3}<!--")
_HTML_BLOCK = re.compile(
    r"^ {0,3}</?(?:address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog"
    r"|dir|div|dl|dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend"
    r"|li|link|main|menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|summary|table|tbody|td"
    r"|tfoot|th|thead|title|tr|track|ul)(?:[ \t>]|/>|$)",
    re.I,
)
JOINER = "\u2060"
_ALERT_BROKEN = ":" + JOINER


def _escape_prose(text: str, leaf: Callable[[str], str] | None = None) -> str:
    """Escape directive colons (and break alert fences) in text that holds no code span."""
    if ":" not in text:
        return text
    out: list[str] = []
    pos = 0
    while (start := text.find("<!--", pos)) >= 0 and (end := text.find("-->", start + 4)) >= 0:
        out.append(_escape_outside_html(text[pos:start], leaf))
        out.append(text[start : end + 3])  # an HTML comment, verbatim
        pos = end + 3
    out.append(_escape_outside_html(text[pos:], leaf))
    return "".join(out)


def _escape_outside_html(text: str, leaf: Callable[[str], str] | None = None) -> str:
    """Escape directive colons in text outside code spans and HTML comments: URLs and tags stay as they are."""
    out: list[str] = []
    pos = 0
    for literal in _LITERAL.finditer(text):  # a URL or an inline HTML tag
        out.append((leaf or _escape_colons)(text[pos : literal.start()]))
        out.append(literal.group())
        pos = literal.end()
    out.append((leaf or _escape_colons)(text[pos:]))
    return "".join(out)


def _escape_colons(text: str) -> str:
    text = _ALERT_OPEN.sub(_ALERT_BROKEN, text)
    return _DIRECTIVE.sub(lambda m: m.group() if _escaped_at(text, m.start()) else "\\:", text)


def _escape_inline(text: str, leaf: Callable[[str], str] | None = None) -> str:
    """Escape directive colons in paragraph text, leaving code spans as they are."""
    if ":" not in text:
        return text
    out: list[str] = []
    pos = 0  # text before ``pos`` is in ``out``
    scan = 0
    while (opener := _BACKTICKS.search(text, scan)) is not None:
        start, run = opener.start(), len(opener.group())
        if _escaped_at(text, start):  # "\`" is a literal backtick, and opens nothing
            scan = start + 1
            continue
        closer = _BACKTICKS.search(text, opener.end())
        while closer is not None and len(closer.group()) != run:
            closer = _BACKTICKS.search(text, closer.end())
        if closer is None:  # an unmatched run is literal text
            scan = opener.end()
            continue
        out.append(_escape_prose(text[pos:start], leaf))
        out.append(text[start : closer.end()])  # the code span, verbatim
        pos = scan = closer.end()
    out.append(_escape_prose(text[pos:], leaf))
    return "".join(out)


def _escaped_at(text: str, i: int) -> bool:
    """Whether the character at ``i`` follows an odd number of backslashes."""
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _blocks(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, literal) runs: code blocks are literal, paragraphs are not."""
    pieces: list[tuple[str, bool]] = []
    para: list[str] = []
    fence: str | None = None  # the open fence's marker run
    html: str | None = None  # in an HTML block: what ends it ("-->" or a blank line, "")
    prose_before = False  # the previous line was paragraph text (an indented line continues it)

    def close_para() -> None:
        if para:
            pieces.append(("".join(para), False))
            para.clear()

    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if fence is not None:
            pieces.append((line, True))
            marker = _FENCE.match(bare)
            if marker and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) and (
                bare.strip() == marker.group(1)
            ):
                fence = None
            continue
        if html is None and (_HTML_COMMENT_BLOCK.match(bare) or _HTML_BLOCK.match(bare)):
            close_para()
            html = "-->" if _HTML_COMMENT_BLOCK.match(bare) else ""
            prose_before = False
        if html is not None:
            ended = ("-->" in bare) if html else not bare.strip()
            pieces.append((line, not (ended and not html)))  # the blank line that ends a block is not in it
            if ended:
                html = None
            continue
        if (marker := _FENCE.match(bare)) is not None:
            close_para()
            fence = marker.group(1)
            pieces.append((line, True))
            prose_before = False
            continue
        if not bare.strip():
            close_para()
            pieces.append((line, False))
            prose_before = False
            continue
        indent = len(bare) - len(bare.lstrip(" \t").expandtabs(4)) if "\t" in bare else len(bare) - len(bare.lstrip())
        if not prose_before and indent >= 4 and not bare.lstrip().startswith(("-", "*", "+")):
            close_para()
            pieces.append((line, True))  # an indented code block
            continue
        para.append(line)
        prose_before = True
    close_para()
    return pieces


def escape(text: str) -> str:
    """``text`` with every colon that Chainlit would read as a directive escaped, outside code."""
    if ":" not in text:
        return text
    return "".join(piece if literal else _escape_inline(piece) for piece, literal in _blocks(text))



def _unescape_colons(text: str) -> str:
    """``text`` without the word joiners that break alert fences and the backslashes that escape colons."""
    text = text.replace(_ALERT_BROKEN, ":")
    out: list[str] = []
    pos = 0
    for colon in re.finditer(":", text):
        if _escaped_at(text, colon.start()):
            out.append(text[pos : colon.start() - 1])
            pos = colon.start()
    out.append(text[pos:])
    return "".join(out)


def unescape(text: str) -> str:
    """``text`` as typed, from the Markdown ``escape`` made of it: ``unescape(escape(x)) == x`` (for an ``x``
    with no escaped colon of its own, which would render as a plain one anyway).

    Chainlit's pencil puts a message's Markdown in the edit box, so an edited question comes back escaped.
    """
    if ":" not in text:
        return text
    leaf = _unescape_colons
    return "".join(piece if literal else _escape_inline(piece, leaf) for piece, literal in _blocks(text))

class StreamEscaper:
    """Escapes an answer that arrives in pieces, for ``stream_token``.

    ``feed`` returns ``(text, replace)``: append ``text``, or, when ``replace``
    is true, show ``text`` instead of everything sent so far.  Each call
    re-escapes only from the start of the last paragraph outside a code
    block, so a long answer costs no more per piece than its last paragraph.
    """

    def __init__(self, raw: str = "") -> None:
        self._head: list[str] = []  # raw text before the last paragraph: its escaping cannot change
        self._tail = raw  # raw text since then
        self._head_out: list[str] = []  # the head's escaped form, in parts
        self._fixed = 0  # parts of ``_head_out`` already on screen exactly as they are
        self._shown = ""  # what is on screen after those parts
        self.feed("")

    @property
    def raw(self) -> str:
        """The unescaped text so far."""
        return "".join(self._head) + self._tail

    @property
    def sent(self) -> str:
        """The escaped text on screen now."""
        return "".join(self._head_out[: self._fixed]) + self._shown

    def feed(self, text: str) -> tuple[str, bool]:
        """Take new raw text; return what to append (or, if ``replace``, the whole new content)."""
        self._tail += text
        self._advance()
        new_head = "".join(self._head_out[self._fixed :])
        rest = new_head + escape(self._tail)
        if self._tail.endswith(":"):
            rest = rest[:-1]  # its fate depends on the next character: show it with the next piece
        replace = not rest.startswith(self._shown)
        delta = rest[len(self._shown) :]
        self._fixed, self._shown = len(self._head_out), rest[len(new_head) :]
        return (self.sent if replace else delta), replace

    def finish(self) -> str:
        """The whole escaped text, trailing colon included."""
        return "".join(self._head_out) + escape(self._tail)

    def _advance(self) -> None:
        """Move finished paragraphs outside code blocks from the tail to the head."""
        cut = self._tail.rfind("\n\n")
        if cut < 0:
            return
        head = self._tail[: cut + 2]
        blocks = _blocks(head)
        if blocks and blocks[-1][1]:  # inside a code block: the cut is no safe point
            return
        self._head.append(head)
        self._head_out.append("".join(piece if literal else _escape_inline(piece) for piece, literal in blocks))
        self._tail = self._tail[cut + 2 :]
