"""Metrics and the answer log: recorded from every turn, scraped cleanly from the running app."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents import observe
from agents.errors import RateLimited
from agents.events import Event, Stats, TextDelta
from chat.session import ChatSession
from chat.settings import Settings
from tests.webapp import App, running_app


def value(name: str, **labels: str) -> float:
    return observe.REGISTRY.get_sample_value(name, labels) or 0.0


def stats(**changes: Any) -> Stats:
    return dataclasses.replace(Stats("echo", "echo (unlimited)", "complete", 120.0, 900.0, 42, 55.0), **changes)


def test_record_counts_answers_tokens_retries_verdicts_and_errors() -> None:
    before = {
        "answers": value("chat_answers_total", provider="echo", outcome="interrupted"),
        "tokens": value("chat_tokens_total", provider="echo"),
        "ttft": value("chat_ttft_seconds_count", provider="echo"),
        "retries": value("chat_retries_total", provider="echo"),
        "resumes": value("chat_resumes_total", provider="echo"),
        "verdict": value("chat_guardrail_verdicts_total", rule="pii.email", action="redact"),
        "errors": value("chat_errors_total", kind="rate_limit"),
    }
    verdicts = ({"rule": "pii.email", "action": "redact", "text": "jane@example.com"},)
    error = RateLimited("429", provider="echo", retry_after=1.0)
    observe.record(stats(outcome="interrupted", retries=3, resumes=(5, 9), verdicts=verdicts), error)
    assert value("chat_answers_total", provider="echo", outcome="interrupted") == before["answers"] + 1
    assert value("chat_tokens_total", provider="echo") == before["tokens"] + 42
    assert value("chat_ttft_seconds_count", provider="echo") == before["ttft"] + 1
    assert value("chat_retries_total", provider="echo") == before["retries"] + 3
    assert value("chat_resumes_total", provider="echo") == before["resumes"] + 2
    assert value("chat_guardrail_verdicts_total", rule="pii.email", action="redact") == before["verdict"] + 1
    assert value("chat_errors_total", kind="rate_limit") == before["errors"] + 1


def test_an_answer_without_a_first_token_has_no_ttft_sample() -> None:
    before = value("chat_ttft_seconds_count", provider="nobody")
    observe.record(stats(provider="nobody", ttft_ms=None, tokens_per_s=None, tokens=0, outcome="error"))
    assert value("chat_ttft_seconds_count", provider="nobody") == before
    assert value("chat_answers_total", provider="nobody", outcome="error") >= 1


def test_the_log_line_holds_stats_but_no_content_and_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef123456")
    monkeypatch.delenv("ANSWER_LOG_CONTENT", raising=False)
    verdicts = ({"rule": "pii.email", "action": "block", "text": "jane@example.com", "span": [3, 19]},)
    error = RateLimited("bad key sk-test-abcdef123456 for jane@example.com", provider="openai")
    line = observe.log_line(stats(outcome="error", verdicts=verdicts), error)
    data = json.loads(line)
    assert "\n" not in line
    assert data["event"] == "answer" and data["tokens"] == 42 and data["error"] == "rate_limit"
    assert data["verdicts"] == [{"rule": "pii.email", "action": "block"}]
    assert "jane@example.com" not in line and "sk-test" not in line and "error_message" not in data
    # Content is opt-in, and even then a key is masked.
    monkeypatch.setenv("ANSWER_LOG_CONTENT", "1")
    opted = json.loads(observe.log_line(stats(outcome="error"), error))
    assert opted["error_message"] == "bad key [secret] for jane@example.com"


async def test_every_turn_is_counted_active_while_it_streams_and_recorded_when_cancelled() -> None:
    session = ChatSession(Settings(provider="echo", echo_rate=0))
    cancelled = value("chat_answers_total", provider="echo", outcome="cancelled")
    active = value("chat_active_streams")
    first = asyncio.Event()
    seen: list[float] = []

    async def handle(event: Event) -> None:
        if isinstance(event, TextDelta) and not first.is_set():
            seen.append(value("chat_active_streams"))
            first.set()

    task = asyncio.create_task(session.start("one two three four five six seven " * 50).run(handle))
    await first.wait()
    task.cancel()  # the sink goes away mid-answer (Stop, Ctrl-C, client gone)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [active + 1]
    assert value("chat_active_streams") == active
    assert value("chat_answers_total", provider="echo", outcome="cancelled") == cancelled + 1


async def test_a_message_blocked_before_the_model_is_counted_too() -> None:
    if "guards" not in Settings.__dataclass_fields__:
        pytest.skip("guardrails are not in this build yet (no Settings.guards)")
    session = ChatSession(Settings(provider="echo", echo_rate=0, guards="pii=block"))  # type: ignore[call-arg]
    blocked = value("chat_answers_total", provider="echo", outcome="blocked")
    stats = await session.start("Mail jane.doe@example.com please").run(_ignore)
    assert stats is not None and stats.outcome == "blocked"
    assert value("chat_answers_total", provider="echo", outcome="blocked") == blocked + 1


async def _ignore(event: Event) -> None:
    return None


def test_the_exposition_parses_as_prometheus_text() -> None:
    body, content_type = observe.exposition()
    assert content_type.startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {"chat_answers", "chat_ttft_seconds", "chat_active_streams", "chat_errors"} <= names


# --- the running app --------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_app(tmp_path_factory.mktemp("metrics")) as running:
        yield running


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):  # raises on anything malformed
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_the_answers_streamed_over_http(app: App) -> None:
    complete = ("chat_answers_total", (("outcome", "complete"), ("provider", "echo")))
    tokens = ("chat_tokens_total", (("provider", "echo"),))
    ttft = ("chat_ttft_seconds_count", (("provider", "echo"),))
    with app.client(timeout=30) as client:
        before = scrape(client)
        logged = sum(line.startswith('{"ts"') for line in app.log_lines())
        prompts = ["alpha beta", "gamma delta epsilon", "zeta"]
        streamed = 0
        for prompt in prompts:
            body = {"messages": [{"role": "user", "content": prompt}], "rate": 0}
            response = client.post("/api/chat/stream", json=body)
            done = [line for line in response.text.splitlines() if line.startswith("data:")][-1]
            streamed += json.loads(done[5:])["tokens"]
        after = scrape(client)
    assert after[complete] - before.get(complete, 0) == len(prompts)
    assert after[tokens] - before.get(tokens, 0) == streamed
    assert after[ttft] - before.get(ttft, 0) == len(prompts)
    assert after[("chat_active_streams", ())] == 0
    lines = [json.loads(line) for line in app.log_lines() if line.startswith('{"ts"')]
    assert len(lines) - logged == len(prompts)  # one JSON line per answer
    assert all("alpha" not in json.dumps(line) for line in lines)


def test_refused_requests_are_counted_by_status(app: App) -> None:
    key = ("chat_http_rejections_total", (("status", "401"),))
    with app.client(timeout=30) as client:
        before = scrape(client).get(key, 0)
        assert httpx.get(f"{app.url}/metrics").status_code == 401
        assert scrape(client)[key] == before + 1
