"""A user's own keys (issue 15, part 5): per session, checked, never echoed, never given the server's key."""

from __future__ import annotations

import pytest

from agents.errors import ChatError, MissingKey
from agents.providers import registry
from agents.providers.base import ChatMessage, GenerationParams
from chat.keys import ALLOW_VAR, InvalidKey, UserKeys, check_base_url
from chat.session import ChatSession
from chat.settings import Settings
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from ui import keys_panel, panel
from ui.apply import apply


def cl_message(text: str) -> object:
    import chainlit as cl

    return cl.Message(content=text, author="User", type="user_message")

KEY = "sk-user-0123456789abcdef"
SERVER_KEY = "sk-server-fedcba9876543210"


def echo_session() -> ChatSession:
    return ChatSession(Settings(provider="echo"))


def test_a_base_url_from_a_user_is_refused_unless_the_operator_allows_its_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_VAR, raising=False)
    with pytest.raises(InvalidKey, match=ALLOW_VAR) as refused:
        check_base_url("http://169.254.169.254/latest")
    assert "169.254" not in str(refused.value)
    monkeypatch.setenv(ALLOW_VAR, "llm.example.org, 127.0.0.1:8080")
    assert check_base_url("https://LLM.example.org/v1") == "https://LLM.example.org/v1"
    assert check_base_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    for url in ("http://127.0.0.1:8081/v1", "http://localhost:8080/v1", "http://2130706433:8080/v1",
                "http://llm.example.org.evil.test/v1", "http://10.0.0.1/v1"):  # fmt: skip
        with pytest.raises(InvalidKey, match="not one the operator allows"):
            check_base_url(url)
    monkeypatch.setenv(ALLOW_VAR, "*")
    assert check_base_url("http://10.0.0.1/v1") == "http://10.0.0.1/v1"
    with pytest.raises(InvalidKey, match="not a valid http") as bad:
        check_base_url("ftp://user:hunter2@host/")
    assert "hunter2" not in str(bad.value)


def test_keys_are_checked_and_never_repeated_in_a_refusal() -> None:
    keys = UserKeys()
    for bad in ("short", "has a space inside it", "sk-line\nbreak-123456", "ключ-0123456789"):
        with pytest.raises(InvalidKey) as refused:
            keys.set("OPENAI_API_KEY", bad)
        assert bad not in str(refused.value)
    keys.set("OPENAI_API_KEY", f"  {KEY}  ")
    assert keys.env() == {"OPENAI_API_KEY": KEY}
    assert KEY not in repr(keys) and "OPENAI_API_KEY" in repr(keys)
    with pytest.raises(InvalidKey):
        keys.set("PATH", "/usr/bin:/bin")  # only the three variables users may set


def test_a_key_makes_its_provider_available_to_that_session_only() -> None:
    alice, bob = echo_session(), echo_session()
    outcome = apply(alice, {"openai_api_key": KEY, "provider": "openai"})
    assert outcome.refused == [] and outcome.keys == ["OpenAI API key"], outcome
    assert alice.settings.provider == "openai" and alice.provider().name == "openai"
    refused = apply(bob, {"provider": "openai"})
    assert bob.settings.provider == "echo"
    [line] = refused.refused
    assert '"OpenAI API key"' in line and "OPENAI_API_KEY" in line, line
    labels = {v: k for k, v in panel.provider_items(bob.keys).items()}
    assert "unavailable" in labels["openai"]
    labels = {v: k for k, v in panel.provider_items(alice.keys).items()}
    assert "unavailable" not in labels["openai"]
    assert KEY not in repr([w.to_dict() for w in panel.widgets(alice.settings, alice.keys)])


def test_a_dash_removes_a_key_and_blank_fields_keep_it() -> None:
    session = echo_session()
    apply(session, {"gemini_api_key": KEY})
    assert apply(session, {"gemini_api_key": None, "openai_api_key": "  "}).keys == []
    assert session.keys.names() == ["GEMINI_API_KEY"]
    assert apply(session, {"gemini_api_key": "-"}).keys == ["Gemini API key removed"]
    assert not session.keys


def test_the_key_fields_leave_chainlits_stored_settings() -> None:
    stored = {"provider": "openai", "openai_api_key": KEY, "openai_base_url": "http://127.0.0.1/v1",
              "gemini_api_key": KEY, "temperature": "0"}  # fmt: skip
    keys_panel.scrub(stored)
    assert stored == {"provider": "openai", "temperature": "0"}


def test_with_no_key_of_the_servers_and_none_of_the_users_openai_is_missing() -> None:
    with pytest.raises(MissingKey):
        registry.create("openai")
    with pytest.raises(ChatError):
        echo_session().update(provider="gemini")


async def test_a_users_base_url_never_gets_the_servers_key(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator's key must not go to a server the user chose: it would be theirs to read.
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.setenv(ALLOW_VAR, "127.0.0.1")
    session = ChatSession(Settings(provider="openai"))
    assert apply(session, {"openai_base_url": f"{scripted.url}/v1"}).refused == []
    scripted.enqueue(*[Reply.sse(openai_stream(["ok"]), done=True)] * 2)
    messages = [ChatMessage("user", "hi")]
    assert [p async for p in session.provider().stream(messages, GenerationParams())] == ["ok"]
    assert scripted.requests[-1].header("Authorization") == "Bearer no-key-needed"
    apply(session, {"openai_api_key": KEY})  # with a key of their own, theirs goes to their server
    assert [p async for p in session.provider().stream(messages, GenerationParams())] == ["ok"]
    assert scripted.requests[-1].header("Authorization") == f"Bearer {KEY}"


async def test_a_users_key_alone_goes_to_the_servers_base_url(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    scripted.enqueue(Reply.sse(openai_stream(["ok"]), done=True))
    session = ChatSession(Settings(provider="openai"))
    apply(session, {"openai_api_key": KEY})
    assert [p async for p in session.provider().stream([ChatMessage("user", "hi")], GenerationParams())] == ["ok"]
    assert scripted.requests[-1].header("Authorization") == f"Bearer {KEY}"


def test_a_users_gemini_key_builds_gemini_with_it_and_the_server_keeps_none() -> None:
    session = echo_session()
    apply(session, {"gemini_api_key": KEY, "provider": "gemini"})
    provider = session.provider()
    assert provider.name == "gemini" and provider._api_key == KEY  # type: ignore[attr-defined]
    with pytest.raises(MissingKey):
        registry.create("gemini")  # the server itself still has no key


async def test_removing_the_key_in_use_gives_one_line_naming_the_panel_field(ui: object) -> None:
    import app

    await app.settings_update({"openai_api_key": KEY, "provider": "openai"})
    assert app._session().settings.provider == "openai"
    await app.settings_update({"openai_api_key": "-"})
    sent = len(ui.messages())  # type: ignore[attr-defined]
    await app.message(cl_message("hello"))
    [error] = ui.messages()[sent:]  # type: ignore[attr-defined]
    assert '"OpenAI API key"' in error["output"] and KEY not in error["output"], error
