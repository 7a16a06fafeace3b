"""Render the runner's typed events into one streaming Chainlit message."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import chainlit as cl

from agents.errors import ChatError
from agents.events import Done, Event, Failed, Notice, NoticeKind, Replace, Stats, TextDelta
from ui import notes, question
from ui.actions import continue_action
from ui.markdown import StreamEscaper, escape

if TYPE_CHECKING:
    from chat.session import Turn


async def show_error(error: ChatError | str) -> None:
    """One clear line, never a stack trace."""
    await cl.ErrorMessage(content=escape(str(error)), author="Error").send()


async def show_notice(text: str) -> None:
    """One short confirmation line (a settings change took effect)."""
    await cl.Message(content=escape(text), author="Settings").send()


def waiting_id(message_id: str) -> str:
    """The id of an answer's "waiting for the model" line: any page re-attached to the answer can take it away."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"waiting:{message_id}"))


class ChainlitSink:
    """Streams an answer into one message; the partial text stays on any ending.

    Notices, the error, guardrail verdicts and the stats go to Steps under the
    message (``ui.notes``): one answer, one bubble.
    """

    def __init__(self, message: cl.Message | None = None) -> None:
        # Under the question's run, where Chainlit puts it: its copy icon needs that.  (At the top of the
        # thread the question would not be re-rendered with every update, but the copy icon goes.)
        #: The answer's message; pass an existing one to carry on streaming into it (Continue).
        self.message = message or cl.Message(content="")
        # The message holds Markdown: what the model wrote is escaped so Chainlit shows every character.
        self._markdown = StreamEscaper(self.message.content)
        self.message.content = self._markdown.sent
        self._finished = False
        self.notes = notes.for_message(self.message.id)
        self._sent = message is not None  # a message handed in is on screen already
        self._waiting: cl.Message | None = None  # "waiting for the model (N ahead)", until the first token
        #: The user's message and its turn, until the bubble shows what the model received (``ui.question``).
        self._asked: tuple[cl.Message, Turn] | None = None

    def asking(self, asked: cl.Message, turn: Turn) -> None:
        """Update ``asked``, the user's bubble, to what the model received once the input is screened."""
        self._asked = (asked, turn)

    async def handle(self, event: Event) -> None:
        """Render one event."""
        if self._asked is not None and not isinstance(event, Notice):  # the input was screened by now
            (asked, turn), self._asked = self._asked, None
            await question.show_as_received(asked, turn.user_text, event)
        match event:
            case TextDelta(text=text):
                await self._end_wait()
                shown, replace = self._markdown.feed(text)
                await self.message.stream_token(shown, is_sequence=replace)
            case Notice(kind=NoticeKind.WAITING, message=message):
                if self._waiting is None:
                    self._waiting = cl.Message(content=escape(message), author="notice", id=waiting_id(self.message.id))
                    await self._waiting.send()
                else:
                    self._waiting.content = escape(message)
                    await self._waiting.update()
            case Notice(kind=NoticeKind.CUT_OFF, message=message):
                # Continue carries the answer on past the limit, in this same message.
                self.message.actions = [continue_action()]
                await self._ensure_shown()
                await self.notes.cut_off(message)
            case Replace(text=text):
                self._markdown = StreamEscaper(text)
                await self.message.stream_token(self._markdown.sent, is_sequence=True)
            case Notice(kind=NoticeKind.GUARDRAIL, data=data):
                self.notes.verdict(data)
            case Notice(message=message):
                await self._ensure_shown()  # the notes hang under the message: it must exist first
                await self.notes.notice(message)
            case Done(stats=stats):
                await self._finish(event.shown(), stats)  # the answer, then the block line if blocked
            case Failed(error=error, text=text, stats=stats):
                if stats.outcome == "interrupted":  # gave up resuming: offer to carry on from here
                    self.message.actions = [continue_action()]
                await self._finish(text, stats, error)

    async def play(self, turn: Turn, asked: cl.Message | None = None) -> None:
        """Stream ``turn`` into the message; on Stop the stream is closed and the partial answer stays.

        ``asked``, the user's message, is updated to show what the model received (``ui.question``).
        """
        if asked is not None:
            self.asking(asked, turn)
        try:
            await turn.run(self.handle)
        except asyncio.CancelledError:
            await self.cancelled(turn.text, turn.stats)
            raise

    async def cancelled(self, text: str, stats: Stats | None) -> None:
        """Stop was pressed: keep what was shown and say so."""
        await self._finish(text, stats)

    async def reattached(self, *, waited: bool, started: bool) -> None:
        """On a page that re-attached to the answer: the stored thread it showed may hold the waiting line.

        ``waited``: the answer was queued before this page attached; ``started``: its text began
        before too.  The line goes when the text begins (at once if it already has), as on the first page.
        """
        if not waited:
            return
        self._waiting = cl.Message(content="", author="notice", id=waiting_id(self.message.id))
        if started:
            await self._end_wait()

    async def _end_wait(self) -> None:
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            await waiting.remove()

    async def _ensure_shown(self) -> None:
        if not self.message.streaming and not self._sent:
            self._sent = True
            await self.message.send()

    async def _finish(self, text: str, stats: Stats | None, error: ChatError | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        await self._end_wait()
        if text or self.message.streaming or self._sent:
            self.message.content = self._markdown.finish() if text == self._markdown.raw else escape(text)
            await self.message.send()
            self._sent = True
        elif error is not None or stats is not None:
            await self._ensure_shown()  # nothing was said, but the notes need their answer (an empty bubble)
        if error is not None:
            await self.notes.error(error)
        await self.notes.finish(stats)
        await self.notes.confidence(text, stats)
