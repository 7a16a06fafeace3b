"""The HTTP API's safe defaults and bad input (issue 12, items 8-10, 12, 13, 15, 16).

Unit checks in process, then the real app over HTTP: cross-origin pages are
refused by default, ``?token=`` is for GET only and never rescues a wrong
header, half a login refuses to start, and malformed input (a lone
surrogate, deep nesting, a huge query string, ``true`` for a number) gets a
clear answer while the server keeps serving.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents.errors import ConfigError, InvalidSetting
from agents.events import Event, Stats, TextDelta
from agents.providers.base import Audience
from chat.live import LiveAnswers
from chat.settings import Settings, coerce
from tests.webapp import ROOT, SCRUBBED_ENV, TOKEN, App, free_port, running_app
from web import api, auth, sse
from web.origins import origin_allowed
from web.request import MAX_QUERY_BYTES, RequestError, open_turn, parse_body

ALLOWED = "http://allowed.example"
EVIL = "http://evil.example"


def _body(**fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hi"}], "rate": 0, **fields}


# --- item 16: booleans are not numbers -------------------------------------------


@pytest.mark.parametrize("name", ["temperature", "max_tokens", "seed", "echo_rate", "retries", "stall_timeout"])
@pytest.mark.parametrize("value", [True, False])
def test_coerce_refuses_a_boolean_for_a_number(name: str, value: bool) -> None:
    with pytest.raises(InvalidSetting, match=name):
        coerce({name: value})


def test_settings_refuse_a_boolean_temperature() -> None:
    with pytest.raises(InvalidSetting, match="temperature"):
        Settings(provider="echo", temperature=True)


@pytest.mark.parametrize("name", ["temperature", "max_tokens", "seed", "rate"])
def test_a_json_boolean_for_a_number_is_a_400(name: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_body(json.dumps(_body(**{name: True})).encode())
    assert caught.value.status == 400 and f"'{name}' option must be a number" in str(caught.value)


def test_numbers_as_numbers_and_strings_still_work() -> None:
    changes = coerce({"temperature": 1, "seed": "7", "max_tokens": 5.0})
    assert changes == {"temperature": 1.0, "seed": 7, "max_tokens": 5}


# --- item 13: deep nesting ----------------------------------------------------------


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_a_400(opener: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_body((opener * 100_000).encode())
    assert caught.value.status == 400 and "nested too deeply" in str(caught.value)


# --- item 12: a lone surrogate ------------------------------------------------------


def test_a_lone_surrogate_encodes_to_a_frame_that_parses_back() -> None:
    frame = sse.encode(TextDelta("a\ud800b\udfff c\U0001f600", 0))
    frame.decode("utf-8")  # valid UTF-8 on the wire
    assert sse.parse(frame.decode()) == [("delta", {"text": "a\ud800b\udfff c\U0001f600"})]


class _BrokenTurn:
    """A turn whose stream fails with a bug after one piece of text."""

    stats: Stats | None = None
    audience = Audience()  # a live answer says whether anyone watches it (issue 14, item 5)

    async def run(self, handle: Callable[[Event], Awaitable[None]]) -> None:
        await handle(TextDelta("partial", 0))
        raise RuntimeError("a bug in a stage")


async def test_a_stream_that_fails_mid_way_still_ends_with_an_error_event() -> None:
    answer = LiveAnswers(grace=0).start(_BrokenTurn())  # type: ignore[arg-type]
    frames: AsyncGenerator[bytes, None] = api._frames(answer, 0)
    events = sse.parse(b"".join([f async for f in frames]).decode())
    assert events[0] == ("delta", {"text": "partial"})
    assert events[-1][0] == "error" and events[-1][1]["kind"] == "internal"


# --- item 10: ?token= for GET only ----------------------------------------------------


def test_a_wrong_header_is_never_rescued_by_the_query_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_BEARER_TOKEN", "right-token")
    assert auth.authorized(None, "right-token")
    assert not auth.authorized("Bearer wrong", "right-token")
    assert not auth.authorized("Basic cmlnaHQ=", "right-token")
    assert auth.authorized("Bearer right-token", "wrong")


# --- item 8: half a login ---------------------------------------------------------------


@pytest.mark.parametrize(("given", "missing"), [("CHAT_PASSWORD", "CHAT_USERNAME"), ("CHAT_USERNAME", "CHAT_PASSWORD")])
def test_half_a_login_is_a_config_error(monkeypatch: pytest.MonkeyPatch, given: str, missing: str) -> None:
    monkeypatch.delenv("CHAT_USERNAME", raising=False)
    monkeypatch.delenv("CHAT_PASSWORD", raising=False)
    assert auth.login_configured() is False
    monkeypatch.setenv(given, "x")
    with pytest.raises(ConfigError, match=f"{given} is set without {missing}"):
        auth.login_configured()
    monkeypatch.setenv(missing, "y")
    assert auth.login_configured() is True


def test_the_app_refuses_to_start_with_a_password_and_no_username(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update({"CHAT_PASSWORD": "s3cret", "DEFAULT_PROVIDER": "echo", "CHAINLIT_AUTH_SECRET": "x" * 64})
    chainlit = Path(sys.executable).with_name("chainlit")
    cmd = [str(chainlit), "run", "app.py", "--headless", "--host", "127.0.0.1", "--port", str(free_port())]
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started serving: the failure this test is about
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
        pytest.fail("the app started with CHAT_PASSWORD and no CHAT_USERNAME")
    assert process.returncode != 0
    assert err.strip().splitlines() == [
        "error: CHAT_PASSWORD is set without CHAT_USERNAME: set both to require the login, or neither."
    ]
    assert "Traceback" not in out + err


# --- item 9: same origin only, unit ------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "127.0.0.1:8000", frozenset(), True),  # not a cross-origin browser request
        ("http://127.0.0.1:8000", "127.0.0.1:8000", frozenset(), True),
        ("https://chat.example.com", "chat.example.com", frozenset(), True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", frozenset(), False),
        (EVIL, "127.0.0.1:8000", frozenset(), False),
        ("null", "127.0.0.1:8000", frozenset(), False),
        (ALLOWED, "127.0.0.1:8000", frozenset({ALLOWED}), True),
        ("HTTP://Allowed.Example/", "127.0.0.1:8000", frozenset({ALLOWED}), True),
        (EVIL, "127.0.0.1:8000", frozenset({"*"}), True),
    ],
)
def test_origin_rules(origin: str | None, host: str, allowed: frozenset[str], ok: bool) -> None:
    assert origin_allowed(origin, host, allowed) is ok


# --- the real app ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with running_app(tmp_path_factory.mktemp("hardening"), env={"API_ALLOWED_ORIGINS": ALLOWED}) as running:
        yield running


def _still_serving(client: httpx.Client) -> None:
    ok = client.post("/api/chat/stream", json=_body(messages=[{"role": "user", "content": "still here"}]))
    assert "".join(d["text"] for n, d in sse.parse(ok.text) if n == "delta") == "still here"


def test_a_page_on_another_origin_cannot_use_the_api(app: App) -> None:
    with app.client(timeout=30) as client:
        posted = client.post("/api/chat/stream", json=_body(), headers={"Origin": EVIL})
        assert posted.status_code == 403 and "API_ALLOWED_ORIGINS" in posted.json()["error"]
        assert "access-control-allow-origin" not in posted.headers
        preflight = client.options(
            "/api/chat/stream",
            headers={"Origin": EVIL, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
        )
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
        got = client.get("/api/stream", params={"prompt": "x", "rate": "0"}, headers={"Origin": EVIL})
        assert got.status_code == 403 and "access-control-allow-origin" not in got.headers
        assert client.get("/metrics", headers={"Origin": EVIL}).status_code == 403
        _still_serving(client)


def test_a_page_on_another_origin_cannot_open_the_chat_socket(app: App) -> None:
    """Chainlit's socket.io server checks no origin: a foreign page could drive the chat and spend the key."""
    handshake = "/ws/socket.io/?EIO=4&transport=polling"
    with app.client(timeout=30) as client:
        refused = client.get(handshake, headers={"Origin": EVIL})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
        assert client.get(handshake, headers={"Origin": app.url}).status_code == 200
        assert client.get(handshake, headers={"Origin": ALLOWED}).status_code == 200
    import asyncio

    import websockets

    ws_url = app.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"

    async def status(origin: str) -> int:
        try:
            async with websockets.connect(ws_url, origin=origin, open_timeout=20):  # type: ignore[arg-type]
                return 101
        except websockets.InvalidStatus as err:
            return err.response.status_code

    assert asyncio.run(status(EVIL)) == 403
    assert asyncio.run(status(app.url)) == 101


