"""The self-check in Chainlit (issue 18 item 4): the panel's box, a "Self-check" Step under the answer after it
ended, cancelled by the next question."""

from __future__ import annotations

import asyncio

import chainlit as cl

import app
from tests.chainlit_harness import SocketRecorder
from tests.chat.test_selfcheck_session import SlowSamples
from tests.fakes import ScriptedProvider

CHUNKS = ("Paris", " is", " the capital.")


def scripted(samples: int, provider: ScriptedProvider | SlowSamples | None = None) -> ScriptedProvider | SlowSamples:
    session = app._session()
    session.update(echo_rate=0, buffer="token", selfcheck=samples)
    provider = provider or ScriptedProvider(chunks=CHUNKS, logprobs=[-0.1] * len(CHUNKS))
    s = session.settings
    session._provider, session._provider_key = provider, (s.provider, s.model, s.echo_rate)
    return provider


def notes_of(ui: SocketRecorder, message_id: str) -> dict[str, dict]:
    return {m["name"]: m for m in ui.messages() if m.get("parentId") == message_id}


async def test_the_self_check_step_shows_agreement_verdict_and_cost_after_the_answer(ui: SocketRecorder) -> None:
    provider = scripted(2)
    await app.message(cl.Message(content="What is the capital of France?"))
    start = ui.named("stream_start")[0]
    stats_at = max(i for i, m in enumerate(ui.messages()) if m.get("name") == "Stats")
    task = app._session().selfcheck
    assert task is not None  # the handler returned (Done shown, Stop gone) with the check still to run
    await task
    step = notes_of(ui, start["id"])["Self-check"]
    assert step["output"] == "self-check: agreement 1.00 over 2 samples, not flagged (2 requests, 6 tokens)"
    assert ui.messages().index(step) > stats_at  # shown after the answer's stats
    assert len(provider.calls) == 3


async def test_the_next_question_cancels_a_running_self_check(ui: SocketRecorder) -> None:
    slow = SlowSamples()  # its samples wait until released: the check is still running at the next question
    scripted(2, slow)
    await app.message(cl.Message(content="What is the capital of France?"))
    task = app._session().selfcheck
    assert task is not None
    await asyncio.wait_for(slow.started.wait(), 5)
    scripted(0, ScriptedProvider(chunks=CHUNKS))  # the next answer from a provider that does not hold back
    await app.message(cl.Message(content="And of Spain?"))
    assert task.cancelled()
    assert all(call.closed for call in slow.inner.calls[1:])
    assert not any(m.get("name") == "Self-check" for m in ui.messages())


async def test_the_panel_has_the_box_and_refuses_a_bad_count(ui: SocketRecorder) -> None:
    panel = ui.named("chat_settings")[-1]
    box = next(w for w in panel if w["id"] == "selfcheck")
    assert box["initial"] == "0"
    await app.settings_update({"selfcheck": "3"})
    assert app._session().settings.selfcheck == 3
    await app.settings_update({"selfcheck": "lots"})
    assert app._session().settings.selfcheck == 3  # the old value stays
    errors = [m["output"] for m in ui.messages() if m.get("name") == "Error" or m.get("author") == "Error"]
    assert errors and "selfcheck" in errors[-1] and "\n" not in errors[-1].strip()


async def test_stop_and_the_end_of_the_chat_cancel_a_running_self_check(ui: SocketRecorder) -> None:
    for handler in (app.stop, app.end):
        slow = SlowSamples()
        scripted(2, slow)
        await app.message(cl.Message(content="What is the capital of France?"))
        task = app._session().selfcheck
        assert task is not None
        await asyncio.wait_for(slow.started.wait(), 5)
        await handler()
        await asyncio.wait({task})
        assert task.cancelled(), handler
        assert all(call.closed for call in slow.inner.calls[1:])
