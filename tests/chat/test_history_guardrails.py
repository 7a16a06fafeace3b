"""Every message of an API request's history passes the input guardrails, not only the last one.

The request is parsed and run as the SSE routes do (``parse_body`` ->
``open_turn`` -> ``Turn.run``); the model is the OpenAI provider talking to the
scripted loopback server, so the test reads exactly what reached the model.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.events import Done, Event, Notice
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from web.request import open_turn, parse_body

CARD, EMAIL, SSN = "4111111111111111", "john.doe@example.com", "536-22-1543"


async def run(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, messages: list[dict[str, str]],
              guards: str) -> list[Event]:  # fmt: skip
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    scripted.enqueue(Reply.sse(openai_stream(["Noted."]), done=True))
    body = json.dumps({"messages": messages, "provider": "openai", "model": "test-model", "guards": guards})
    turn = open_turn(parse_body(body.encode()))
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    await turn.run(keep)
    return events


def sent(scripted: ScriptedServer) -> list[dict[str, Any]]:
    """The conversation the model received in the first request (the server's system prompt left out)."""
    return [m for m in scripted.requests[0].body["messages"] if m["role"] != "system"]


async def test_pii_in_earlier_messages_is_redacted_before_the_model_sees_it(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [
        {"role": "user", "content": f"My card is {CARD}."},
        {"role": "assistant", "content": "Thanks."},
        {"role": "user", "content": f"Mail {EMAIL}, SSN {SSN}."},
        {"role": "assistant", "content": f"I will write to {EMAIL}."},
        {"role": "user", "content": "What did I tell you?"},
    ]
    events = await run(scripted, monkeypatch, messages, "pii=redact")
    assert isinstance(events[-1], Done) and events[-1].stats.outcome == "complete"
    seen = json.dumps(sent(scripted))
    for value in (CARD, EMAIL, SSN):
        assert value not in seen
    assert [m["content"] for m in sent(scripted)[:4]] == [
        "My card is <CREDIT_CARD>.",
        "Thanks.",
        "Mail <EMAIL_ADDRESS>, SSN <US_SSN>.",
        "I will write to <EMAIL_ADDRESS>.",
    ]
    notes = [e for e in events if isinstance(e, Notice) and e.kind == "guardrail"]
    assert len(notes) == 1, "one notice for the whole history, not one per message"
    assert notes[0].data["where"] == "history" and notes[0].data["count"] == 4  # card, e-mail, SSN, e-mail
    assert "earlier messages" in notes[0].message


@pytest.mark.parametrize("role", ["user", "assistant"])
async def test_a_block_rule_in_an_earlier_message_blocks_the_turn(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    messages = [
        {"role": "user", "content": "Hello."},
        {"role": role, "content": "Tell me all about Project Nightingale."},
        {"role": "user", "content": "Go on, in detail."},
    ]
    events = await run(scripted, monkeypatch, messages, "rules")
    end = events[-1]
    assert isinstance(end, Done) and end.stats.outcome == "blocked"
    assert end.block is not None and end.block.rule == "internal-codename" and end.text == ""
    assert scripted.requests == [], "the model is never called"


async def test_clean_history_goes_through_unchanged(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another?"},
    ]
    events = await run(scripted, monkeypatch, messages, "pii=redact,rules")
    assert isinstance(events[-1], Done) and events[-1].text == "Noted."
    assert sent(scripted) == messages
    assert not [e for e in events if isinstance(e, Notice) and e.kind == "guardrail"]


async def test_the_system_prompt_passes_the_input_guardrails_too(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's system message reaches the model like any other: PII in it is redacted."""
    messages = [
        {"role": "system", "content": "The user's SSN is 078-05-1120 and mail ada@example.com."},
        {"role": "user", "content": "hi"},
    ]
    await run(scripted, monkeypatch, messages, "pii=redact")
    system = [m["content"] for m in scripted.requests[0].body["messages"] if m["role"] == "system"]
    assert system and "078-05-1120" not in system[0] and "ada@example.com" not in system[0], system


@pytest.mark.parametrize("where", ["system", "field"])
async def test_a_block_rule_in_the_system_prompt_blocks_the_turn(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    request: dict[str, Any] = {"provider": "openai", "model": "test-model", "guards": "rules"}
    if where == "system":
        request["messages"] = [{"role": "system", "content": "Talk about Project Nightingale."},
                               {"role": "user", "content": "hi"}]  # fmt: skip
    else:
        request["messages"] = [{"role": "user", "content": "hi"}]
        request["system"] = "Talk about Project Nightingale."
    turn = open_turn(parse_body(json.dumps(request).encode()))
    events: list[Event] = []

    async def keep(event: Event) -> None:
        events.append(event)

    await turn.run(keep)
    end = events[-1]
    assert isinstance(end, Done) and end.stats.outcome == "blocked" and end.block is not None
    assert scripted.requests == [], "the model is never called"
