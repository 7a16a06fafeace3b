"""A user's own keys and base URL, attacked: redirects, echoed keys, errors, lingering clients."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from agents.errors import ProviderError
from agents.providers.base import ChatMessage, GenerationParams
from chat.keys import ALLOW_VAR, InvalidKey, UserKeys, check_base_url
from chat.session import ChatSession
from chat.settings import Settings
from tests.chat.test_keys import cl_message
from tests.servers.payloads import openai_error, openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from ui.apply import apply

KEY = "sk-user-0123456789abcdef"
SERVER_KEY = "sk-server-fedcba9876543210"
HI = [ChatMessage("user", "hi")]


def user_session(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, *, key: str | None = KEY) -> ChatSession:
    """An OpenAI session whose base URL (and key) the user entered, the scripted server's host allowed."""
    monkeypatch.setenv(ALLOW_VAR, f"127.0.0.1:{scripted.url.rsplit(':', 1)[1]}")
    session = ChatSession(Settings(provider="openai"))
    fields = {"openai_base_url": f"{scripted.url}/v1"} | ({"openai_api_key": key} if key else {})
    assert apply(session, fields).refused == []
    return session


async def test_a_redirect_from_an_allowed_host_is_not_followed_elsewhere(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An allowed host answering 307 to an internal address (a metadata service, an admin port)
    # would make the server fetch it for the user: the allow list would mean nothing.
    session = user_session(scripted, monkeypatch)
    with ScriptedServer() as internal:
        internal.enqueue(Reply.sse(openai_stream(["secret metadata"]), done=True))
        to_internal = (("Location", f"{internal.url}/latest/meta-data"),)
        for status in (301, 302, 303, 307, 308):
            scripted.enqueue(Reply(status=status, headers=to_internal, body=b""))
            with pytest.raises(ProviderError) as failed:
                _ = [p async for p in session.provider().stream(HI, GenerationParams())]
            assert "redirect" in str(failed.value).lower() and internal.url not in str(failed.value)
        assert internal.requests == []


async def test_a_users_base_url_gets_no_credential_from_the_servers_environment(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK reads more than OPENAI_API_KEY from the environment: OPENAI_CUSTOM_HEADERS (an
    # Authorization for the operator's proxy, which even replaces the key), OPENAI_ORG_ID, OPENAI_PROJECT_ID.
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer proxy-secret-123\nX-Proxy-Token: tok-secret")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-server")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-server")
    for key, sent in ((None, "no-key-needed"), (KEY, KEY)):
        session = user_session(scripted, monkeypatch, key=key)
        scripted.enqueue(Reply.sse(openai_stream(["ok"]), done=True))
        assert [p async for p in session.provider().stream(HI, GenerationParams())] == ["ok"]
        request = scripted.requests[-1]
        assert request.header("Authorization") == f"Bearer {sent}"
        everything = repr(request)
        for secret in ("proxy-secret-123", "tok-secret", "org-server", "proj-server", SERVER_KEY):
            assert secret not in everything, secret


async def test_a_server_that_echoes_the_key_gets_it_nowhere(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, ui: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A hostile or careless server repeats the Authorization header in its error bodies: in a 400, a 401,
    # a 429, a 5xx, an error event mid-stream, a 200 that is not a stream.  The user's key must reach
    # neither the chat, nor any log line at any level (tracebacks included), nor /metrics.
    import app
    from agents.observe import REGISTRY, generate_latest

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ALLOW_VAR, f"127.0.0.1:{scripted.url.rsplit(':', 1)[1]}")
    monkeypatch.setenv("ANSWER_LOG_CONTENT", "1")
    await app.settings_update(
        {"openai_api_key": KEY, "openai_base_url": f"{scripted.url}/v1", "provider": "openai", "retries": "0"}
    )
    echoed = f"Authorization: Bearer {KEY} is not valid here; key={KEY}"
    replies = [
        Reply.error(400, openai_error(echoed)),
        Reply.error(401, openai_error(echoed)),
        Reply.error(429, openai_error(echoed)),
        Reply.error(500, openai_error(echoed)),
        Reply.sse([*openai_stream(["partial "]), {"error": {"message": echoed, "type": "server_error"}}]),
        Reply(status=200, headers=(("Content-Type", "text/html"),), body=f"<p>{echoed}</p>".encode()),
    ]
    for reply in replies:
        scripted.enqueue(reply)
        await app.message(cl_message("hello"))
    assert len(scripted.requests) == len(replies)
    shown = repr(ui.messages())  # type: ignore[attr-defined]
    assert "rejected" in shown and KEY not in shown
    assert KEY not in caplog.text
    assert KEY.encode() not in generate_latest(REGISTRY)


async def test_a_thread_resumed_without_the_key_keeps_its_settings_and_says_the_key_is_gone(ui: object) -> None:
    # Keys are never stored, so every reopened thread that used one comes back without it.  The
    # thread's guardrails must not go with the key (a PII redaction silently off), its provider must
    # not silently become another, and the first message must say which key to enter again.
    import app

    stored = {"provider": "openai", "model": "gpt-4o", "guard_pii": "redact", "temperature": "0.3"}
    await app.resume_thread({"id": "thread-with-a-key", "metadata": {"chat_settings": stored}, "steps": []})
    settings = app._session().settings
    assert ("pii", "redact") in settings.guards and settings.temperature == 0.3, settings
    assert (settings.provider, settings.model) == ("openai", "gpt-4o"), settings
    sent = len(ui.messages())  # type: ignore[attr-defined]
    await app.message(cl_message("hello again"))
    [line] = [m["output"] for m in ui.messages()[sent:]]  # type: ignore[attr-defined]
    assert '"OpenAI API key"' in line and "not kept" in line, line


async def test_a_users_gemini_key_is_in_no_log_record_nor_error_when_the_server_echoes_it(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.servers.payloads import gemini_error, gemini_stream

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("GEMINI_BASE_URL", scripted.url)
    session = ChatSession(Settings(provider="echo"))
    assert apply(session, {"gemini_api_key": KEY, "provider": "gemini"}).refused == []
    echoed = f"x-goog-api-key: {KEY} key={KEY}"
    errors: list[str] = []
    for status, name in ((400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED"), (500, "INTERNAL")):
        scripted.enqueue(Reply.error(status, gemini_error(status, name, echoed)))
        with pytest.raises(ProviderError) as failed:
            _ = [p async for p in session.provider().stream(HI, GenerationParams())]
        errors.append(str(failed.value))
    scripted.enqueue(Reply.sse(gemini_stream(["ok"])))
    assert [p async for p in session.provider().stream(HI, GenerationParams())][:1] == ["ok"]
    assert scripted.requests[-1].header("x-goog-api-key") == KEY  # the key went as a header...
    assert all(KEY not in str(r.query) for r in scripted.requests)  # ...never in the URL, which httpx logs
    assert KEY not in repr(errors) and KEY not in caplog.text, errors


def test_a_base_url_the_http_client_would_read_differently_is_refused_at_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The allow list is checked with urllib's parser; the SDK's HTTP client parses again.  Where they
    # can disagree (control characters, spaces, non-ASCII hosts that IDNA maps) the URL is refused.
    monkeypatch.setenv(ALLOW_VAR, "*")
    for url in ("http://127.0.0.1:8080/v1\x7f", "http://a b/v1", "http://\uff45vil.test/v1", "http://\u212aey.test/v1",
                "http://127.0.0.1:8080/v1\t"):  # fmt: skip
        with pytest.raises(InvalidKey, match="printable ASCII"):
            check_base_url(url)
    assert check_base_url("http://xn--bcher-kva.example/v1") == "http://xn--bcher-kva.example/v1"


async def test_a_users_key_outlives_neither_its_session_nor_its_removal(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK clients are pooled per configuration for the whole process; a user's key must not stay
    # there (in memory, one more client per key a user tries) once its session has dropped it.
    from agents.providers import remote

    own = "sk-user-this-test-only-5e6f7a8b"  # no other test's session holds it

    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    for fields in ({"openai_api_key": own}, {"openai_api_key": own, "openai_base_url": f"{scripted.url}/v1"}):
        if "openai_base_url" in fields:
            monkeypatch.setenv(ALLOW_VAR, f"127.0.0.1:{scripted.url.rsplit(':', 1)[1]}")
        session = ChatSession(Settings(provider="openai"))
        assert apply(session, fields).refused == []
        scripted.enqueue(Reply.sse(openai_stream(["ok"]), done=True))
        provider = session.provider()
        assert [p async for p in provider.stream(HI, GenerationParams())] == ["ok"]
        client = await provider._clients.get()  # type: ignore[attr-defined]
        apply(session, {"openai_api_key": "-", "openai_base_url": "-"})
        del provider, session
        gc.collect()
        assert not any(own in repr(config) for config in remote._SHARED), "the key stayed in the process-wide pool"
        for _ in range(5):  # the client is closed in a task of its own
            await asyncio.sleep(0)
        assert client.is_closed()


def test_the_base_url_field_shows_only_where_the_operator_allows_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a default install every base URL a user types is refused: a field that can only fail misleads.
    from ui import keys_panel

    monkeypatch.delenv(ALLOW_VAR, raising=False)
    assert [w.id for w in keys_panel.widgets(UserKeys())] == ["openai_api_key", "gemini_api_key"]
    monkeypatch.setenv(ALLOW_VAR, "127.0.0.1")
    assert [w.id for w in keys_panel.widgets(UserKeys())] == ["openai_api_key", "openai_base_url", "gemini_api_key"]


async def test_a_rejected_key_of_the_users_own_sends_them_to_the_panel_not_the_servers_variable(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.payloads import gemini_error

    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    monkeypatch.setenv("GEMINI_BASE_URL", scripted.url)
    session = ChatSession(Settings(provider="echo"))
    for provider, reply, field in (
        ("openai", Reply.error(401, openai_error("Incorrect API key provided")), "OpenAI API key"),
        ("gemini", Reply.error(403, gemini_error(403, "PERMISSION_DENIED", "API key not valid")), "Gemini API key"),
    ):
        assert apply(session, {f"{provider}_api_key": KEY, "provider": provider}).refused == []
        scripted.enqueue(reply)
        with pytest.raises(ProviderError) as failed:
            _ = [p async for p in session.provider().stream(HI, GenerationParams())]
        assert f'"{field}" you entered in the settings panel' in str(failed.value), failed.value
