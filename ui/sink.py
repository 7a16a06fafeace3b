"""Render the runner's typed events into one streaming Chainlit message."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import chainlit as cl

from agents.errors import ChatError
from agents.events import Done, Event, Failed, Notice, Replace, Stats, TextDelta
from ui import verdicts
from ui.actions import continue_action

if TYPE_CHECKING:
    from agents.session import Turn

STATS_AUTHOR = "stats"


async def show_error(error: ChatError | str) -> None:
    """One clear line, never a stack trace."""
    await cl.ErrorMessage(content=str(error), author="Error").send()


class ChainlitSink:
    """Streams an answer into one message; the partial text stays on any ending."""

    def __init__(self, message: cl.Message | None = None) -> None:
        #: The answer's message; pass an existing one to carry on streaming into it (Continue).
        self.message = message or cl.Message(content="")
        self._finished = False
        self._verdicts: list[dict[str, Any]] = []  # guardrail verdicts, shown as a Step under the message
        self._waiting: cl.Message | None = None  # "waiting for the model (N ahead)", until the first token

    async def handle(self, event: Event) -> None:
        """Render one event."""
        match event:
            case TextDelta(text=text):
                await self._end_wait()
                await self.message.stream_token(text)
            case Notice(kind="waiting", message=message):
                if self._waiting is None:
                    self._waiting = cl.Message(content=f"_{message}_", author="notice")
                    await self._waiting.send()
                else:
                    self._waiting.content = f"_{message}_"
                    await self._waiting.update()
            case Notice(kind="cut_off", message=message):
                # Continue carries the answer on past the limit, in this same message.
                self.message.actions = [continue_action()]
                await cl.Message(content=f"_{message}_", author="notice").send()
            case Replace(text=text):
                await self.message.stream_token(text, is_sequence=True)
            case Notice(kind=verdicts.NOTICE_KIND, data=data):
                self._verdicts.append(dict(data))
            case Notice(message=message):
                await cl.Message(content=f"_{message}_", author="notice").send()
            case Done(text=text, stats=stats):
                await self._finish(text, stats)
            case Failed(error=error, text=text, stats=stats):
                if stats.outcome == "interrupted":  # gave up resuming: offer to carry on from here
                    self.message.actions = [continue_action()]
                await self._finish(text, stats)
                await show_error(error)

    async def play(self, turn: Turn) -> None:
        """Stream ``turn`` into the message; on Stop the stream is closed and the partial answer stays."""
        try:
            await turn.run(self.handle)
        except asyncio.CancelledError:
            await self.cancelled(turn.text, turn.stats)
            raise

    async def cancelled(self, text: str, stats: Stats | None) -> None:
        """Stop was pressed: keep what was shown and say so."""
        await self._finish(text, stats)

    async def _end_wait(self) -> None:
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            await waiting.remove()

    async def _finish(self, text: str, stats: Stats | None) -> None:
        if self._finished:
            return
        self._finished = True
        await self._end_wait()
        if text or self.message.streaming:
            self.message.content = text
            await self.message.send()
        if self._verdicts:
            await verdicts.show(self.message, self._verdicts)
        if stats is not None:
            await cl.Message(content=f"`{stats.summary()}`", author=STATS_AUTHOR).send()
