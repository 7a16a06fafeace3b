"""The user's own bubble shows what the model received: the redacted text, or a mark that it was blocked.

Chainlit shows the message as typed.  With an input guardrail on, the model
may see less (redaction) or nothing (block); the bubble is updated to say so,
so nobody believes the model read an e-mail address it never saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import chainlit as cl

from agents.events import Done, Event, Failed
from ui.markdown import escape, unescape


def input_block(event: Event) -> Mapping[str, Any] | None:
    """The verdict that blocked the user's message, if ``event`` ends a turn that way."""
    if not isinstance(event, Done | Failed) or event.stats.outcome != "blocked":
        return None
    return next((v for v in event.stats.verdicts if v.get("where") == "input" and v.get("action") == "block"), None)


def content(sent: str, block: Mapping[str, Any] | None) -> str:
    """The bubble's Markdown: what the model received, or the message marked as blocked."""
    if block is None:
        return escape(sent)
    rule = str(block.get("rule", ""))
    return f"~~{escape(sent)}~~\n\n**Blocked by guardrail {escape(rule)}**: the model never saw this message."


def as_typed(edited: str) -> str:
    """An edited question as the user typed it: the pencil's box holds the bubble's Markdown, escapes included."""
    return unescape(edited)


async def show_as_received(question: cl.Message, sent: str, event: Event) -> None:
    """Update the user's bubble if the model received something else than what was typed."""
    block = input_block(event)
    # Chainlit renders the bubble as Markdown too: a message as typed with "a:b" in it drops ":b", so the
    # bubble is updated to its escaped form whenever that differs from what it shows.
    if block is None and content(sent, None) == question.content:
        return
    question.content = content(sent, block)
    await question.update()
