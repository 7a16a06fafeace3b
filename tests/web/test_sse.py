"""The SSE API: event encoding and request checks in process, then the real app over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents.errors import RateLimited
from agents.events import Done, Failed, Notice, Replace, Stats, TextDelta
from agents.providers.echo import pieces
from chat.settings import Settings
from tests.webapp import TOKEN, App, running_app
from web import sse
from web.request import RequestError, parse_body, parse_query

STATS = Stats("echo", "echo (unlimited)", "complete", 1.0, 2.0, 3, 1500.0)
# Newlines, a blank line, quotes, "data:" and non-ASCII: nothing in the text may break a frame.
TRICKY = 'Line one.\n\ndata: not a frame\r\n"quoted" naïve café 😀 — end\n'
#: The same, as the app's input cleaning leaves it (no CR, no outer whitespace), so the echo returns it unchanged.
CLEAN = 'Line one.\n\ndata: not a frame\n"quoted" naïve  café 😀 — end'


# --- encoding -----------------------------------------------------------------


def test_each_event_encodes_to_one_named_frame_that_parses_back() -> None:
    events = [
        TextDelta(TRICKY),
        Replace("[redacted]", "pii"),
        Notice("retry", "resuming", {"attempt": 1}),
        Done(TRICKY, STATS),
        Failed(RateLimited("slow down", provider="echo", retry_after=2.0), "part", STATS),
    ]
    body = b"".join(sse.encode(e) for e in events).decode()
    parsed = sse.parse(body)
    assert [name for name, _ in parsed] == ["delta", "replace", "notice", "done", "error"]
    assert parsed[0][1] == {"text": TRICKY}
    assert parsed[1][1] == {"text": "[redacted]", "reason": "pii"}
    assert parsed[2][1] == {"kind": "retry", "message": "resuming", "data": {"attempt": 1}}
    assert parsed[3][1] == STATS.to_dict()
    assert parsed[4][1]["message"] == "slow down" and parsed[4][1]["kind"] == "rate_limit"
    for block in body.split("\n\n")[:-1]:
        assert [line.split(":")[0] for line in block.split("\n")] == ["event", "data"]


def test_a_comment_is_ignored_by_the_parser() -> None:
    assert sse.parse(sse.comment("keep-alive").decode() + sse.frame("delta", {"text": "x"}).decode()) == [
        ("delta", {"text": "x"})
    ]


# --- request checks -------------------------------------------------------------


def _body(**fields: Any) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def test_a_full_request_maps_onto_settings_names() -> None:
    request = parse_body(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Be short."},
                    {"role": "user", "content": "one"},
                    {"role": "assistant", "content": "two"},
                    {"role": "user", "content": "three"},
                ],
                "provider": "echo",
                "rate": 0,
                "temperature": "0.5",
            }
        ).encode()
    )
    assert request.prompt == "three"
    assert [(m.role, m.content) for m in request.history] == [("user", "one"), ("assistant", "two")]
    assert request.changes == {"system_prompt": "Be short.", "provider": "echo", "echo_rate": 0, "temperature": "0.5"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "'messages'"),
        (json.dumps({"messages": [{"role": "user"}]}).encode(), "content must be a string"),
        (json.dumps({"messages": [{"role": "bot", "content": "x"}]}).encode(), "role must be one of"),
        (json.dumps({"messages": [{"role": "assistant", "content": "x"}]}).encode(), "last message"),
        (_body(colour="red"), "Unknown field 'colour'"),
        (_body(model=["a"]), "must be a string"),
    ],
)
def test_malformed_bodies_are_refused_with_one_line(body: bytes, fragment: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_body(body)
    assert caught.value.status == 400
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_query_form_needs_a_prompt_and_ignores_the_token() -> None:
    assert parse_query({"prompt": ["hi"], "token": ["t"], "rate": ["0"]}).changes == {"echo_rate": "0"}
    with pytest.raises(RequestError, match="'prompt'"):
        parse_query({"rate": ["0"]})


# --- the real app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    # grace 0: a dropped client cancels its answer at once (test_resumable_sse.py covers the grace period)
    env = {"API_MAX_BODY_BYTES": "20000", "STREAM_GRACE_SECONDS": "0"}
    with running_app(tmp_path_factory.mktemp("sse"), env=env) as running:
        yield running


def read_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """SSE events as they arrive."""
    name = "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, json.loads(line[5:])
            name = "message"


def collect(response: httpx.Response) -> list[tuple[str, Any]]:
    assert response.status_code == 200, response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    return list(read_events(response))


def metric(client: httpx.Client, line_prefix: str) -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    return 0.0


def test_post_stream_rebuilds_the_exact_text_and_ends_with_done(app: App) -> None:
    with app.client(timeout=30) as client:
        body = {"messages": [{"role": "user", "content": CLEAN}], "provider": "echo", "rate": 0}
        with client.stream("POST", "/api/chat/stream", json=body) as response:
            events = collect(response)
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    assert set(names[:-1]) == {"delta"}
    assert "".join(data["text"] for name, data in events if name == "delta") == CLEAN
    stats = events[-1][1]
    assert stats["outcome"] == "complete" and stats["tokens"] == len(pieces(CLEAN)) > 10


def test_get_stream_for_eventsource_takes_the_token_as_a_parameter(app: App) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        params = {"prompt": "streamed over GET", "rate": "0", "token": TOKEN}
        with client.stream("GET", "/api/stream", params=params) as response:
            events = collect(response)
    assert "".join(d["text"] for n, d in events if n == "delta") == "streamed over GET"
    assert events[-1][0] == "done"


def test_the_routes_answer_ahead_of_chainlits_catch_all(app: App) -> None:
    with app.client(timeout=30) as client:
        missing = client.get("/api/stream")  # Chainlit's catch-all would answer 200 with its HTML
        assert missing.status_code == 400 and missing.json() == {"error": "The 'prompt' query parameter is required."}
        assert client.get("/metrics").headers["content-type"].startswith("text/plain")
        page = client.get("/stream")
        assert page.status_code == 200 and "new EventSource(" in page.text and "api/stream?" in page.text


@pytest.mark.parametrize(
    ("kwargs", "status", "fragment"),
    [
        ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"json": {"messages": [{"role": "user", "content": "x"}], "provider": "nope"}}, 400, "Unknown provider"),
        ({"json": {"messages": [{"role": "user", "content": "x"}], "temperature": 9}}, 400, "temperature"),
        ({"json": {"messages": [{"role": "user", "content": "   "}]}}, 400, ""),
        ({"json": {"messages": [{"role": "user", "content": "x" * 30_000}]}}, 413, "20,000-byte limit"),
        ({"content": b"{}", "headers": {"content-type": "text/plain"}}, 415, "application/json"),
        (
            {"json": {"messages": [{"role": "user", "content": "x"}]}, "headers": {"authorization": "Bearer no"}},
            401,
            "",
        ),
        (
            {"json": {"messages": [{"role": "user", "content": "x"}], "provider": "openai"}},
            400,
            "OPENAI_API_KEY",
        ),
    ],
)
def test_bad_requests_get_a_4xx_with_one_clear_line(
    app: App, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    with app.client(timeout=30) as client:
        response = client.post("/api/chat/stream", **kwargs)
        assert response.status_code == status
        message = response.json()["error"]
        assert fragment in message and message and "\n" not in message
        # The server keeps serving.
        ok = client.post("/api/chat/stream", json={"messages": [{"role": "user", "content": "still here"}], "rate": 0})
        assert "".join(d["text"] for n, d in sse.parse(ok.text) if n == "delta") == "still here"


def test_a_chunked_oversized_body_is_refused_too(app: App) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}]}'

    with app.client(timeout=30) as client:
        response = client.post("/api/chat/stream", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_without_the_token_the_api_is_refused(app: App) -> None:
    with httpx.Client(base_url=app.url, timeout=30) as client:
        assert client.post("/api/chat/stream", json={"messages": [{"role": "user", "content": "x"}]}).status_code == 401
        assert client.get("/api/stream", params={"prompt": "x"}).status_code == 401
        assert client.get("/metrics").status_code == 401


def _answer_logs(app: App) -> list[dict[str, Any]]:
    return [json.loads(line) for line in app.log_lines() if line.startswith('{"ts"')]


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)  # polling another process's counters


def test_a_client_disconnect_stops_generation(app: App) -> None:
    words = 300
    prompt = "word " * words
    with app.client(timeout=30) as client:
        cancelled = 'chat_answers_total{outcome="cancelled",provider="echo"}'
        before = metric(client, cancelled)
        logged = len(_answer_logs(app))
        # 20 tokens/s: the whole answer would take 15 s.
        with client.stream(
            "POST", "/api/chat/stream", json={"messages": [{"role": "user", "content": prompt}], "rate": 20}
        ) as response:
            for name, _ in read_events(response):
                if name == "delta":
                    break  # leaving the block closes the connection mid-answer
        _wait_for(lambda: metric(client, cancelled) == before + 1)
        assert metric(client, "chat_active_streams") == 0
    _wait_for(lambda: len(_answer_logs(app)) > logged)
    line = _answer_logs(app)[-1]
    assert line["outcome"] == "cancelled"
    assert line["tokens"] < 20 and line["total_ms"] < 5_000  # stopped at once, not after 300 tokens


@pytest.mark.model
def test_a_client_disconnect_stops_the_local_model(app: App) -> None:
    params = {"prompt": "Tell a long story about a dragon.", "provider": "local", "max_tokens": "400"}
    with app.client(timeout=120) as client:
        logged = len(_answer_logs(app))
        with client.stream("GET", "/api/stream", params=params) as response:
            deltas = 0
            for name, _ in read_events(response):
                deltas += name == "delta"
                if deltas == 3:
                    break
        _wait_for(lambda: len(_answer_logs(app)) > logged, timeout=30)
        line = _answer_logs(app)[-1]
        assert line["provider"] == "local" and line["outcome"] == "cancelled" and line["tokens"] < 20
        # The model's worker is free at once: a new answer starts.
        with client.stream("GET", "/api/stream", params={**params, "max_tokens": "3"}) as response:
            assert collect(response)[-1][1]["outcome"] == "complete"


GUARDS = "guards" in Settings.__dataclass_fields__


@pytest.mark.skipif(not GUARDS, reason="guardrails are not in this build yet (no Settings.guards)")
def test_a_guardrail_verdict_arrives_as_a_notice(app: App) -> None:
    prompt = "Write to jane.doe@example.com today."
    body = {"messages": [{"role": "user", "content": prompt}], "rate": 0, "guards": ["pii=warn"]}
    with app.client(timeout=30) as client:
        with client.stream("POST", "/api/chat/stream", json=body) as response:
            events = collect(response)
    notices = [data for name, data in events if name == "notice"]
    assert notices, events
    assert events[-1][0] == "done" and events[-1][1]["verdicts"]


def test_the_answer_log_holds_no_content_and_no_key(app: App, tmp_path: Path) -> None:
    secret_word = "zanzibar-7731"
    with app.client(timeout=30) as client:
        client.post("/api/chat/stream", json={"messages": [{"role": "user", "content": secret_word}], "rate": 0})
    _wait_for(lambda: any(line["model"] == "echo (unlimited)" for line in _answer_logs(app)))
    text = "\n".join(app.log_lines())
    assert secret_word not in text and TOKEN not in text


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian's chromium is not installed")
def test_the_page_streams_in_a_real_browser(app: App) -> None:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    text = "Streaming shows each token as soon as the model produces it."
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=[*args, "--disable-sync", "--no-first-run"]
        )
        try:
            page = browser.new_page()
            page.goto(f"{app.url}/stream")
            page.fill("#prompt", text)
            page.fill("#provider", "echo")
            page.fill("#rate", "40")
            page.fill("#token", TOKEN)
            # Record every state the answer goes through, in the page itself.
            page.evaluate(
                """() => { window.states = [];
                new MutationObserver(() => window.states.push(document.getElementById('answer').textContent))
                  .observe(document.getElementById('answer'),
                           {childList: true, characterData: true, subtree: true}); }"""
            )
            page.click("#send")
            page.wait_for_function(
                "document.getElementById('stats').textContent.startsWith('complete')", timeout=20_000
            )
            assert page.inner_text("#answer") == text
            states = [s for s in page.evaluate("window.states") if s]
            assert len(set(states)) >= 3 and all(text.startswith(s) for s in states)
        finally:
            browser.close()


def test_bearer_and_password_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from web import auth

    assert auth.authorized(None)  # no token configured: the API is open
    monkeypatch.setenv("API_BEARER_TOKEN", "s3cret-token")
    assert auth.authorized("Bearer s3cret-token") and auth.authorized("bearer  s3cret-token")
    assert (
        not auth.authorized("Bearer wrong") and not auth.authorized("Basic s3cret-token") and not auth.authorized(None)
    )
    assert auth.authorized(None, "s3cret-token") and not auth.authorized(None, "nope")
    assert not auth.check_password("ann", "pw")  # no login configured: nobody gets in
    monkeypatch.setenv("CHAT_USERNAME", "ann")
    monkeypatch.setenv("CHAT_PASSWORD", "pw")
    assert auth.check_password("ann", "pw")
    assert not auth.check_password("ann", "PW") and not auth.check_password("bob", "pw")