def test_the_same_origin_and_allowed_origins_may_use_the_api(app: App) -> None:
    with app.client(timeout=30) as client:
        same = client.post("/api/chat/stream", json=_body(), headers={"Origin": app.url})
        assert same.status_code == 200 and sse.parse(same.text)[-1][0] == "done"
        allowed = client.post("/api/chat/stream", json=_body(), headers={"Origin": ALLOWED})
        assert allowed.status_code == 200 and sse.parse(allowed.text)[-1][0] == "done"
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        preflight = client.options(
            "/api/chat/stream", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ALLOWED


def test_the_query_token_is_for_get_only_and_never_overrides_a_header(app: App) -> None:
    body = _body()
    with httpx.Client(base_url=app.url, timeout=30) as client:
        assert client.post("/api/chat/stream", params={"token": TOKEN}, json=body).status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert client.post("/api/chat/stream", params={"token": TOKEN}, json=body, headers=wrong).status_code == 401
        params = {"prompt": "x", "rate": "0", "token": TOKEN}
        assert client.get("/api/stream", params=params, headers=wrong).status_code == 401
        assert client.get("/metrics", params={"token": TOKEN}, headers=wrong).status_code == 401
        ok = client.get("/api/stream", params=params)
        assert ok.status_code == 200 and sse.parse(ok.text)[-1][0] == "done"


def test_a_lone_surrogate_streams_to_the_end(app: App) -> None:
    raw = b'{"messages": [{"role": "user", "content": "odd \\ud800 text"}], "rate": 0}'
    with app.client(timeout=30) as client:
        response = client.post("/api/chat/stream", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 200
        events = sse.parse(response.content.decode("utf-8"))
        assert [n for n, _ in events].count("done") == 1 and events[-1][0] == "done"
        assert "".join(d["text"] for n, d in events if n == "delta") == "odd \ud800 text"
        _still_serving(client)


def test_deeply_nested_json_gets_a_400_not_a_500(app: App) -> None:
    with app.client(timeout=30) as client:
        response = client.post(
            "/api/chat/stream", content=b"[" * 100_000, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400 and "nested too deeply" in response.json()["error"]
        _still_serving(client)


def test_a_boolean_temperature_gets_a_400(app: App) -> None:
    with app.client(timeout=30) as client:
        response = client.post("/api/chat/stream", json=_body(temperature=True))
        assert response.status_code == 400 and "'temperature' option must be a number" in response.json()["error"]


def test_long_query_strings_get_the_documented_answers(app: App) -> None:
    with app.client(timeout=30) as client:
        fits = client.get("/api/stream", params={"prompt": "y" * (MAX_QUERY_BYTES - 100), "rate": "0"})
        assert fits.status_code == 200 and sse.parse(fits.text)[-1][0] == "done"
        too_long = client.get("/api/stream", params={"prompt": "y" * (MAX_QUERY_BYTES + 1_000), "rate": "0"})
        assert too_long.status_code == 414 and "POST" in too_long.json()["error"]
        # Beyond 16 KiB of request head still arriving, uvicorn (h11) answers itself, before the app: documented.
        host, port = app.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as raw:
            raw.sendall(b"GET /api/stream?prompt=" + b"y" * 17_000)  # the head is not finished yet
            reply = raw.makefile("rb").read().decode("latin-1")
        assert reply.startswith("HTTP/1.1 400 ") and reply.endswith("Invalid HTTP request received.")
        _still_serving(client)


def test_a_huge_integer_in_the_body_is_a_400_not_a_500() -> None:
    """Python refuses to convert an integer of more than 4,300 digits: that is the client's mistake, said in JSON."""
    body = b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": ' + b"9" * 5000 + b"}"
    with pytest.raises(RequestError) as caught:
        parse_body(body)
    assert caught.value.status == 400


def test_a_model_name_has_a_length_limit() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "provider": "echo", "model": "m" * 900_000})
    with pytest.raises(RequestError) as caught:
        open_turn(parse_body(body.encode()))
    assert caught.value.status == 400 and "model" in caught.value.message and len(caught.value.message) < 300


