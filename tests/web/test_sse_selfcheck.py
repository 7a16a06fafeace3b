"""The self-check over HTTP (issue 18 item 4): the API's ``selfcheck`` field, the ``selfcheck`` event after
``done``, and ``/metrics``.

The real app runs with its OpenAI provider pointed at a scripted OpenAI-compatible
server on loopback; each sample is one more request to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.payloads import openai_scored_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.webapp import App, running_app
from web import sse

ANSWER = [("Paris", math.log(0.9)), (".", math.log(0.9))]
OTHER = [("Lyon", math.log(0.5)), (".", math.log(0.9))]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, scripted_module: ScriptedServer) -> Iterator[App]:
    tmp: Path = tmp_path_factory.mktemp("selfcheck")
    with running_app(tmp, env={"OPENAI_BASE_URL": f"{scripted_module.url}/v1", "DATABASE_URL": "off"}) as running:
        yield running


def test_selfcheck_runs_n_more_requests_and_comes_after_done(app: App, scripted_module: ScriptedServer) -> None:
    scripted_module.reset()
    scripted_module.enqueue(*(Reply.sse(openai_scored_stream(p), done=True) for p in (ANSWER, OTHER, OTHER, OTHER)))
    checks_before = app.metric("chat_selfcheck_agreement_count")
    tokens_before = app.metric("chat_selfcheck_tokens_total")
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "provider": "openai",
            "selfcheck": 3}  # fmt: skip
    with app.client(timeout=60) as client:
        events = sse.parse(client.post("/api/chat/stream", json=body).text)
    names = [n for n, _ in events]
    assert names[-2:] == ["done", "selfcheck"]
    check = events[-1][1]
    assert check["requests"] == 3 and check["tokens"] == 6
    assert check["agreement"] == pytest.approx(0.0) and check["flagged"] is True  # every sample said Lyon
    assert len(scripted_module.requests) == 4
    assert all(r.body["temperature"] > 0 for r in scripted_module.requests[1:])
    assert app.metric("chat_selfcheck_agreement_count") == checks_before + 1
    assert app.metric("chat_selfcheck_tokens_total") == tokens_before + 6


def test_a_failing_sample_sends_a_failed_selfcheck_not_a_pass(app: App, scripted_module: ScriptedServer) -> None:
    scripted_module.reset()
    scripted_module.enqueue(
        Reply.sse(openai_scored_stream(ANSWER), done=True),
        *(Reply.error(400, {"error": {"message": "sampling refused", "type": "invalid_request_error"}}),) * 2,
    )
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "provider": "openai",
            "selfcheck": 2}  # fmt: skip
    with app.client(timeout=60) as client:
        events = sse.parse(client.post("/api/chat/stream", json=body).text)
    assert [n for n, _ in events][-2:] == ["done", "selfcheck"]
    check = events[-1][1]
    assert check["agreement"] is None and check["flagged"] is True and check["error"]


def test_without_the_field_there_is_no_selfcheck_event(app: App, scripted_module: ScriptedServer) -> None:
    scripted_module.reset()
    scripted_module.enqueue(Reply.sse(openai_scored_stream(ANSWER), done=True))
    body = {"messages": [{"role": "user", "content": "Capital of France?"}], "provider": "openai"}
    with app.client(timeout=60) as client:
        events = sse.parse(client.post("/api/chat/stream", json=body).text)
    assert events[-1][0] == "done" and len(scripted_module.requests) == 1


@pytest.mark.parametrize("value", [-1, 50, "many", True])
def test_invalid_selfcheck_values_are_refused(app: App, value: object) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "provider": "echo", "selfcheck": value}
    with app.client(timeout=30) as client:
        response = client.post("/api/chat/stream", json=body)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "selfcheck" in message and "\n" not in message
    assert "Unknown field" not in message  # the field is known: its value is what is refused
