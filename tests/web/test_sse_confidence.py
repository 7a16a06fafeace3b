"""The hallucination check over HTTP (issue 18): the API's ``guards`` field, the ``done`` event, ``/metrics``.

The real app runs with its OpenAI provider pointed at a scripted OpenAI-compatible
server on loopback that returns log-probabilities in its stream chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences
from agents.providers.base import TokenLogprob
from guardrails.hallucination import UNCHECKED
from tests.servers.payloads import openai_scored_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.webapp import App, running_app
from web import sse

PIECES = [("Paris is ", math.log(0.95)), ("the capital. ", math.log(0.9)), ("It has ", math.log(0.03)),
          ("nine moons.", math.log(0.02))]  # fmt: skip
TEXT = "".join(t for t, _ in PIECES)
TOKENS = [TokenLogprob(t, lp) for t, lp in PIECES]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, scripted_module: ScriptedServer) -> Iterator[App]:
    tmp: Path = tmp_path_factory.mktemp("confidence")
    with running_app(tmp, env={"OPENAI_BASE_URL": f"{scripted_module.url}/v1", "DATABASE_URL": "off"}) as running:
        yield running


def test_the_done_event_carries_the_confidence_and_the_flagged_spans(app: App, scripted_module: ScriptedServer) -> None:
    scripted_module.enqueue(Reply.sse(openai_scored_stream(PIECES), done=True))
    before = app.metric("chat_answer_confidence_count")
    body = {"messages": [{"role": "user", "content": "Tell me about Paris."}], "provider": "openai",
            "guards": "hallucination=flag"}  # fmt: skip
    with app.client(timeout=60) as client:
        response = client.post("/api/chat/stream", json=body)
    events = sse.parse(response.text)
    assert "".join(d["text"] for n, d in events if n == "delta") == TEXT  # byte-identical
    done = next(d for n, d in events if n == "done")
    assert done["confidence"] == pytest.approx(answer_confidence(TOKENS))
    low = [[s, e] for s, e, score in sentence_confidences(TEXT, TOKENS) if score < DEFAULT_THRESHOLD]
    assert done["flagged"] == low and low
    assert scripted_module.requests[-1].body["logprobs"] is True
    assert app.metric("chat_answer_confidence_count") == before + 1


def test_a_provider_without_logprobs_says_so_in_the_stream(app: App) -> None:
    body = {"messages": [{"role": "user", "content": "echo me"}], "provider": "echo", "rate": 0,
            "guards": ["hallucination=block"]}  # fmt: skip
    with app.client(timeout=60) as client:
        events = sse.parse(client.post("/api/chat/stream", json=body).text)
    done = next(d for n, d in events if n == "done")
    assert done["confidence"] is None
    notices = [d for n, d in events if n == "notice" and d["kind"] == "guardrail"]
    assert any(UNCHECKED in d["message"] for d in notices), notices
