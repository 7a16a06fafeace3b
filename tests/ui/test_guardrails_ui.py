"""Guardrails in the Chainlit UI: panel settings turn them on; a touched message gets a verdict Step."""

from __future__ import annotations

import chainlit as cl

import app
from tests.chainlit_harness import SocketRecorder


def _steps(recorder: SocketRecorder) -> list[dict]:
    return [m for m in recorder.messages() if m.get("name") == "Guardrails"]


async def test_the_panel_offers_each_guardrail_and_the_release_mode(ui: SocketRecorder) -> None:
    ids = {w["id"] for w in ui.named("chat_settings")[0]}
    assert {"guard_pii", "guard_profanity", "guard_rules", "guard_length", "release"} <= ids


async def test_pii_redaction_shows_the_redacted_echo_and_a_verdict_step(ui: SocketRecorder) -> None:
    await app.settings_update({"guard_pii": "redact", "guard_profanity": "off", "guard_rules": "off",
                               "guard_length": "off", "release": "hold_back", "echo_rate": 0})  # fmt: skip
    await app.message(cl.Message(content="Please repeat jane.doe@example.com back to me"))
    outputs = [m["output"] for m in ui.messages()]
    assert any(o == "Please repeat <EMAIL_ADDRESS> back to me" for o in outputs)
    assert not any("jane.doe" in o for o in outputs)
    steps = _steps(ui)
    assert steps and "| pii | redact | input |" in steps[-1]["output"]


async def test_profanity_block_ends_the_message_with_the_reason(ui: SocketRecorder) -> None:
    await app.settings_update({"guard_profanity": "block", "guard_pii": "off", "guard_rules": "off",
                               "guard_length": "off", "release": "hold_back", "echo_rate": 0})  # fmt: skip
    await app.message(cl.Message(content="this is sh1t"))
    outputs = [m["output"] for m in ui.messages()]
    assert "[Blocked by guardrail: profanity] The message contains profanity." in outputs
    assert "| profanity | block | input |" in _steps(ui)[-1]["output"]
