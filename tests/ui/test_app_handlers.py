"""The Chainlit handlers in app.py, driven through a real Chainlit context."""

from __future__ import annotations

import asyncio

import chainlit as cl
import pytest

import app
from tests.chainlit_harness import SocketRecorder


def texts(recorder: SocketRecorder) -> list[str]:
    return [m["output"] for m in recorder.messages()]


async def test_start_greets_with_provider_and_model_and_sends_settings(ui: SocketRecorder) -> None:
    greeting = texts(ui)[0]
    assert "Echo" in greeting and "echo (50 tok/s)" in greeting
    widgets = ui.named("chat_settings")[0]
    assert {w["id"] for w in widgets} >= {"provider", "model", "temperature", "max_tokens", "system_prompt"}


async def test_answer_streams_into_one_message_then_a_stats_line(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=0, buffer="token")
    await app.message(cl.Message(content="Tokens arrive one by one here."))
    started = ui.named("stream_start")
    assert len(started) == 1
    answer_id = started[0]["id"]
    streamed = started[0]["output"] + "".join(ui.tokens())
    assert streamed == "Tokens arrive one by one here."
    assert len(ui.tokens()) >= 5
    final = [m for m in ui.messages() if m["id"] == answer_id][-1]
    assert final["output"] == "Tokens arrive one by one here." and final["streaming"] is False
    stats = texts(ui)[-1]
    assert "TTFT" in stats and "tokens" in stats and "tok/s" in stats


@pytest.mark.parametrize(("content", "expected"), [("   ", "empty"), ("x" * 200_000, "200,000 characters")])
async def test_bad_input_gets_one_clear_line_and_the_chat_goes_on(
    ui: SocketRecorder, content: str, expected: str
) -> None:
    await app.message(cl.Message(content=content))
    error = ui.messages()[-1]
    assert error["isError"] is True and expected in error["output"] and "\n" not in error["output"]
    assert ui.named("stream_start") == []
    await app.message(cl.Message(content="still here"))
    assert "still here" in texts(ui)


async def test_invalid_setting_is_refused_and_the_panel_shows_what_is_in_force(ui: SocketRecorder) -> None:
    before = app._session().settings
    await app.settings_update({"provider": "echo", "max_tokens": "lots"})
    assert app._session().settings == before
    assert "max_tokens" in ui.messages()[-1]["output"]
    assert len(ui.named("chat_settings")) == 2  # re-sent to undo the bad value on screen
    await app.settings_update({"provider": "echo", "max_tokens": "3", "echo_rate": 0})
    await app.message(cl.Message(content="one two three four five"))
    assert "one two thre" in texts(ui)  # 3 pieces: one| two| thre


async def test_stop_keeps_the_partial_answer_on_screen(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=20)
    task = asyncio.create_task(app.message(cl.Message(content="a b c d e f g h i j k l m n o p")))
    while len(ui.tokens()) < 3:
        await asyncio.sleep(0.01)
    task.cancel()  # what Chainlit's Stop does to the running handler
    with pytest.raises(asyncio.CancelledError):
        await task
    answer_id = ui.named("stream_start")[0]["id"]
    final = [m for m in ui.messages() if m["id"] == answer_id][-1]
    shown = ui.named("stream_start")[0]["output"] + "".join(ui.tokens())
    assert final["output"] == shown and 0 < len(shown) < 31
    assert "cancelled" in texts(ui)[-1]
    tokens_at_stop = len(ui.tokens())
    await asyncio.sleep(0.2)
    assert len(ui.tokens()) == tokens_at_stop  # nothing more streams after Stop