@pytest.mark.parametrize("url", ["http://alice:s3cretPW@[::1", "ftp://host/v1", "not a url", "http://host:port/v1"])
def test_a_malformed_base_url_is_one_config_line_without_the_url(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.errors import ConfigError
    from agents.providers import registry

    monkeypatch.setenv("OPENAI_BASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        registry.create("openai")
    assert "OPENAI_BASE_URL" in str(caught.value) and "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("users", "said"),
    [("alice:", "alice has no password"), (":pw", "an entry has no password"), ("alice:a,alice:b", "listed twice")],
)
def test_a_bad_chat_users_entry_is_one_config_line(monkeypatch: pytest.MonkeyPatch, users: str, said: str) -> None:
    from agents.errors import ConfigError

    monkeypatch.delenv("CHAT_USERNAME", raising=False)
    monkeypatch.delenv("CHAT_PASSWORD", raising=False)
    monkeypatch.setenv("CHAT_USERS", users)
    with pytest.raises(ConfigError, match=said):
        auth.login_configured()


def test_several_logins_each_check_their_own_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_USERNAME", raising=False)
    monkeypatch.delenv("CHAT_PASSWORD", raising=False)
    monkeypatch.setenv("CHAT_USERS", "alice:wonderland, bob:builder")
    assert auth.login_configured()
    assert auth.check_password("alice", "wonderland") and auth.check_password("bob", "builder")
    assert not auth.check_password("alice", "builder") and not auth.check_password("carol", "")
