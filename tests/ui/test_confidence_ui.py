"""The hallucination check in Chainlit (issue 18): confidence by the stats, doubtful parts quoted, text untouched."""

from __future__ import annotations

import math

import chainlit as cl

import app
from agents.confidence import DEFAULT_THRESHOLD
from chat.settings import Settings
from guardrails.hallucination import UNCHECKED
from tests.chainlit_harness import SocketRecorder
from tests.fakes import ScriptedProvider
from ui import guard_panel

CHUNKS = ("Paris is ", "the capital. ", "It has ", "nine moons.")
LOGPROBS = (math.log(0.97), math.log(0.97), math.log(0.02), math.log(0.02))


def scripted_session(guards: str) -> ScriptedProvider:
    session = app._session()
    session.update(echo_rate=0, buffer="token", guards=guards)
    provider = ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS)
    s = session.settings
    session._provider, session._provider_key = provider, (s.provider, s.model, s.echo_rate)
    return provider


def notes_of(ui: SocketRecorder, message_id: str) -> dict[str, str]:
    return {m["name"]: m["output"] for m in ui.messages() if m.get("parentId") == message_id}


async def test_flag_shows_the_confidence_and_quotes_the_doubtful_part_without_touching_the_text(
    ui: SocketRecorder,
) -> None:
    scripted_session("hallucination=flag")
    await app.message(cl.Message(content="Tell me about Paris."))
    start = ui.named("stream_start")[0]
    final = [m for m in ui.messages() if m["id"] == start["id"]][-1]["output"]
    assert final == "".join(CHUNKS)  # the message holds the answer as streamed: copy gives exactly this
    assert app._session().history[-1].content == "".join(CHUNKS)
    notes = notes_of(ui, start["id"])
    assert "confidence" in notes["Stats"]
    assert "Confidence" in notes and "nine moons" in notes["Confidence"]
    assert "> " in notes["Confidence"]  # quoted, beside the answer, not inside it
    assert "How sure the model was" in notes["Confidence"]  # the figure is explained, not bare


async def test_a_provider_without_logprobs_says_it_cannot_be_checked(ui: SocketRecorder) -> None:
    app._session().update(echo_rate=0, guards="hallucination=flag")
    await app.message(cl.Message(content="An answer the echo provider cannot score."))
    start = ui.named("stream_start")[0]
    assert UNCHECKED in notes_of(ui, start["id"])["Confidence"]


async def test_switching_the_check_on_for_echo_says_so_in_the_panel(ui: SocketRecorder) -> None:
    await app.settings_update({"guard_hallucination": "flag"})
    assert any(UNCHECKED in m["output"] for m in ui.messages() if m.get("name") == "Settings"), ui.messages()
    panel = ui.named("chat_settings")[-1]  # the panel is sent again, showing the note by the select
    select = next(w for w in panel if w["id"] == "guard_hallucination")
    assert select["initial"] == "flag" and UNCHECKED in select["description"]
    box = next(w for w in panel if w["id"] == "guardopt_hallucination")
    assert box["initial"] == f"{DEFAULT_THRESHOLD:g}"


def test_the_panels_threshold_box_folds_into_the_guard_spec() -> None:
    values = {"guard_hallucination": "block", "guardopt_hallucination": "0.3", "guard_pii": "off"}
    assert guard_panel.to_settings(values) == {"guards": "hallucination=block:0.3"}
    settings = Settings(provider="local").replace(guards="hallucination=block:0.3")
    panel = {w.id: w for w in guard_panel.widgets(settings)}
    assert panel["guard_hallucination"].initial == "block" and panel["guardopt_hallucination"].initial == "0.3"
    assert guard_panel.confidence_note(settings) == ""  # the embedded model always reports them
