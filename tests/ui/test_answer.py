"""The answer in Chainlit: escaped for display only, its notes under it."""

from __future__ import annotations

import chainlit as cl

import app
from tests.chainlit_harness import SocketRecorder


async def test_the_screen_gets_escaped_text_and_the_history_keeps_the_raw_text(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=0, buffer="token")
    await app.message(cl.Message(content="Status:ok, see `a:b`"))
    start = ui.named("stream_start")[0]
    final = [m for m in ui.messages() if m["id"] == start["id"]][-1]
    assert final["output"] == r"Status\:ok, see `a:b`"
    shown = start["output"]
    for token in ui.named("stream_token"):  # rebuilt as the page does it
        shown = token["token"] if token["isSequence"] else shown + token["token"]
    assert shown == final["output"]
    assert [m.content for m in app._session().history] == ["Status:ok, see `a:b`"] * 2


async def test_the_answers_notes_are_steps_under_it(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=0)
    await app.message(cl.Message(content="hello there"))
    start = ui.named("stream_start")[0]
    notes = {m["name"] for m in ui.messages() if m.get("parentId") == start["id"]}
    assert notes == {"Stats"}
    assert not [m for m in ui.messages() if m.get("type") == "assistant_message" and m["name"] == "stats"]


async def test_redacted_text_is_escaped_on_screen_and_raw_in_the_history(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=0, buffer="token", guards="pii=redact")
    question = cl.Message(content="Status:ok, write to jane.doe@example.com today, mode:fast")
    await app.message(question)
    start = ui.named("stream_start")[0]
    final = [m for m in ui.messages() if m["id"] == start["id"]][-1]["output"]
    assert final == r"Status\:ok, write to <EMAIL_ADDRESS> today, mode\:fast"
    assert app._session().history[-1].content == "Status:ok, write to <EMAIL_ADDRESS> today, mode:fast"
    assert question.content == final  # the user's bubble shows what the model received, escaped alike
