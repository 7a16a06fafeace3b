"""Resume in the Chainlit UI: the "Simulate failure" panel, notices, one message, Continue, Stop."""

from __future__ import annotations

import asyncio
from typing import Any

import chainlit as cl
import pytest

import app
from agents.providers.echo import pieces
from tests.chainlit_harness import SocketRecorder
from tests.fakes import RecordingSleep
from ui import panel
from ui.actions import CONTINUE

TEXT = "A stream that breaks should carry on from its last token, with nothing lost or repeated."


def panel_values(**changes: Any) -> dict[str, Any]:
    """What the panel sends: every widget's value, with ``changes``."""
    widgets = panel.widgets(app._session().settings)
    values = {w.id: getattr(w, "initial", getattr(w, "initial_value", None)) for w in widgets}
    values.update(changes)
    return values


def answer_text(ui: SocketRecorder, answer_id: str) -> str:
    """The answer message's final content."""
    return [m for m in ui.messages() if m["id"] == answer_id][-1]["output"]


def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> RecordingSleep:
    """Make every runner the session builds wait with an injected sleep."""
    from agents import runner as runner_module

    sleep = RecordingSleep()
    original = runner_module.Runner.for_settings.__func__  # type: ignore[attr-defined]

    def for_settings(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        built = original(cls, *args, **kwargs)
        built.sleep = sleep
        return built

    monkeypatch.setattr(runner_module.Runner, "for_settings", classmethod(for_settings))
    return sleep


async def test_simulated_disconnect_resumes_visibly_in_the_same_message(
    ui: SocketRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleep = fast_backoff(monkeypatch)
    await app.settings_update(panel_values(echo_rate=0, fault_mode="once", fault_kind="disconnect", fault_n="6"))
    assert app._session().settings.fault == "disconnect@6"
    await app.message(cl.Message(content=TEXT))
    started = ui.named("stream_start")
    assert len(started) == 1, "the answer carries on in the one message"
    assert started[0]["output"] + "".join(ui.tokens()) == TEXT
    assert answer_text(ui, started[0]["id"]) == TEXT
    outputs = [m["output"] for m in ui.messages()]
    assert any("connection lost after 6 tokens: resuming (attempt 1/3" in o for o in outputs)
    assert any("resumed after 6 tokens" in o for o in outputs)
    assert len(sleep.waits) == 1 and ui.named("action") == []


async def test_giving_up_keeps_the_partial_answer_and_continue_finishes_it(
    ui: SocketRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_backoff(monkeypatch)
    values = panel_values(echo_rate=0, fault_mode="once", fault_kind="server_error", fault_n="5", fault_count="4")
    await app.settings_update(values)
    await app.message(cl.Message(content=TEXT))
    answer_id = ui.named("stream_start")[0]["id"]
    partial = "".join(pieces(TEXT)[:5])
    assert answer_text(ui, answer_id) == partial, "nothing shown is lost"
    actions = ui.named("action")
    assert len(actions) == 1 and actions[0]["name"] == CONTINUE and actions[0]["forId"] == answer_id
    assert any(m.get("isError") for m in ui.messages())

    await app.continue_answer(cl.Action(**{k: actions[0][k] for k in ("name", "payload", "label", "forId", "id")}))
    assert ui.named("remove_action")[0]["id"] == actions[0]["id"]
    assert answer_text(ui, answer_id) == TEXT, "Continue carries on in the same message"
    assert [m["id"] for m in ui.named("stream_start")] == [answer_id, answer_id]
    assert app._session().history[-1].content == TEXT


async def test_continue_with_nothing_to_continue_says_so(ui: SocketRecorder) -> None:
    await app.continue_answer(cl.Action(name=CONTINUE, payload={}))
    assert "no answer to continue" in ui.messages()[-1]["output"]


async def test_stop_during_the_backoff_wait_keeps_the_partial_answer(ui: SocketRecorder) -> None:
    started = asyncio.Event()

    class Gate(RecordingSleep):
        async def __call__(self, seconds: float) -> None:
            started.set()
            await asyncio.Event().wait()  # a long backoff: only Stop ends it

    from agents import runner as runner_module

    original = runner_module.Runner.for_settings.__func__  # type: ignore[attr-defined]
    values = panel_values(echo_rate=0, fault_mode="once", fault_kind="rate_limit", fault_n="4")
    await app.settings_update(values)
    with pytest.MonkeyPatch.context() as mp:

        def for_settings(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
            built = original(cls, *args, **kwargs)
            built.sleep = Gate()
            return built

        mp.setattr(runner_module.Runner, "for_settings", classmethod(for_settings))
        task = asyncio.create_task(app.message(cl.Message(content=TEXT)))
        await started.wait()
        task.cancel()  # what Chainlit does when Stop is pressed
        with pytest.raises(asyncio.CancelledError):
            await task
    answer_id = ui.named("stream_start")[0]["id"]
    assert answer_text(ui, answer_id) == "".join(pieces(TEXT)[:4])
    assert "cancelled" in ui.messages()[-1]["output"]
    await app.settings_update(panel_values(fault_mode="off"))
    await app.message(cl.Message(content="still serving"))
    assert ui.messages()[-2]["output"] == "still serving"
