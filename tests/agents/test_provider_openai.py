"""The OpenAI provider through the official SDK: a real llama.cpp OpenAI server, and a scripted one for errors."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Iterator

import chainlit as cl
import pytest

import app
from agents.errors import (
    AuthError,
    BadRequest,
    ConnectionLost,
    ContentBlocked,
    FatalError,
    MissingKey,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RetryableError,
    ServerError,
)
from agents.events import Done, Event, Failed, TextDelta
from agents.providers import registry
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.openai_provider import PLACEHOLDER_KEY, OpenAIProvider
from agents.providers.remote import CONTINUE_INSTRUCTION
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from cli import main as cli
from tests.chainlit_harness import SocketRecorder
from tests.servers.llama import LlamaServer, llama_server
from tests.servers.payloads import openai_chunk, openai_error, openai_stream
from tests.servers.scripted import Reply, ScriptedServer

SECRET = "sk-test-SECRET-0123456789abcdef"
MESSAGES = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Name a colour.")]
GREEDY = GenerationParams(temperature=0.0, max_tokens=24)


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    with llama_server() as server:
        yield server


def provider_for(server: ScriptedServer, **kwargs: object) -> OpenAIProvider:
    return OpenAIProvider("test-model", api_key=SECRET, base_url=f"{server.url}/v1", **kwargs)  # type: ignore[arg-type]


async def drain(stream: AsyncGenerator[str, None]) -> tuple[list[str], ProviderError | None]:
    pieces: list[str] = []
    try:
        async for piece in stream:
            if isinstance(piece, str):  # a Finish item says why it ended (tests/test_cut_off.py)
                pieces.append(piece)
    except ProviderError as err:
        return pieces, err
    return pieces, None


async def events_of(provider: OpenAIProvider) -> list[Event]:
    return [e async for e in Runner(provider).run(MESSAGES, GREEDY)]


# -- a real OpenAI-compatible server ------------------------------------------


async def test_a_real_answer_streams_through_the_sdk(llama: LlamaServer) -> None:
    provider = OpenAIProvider("smollm2", base_url=llama.base_url)
    events = await events_of(provider)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3, "the answer arrives in pieces, not in one block"
    assert isinstance(events[-1], Done)
    assert events[-1].text == "".join(d.text for d in deltas)
    assert events[-1].text.strip()
    assert events[-1].stats.provider == "openai"


async def test_greedy_answers_repeat_on_the_real_server(llama: LlamaServer) -> None:
    provider = OpenAIProvider("smollm2", base_url=llama.base_url)
    first, err1 = await drain(provider.stream(MESSAGES, GREEDY))
    second, err2 = await drain(provider.stream(MESSAGES, GREEDY))
    assert err1 is None and err2 is None
    assert "".join(first) == "".join(second)


async def test_the_real_server_accepts_a_continuation_request(llama: LlamaServer) -> None:
    provider = OpenAIProvider("smollm2", base_url=llama.base_url)
    partial = "Blue is a calm colour, often"
    pieces, err = await drain(provider.stream(MESSAGES, GREEDY, continue_from=partial))
    assert err is None
    assert "".join(pieces).strip(), "the server streams new text after the partial answer"


# -- request shape --------------------------------------------------------------


async def test_request_carries_messages_params_and_the_key(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Re", "d."]), done=True))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GenerationParams(temperature=0.5, seed=7)))
    assert (pieces, err) == (["Re", "d."], None)
    [request] = scripted.requests
    assert request.path == "/v1/chat/completions"
    assert request.header("authorization") == f"Bearer {SECRET}"
    assert request.body["stream"] is True
    assert request.body["model"] == "test-model"
    assert request.body["temperature"] == 0.5 and request.body["seed"] == 7
    assert "max_tokens" not in request.body
    assert request.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a colour."},
    ]


async def test_continuation_request_carries_the_partial_answer(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream([" sky."]), done=True))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY, continue_from="Blue, like the"))
    assert (pieces, err) == ([" sky."], None), "only the new text is yielded"
    messages = scripted.requests[0].body["messages"]
    assert messages[:2] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a colour."},
    ]
    assert messages[2] == {"role": "assistant", "content": "Blue, like the"}
    assert messages[3] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert len(messages) == 4


def test_these_providers_say_their_continuation_is_not_exact() -> None:
    assert OpenAIProvider.exact_continuation is False


async def test_params_model_overrides_the_providers_model(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["ok"]), done=True))
    await drain(provider_for(scripted).stream(MESSAGES, GenerationParams(model="other", max_tokens=5)))
    assert scripted.requests[0].body["model"] == "other"
    assert scripted.requests[0].body["max_tokens"] == 5


# -- error mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind"),
    [
        (401, openai_error(f"Incorrect API key provided: {SECRET}", code="invalid_api_key"), {}, AuthError),
        (403, openai_error("Forbidden", type="permission_error"), {}, AuthError),
        (404, openai_error("The model `test-model` does not exist", code="model_not_found"), {}, ModelNotFound),
        (400, openai_error("max_tokens is too large"), {}, BadRequest),
        (422, openai_error("unprocessable"), {}, BadRequest),
        (429, openai_error("Rate limit reached", type="requests", code="rate_limit_exceeded"), {}, RateLimited),
        (429, openai_error("You exceeded your current quota", code="insufficient_quota"), {}, AuthError),
        (500, openai_error("The server had an error", type="server_error"), {}, ServerError),
        (503, openai_error("The engine is currently overloaded", type="server_error"), {}, ServerError),
        (408, openai_error("Request timed out"), {}, ProviderTimeout),
    ],
)
async def test_status_errors_map_to_project_errors(
    scripted: ScriptedServer, status: int, body: object, headers: dict[str, str], kind: type[ProviderError]
) -> None:
    scripted.enqueue(Reply.error(status, body, headers))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert pieces == []
    assert type(err) is kind
    assert err.provider == "openai"
    assert SECRET not in str(err), "a key never reaches a message"
    assert "\n" not in str(err)
    assert len(scripted.requests) == 1, "the SDK's own retries are off; the runner decides"


async def test_auth_error_names_the_env_var_and_drops_the_sdk_cause(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(401, openai_error(f"Incorrect API key provided: {SECRET}")))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert isinstance(err, AuthError)
    assert "OPENAI_API_KEY" in str(err)
    assert err.__cause__ is None and err.__suppress_context__, "the SDK error (with the echoed key) is not chained"


async def test_rate_limit_carries_retry_after_seconds(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(429, openai_error("Rate limit reached"), {"Retry-After": "2"}))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert isinstance(err, RateLimited) and isinstance(err, RetryableError)
    assert err.retry_after == 2.0


async def test_rate_limit_prefers_retry_after_ms(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(429, openai_error("slow"), {"retry-after-ms": "1500", "Retry-After": "9"}))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert isinstance(err, RateLimited) and err.retry_after == 1.5


async def test_server_error_carries_status_and_is_retryable(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(502, openai_error("bad gateway", type="server_error")))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert isinstance(err, ServerError) and err.status == 502 and isinstance(err, RetryableError)


async def test_a_cut_mid_body_is_connection_lost_with_the_partial(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["The ", "sky ", "is ", "blue."]), done=True, cut_after=3))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert pieces == ["The ", "sky "]
    assert isinstance(err, ConnectionLost)
    assert err.partial == "The sky "


async def test_a_stream_closed_without_a_finish_reason_is_not_complete(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse([openai_chunk("Half an ans")]))  # clean end, no finish_reason, no [DONE]
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert pieces == ["Half an ans"]
    assert isinstance(err, ConnectionLost) and err.partial == "Half an ans"


async def test_an_error_event_mid_stream_is_a_server_error(scripted: ScriptedServer) -> None:
    failure = {"error": {"message": "upstream died", "type": "server_error"}}
    events = [openai_chunk("Par"), openai_chunk("tial"), failure]
    scripted.enqueue(Reply.sse(events))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, GREEDY))
    assert pieces == ["Par", "tial"]
    assert isinstance(err, ServerError) and err.partial == "Partial"
    assert "upstream died" in str(err)


async def test_content_filter_ends_the_answer_keeping_the_text(scripted: ScriptedServer) -> None:
    chunks = [openai_chunk("Here is how"), openai_chunk(" to", finish_reason="content_filter")]
    scripted.enqueue(Reply.sse(chunks, done=True))
    events = await events_of(provider_for(scripted))
    end = events[-1]
    assert isinstance(end, Failed)
    assert isinstance(end.error, ContentBlocked) and isinstance(end.error, FatalError)
    assert end.text == "Here is how to"
    assert end.error.partial == "Here is how to"
    assert "content filter" in str(end.error) and "\n" not in str(end.error)


async def test_a_refused_connection_is_connection_lost() -> None:
    from tests.servers.llama import free_port

    provider = OpenAIProvider("m", base_url=f"http://127.0.0.1:{free_port()}/v1")
    pieces, err = await drain(provider.stream(MESSAGES, GREEDY))
    assert pieces == [] and isinstance(err, ConnectionLost)


async def test_a_silent_server_is_a_timeout(scripted: ScriptedServer) -> None:
    gate = threading.Event()
    scripted.enqueue(Reply.sse(openai_stream(["a", "b"]), done=True, gate=gate, gate_at=2))
    try:
        pieces, err = await drain(provider_for(scripted, read_timeout=0.3).stream(MESSAGES, GREEDY))
    finally:
        gate.set()
    assert pieces == ["a"]
    assert isinstance(err, ProviderTimeout) and err.partial == "a"


async def test_closing_the_stream_early_releases_it(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["one ", "two ", "three"]), done=True))
    stream = provider_for(scripted).stream(MESSAGES, GREEDY)
    assert await anext(stream) == "one "
    await stream.aclose()  # Stop: no error, nothing more is read


# -- registry, settings, CLI --------------------------------------------------------


def test_without_key_or_base_url_the_provider_is_unavailable() -> None:
    err = registry.get("openai").missing_key()
    assert isinstance(err, MissingKey)
    assert "OPENAI_API_KEY" in str(err) and "OPENAI_BASE_URL" in str(err)


def test_the_panel_labels_it_unavailable_naming_the_env_vars() -> None:
    from ui.panel import provider_items

    label = next(label for label, name in provider_items().items() if name == "openai")
    assert "unavailable" in label and "OPENAI_API_KEY" in label


def test_a_base_url_alone_makes_it_available_with_a_placeholder_key(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    assert registry.get("openai").missing_key() is None
    provider = registry.create("openai", "llama")
    assert isinstance(provider, OpenAIProvider)
    assert provider.model == "llama" and provider.base_url == f"{scripted.url}/v1"
    assert provider._api_key == PLACEHOLDER_KEY


def test_openai_model_env_sets_the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_MODEL", "gpt-test")
    assert registry.create("openai").model == "gpt-test"
    assert registry.create("openai", "chosen").model == "chosen"


def test_switching_to_it_without_a_key_keeps_the_current_provider() -> None:
    session = ChatSession(Settings(provider="echo"))
    with pytest.raises(MissingKey, match="OPENAI_API_KEY"):
        session.update(provider="openai")
    assert session.settings.provider == "echo"


def test_cli_without_a_key_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "openai", "hello"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert err.count("\n") == 1 and "OPENAI_API_KEY" in err


def test_cli_streams_from_an_openai_compatible_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    scripted.enqueue(Reply.sse(openai_stream(["Green", " grass."]), done=True))
    code = cli.main(["--provider", "openai", "--model", "served", "name a colour"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert out == "Green grass.\n"
    assert scripted.requests[0].body["model"] == "served"


def test_cli_content_filter_keeps_the_text_and_prints_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    scripted.enqueue(Reply.sse([openai_chunk("Step one"), openai_chunk(finish_reason="content_filter")], done=True))
    code = cli.main(["--provider", "openai", "how to"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILED
    assert out == "Step one\n"
    assert err.count("\n") == 1 and "content filter" in err


def test_cli_bad_key_gives_one_line_without_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    scripted.enqueue(Reply.error(401, openai_error(f"Incorrect API key provided: {SECRET}")))
    code = cli.main(["--provider", "openai", "hi"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILED
    assert err.count("\n") == 1 and "OPENAI_API_KEY" in err
    assert SECRET not in out + err


# -- the Chainlit handlers (a real Chainlit context, no browser) -----------------------


async def test_ui_refuses_a_provider_without_its_key_in_one_line_and_carries_on(ui: SocketRecorder) -> None:
    await app.settings_update({"provider": "openai", "model": ""})
    error = ui.messages()[-1]
    assert error["isError"] is True and "OPENAI_API_KEY" in error["output"] and "\n" not in error["output"]
    assert app._session().settings.provider == "echo"
    assert ui.named("chat_settings")[-1][0]["initial"] == "echo", "the panel shows what is really in force"
    await app.message(cl.Message(content="still here"))
    assert any("still here" in m["output"] for m in ui.messages())


async def test_ui_streams_from_an_openai_compatible_server_and_shows_a_content_filter_in_one_line(
    ui: SocketRecorder, monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    await app.settings_update({"provider": "openai", "model": "served"})
    assert app._session().settings.provider == "openai"
    chunks = [openai_chunk("Step "), openai_chunk("one"), openai_chunk(finish_reason="content_filter")]
    scripted.enqueue(Reply.sse(chunks))
    await app.message(cl.Message(content="how to"))
    answer_id = ui.named("stream_start")[0]["id"]
    final = [m for m in ui.messages() if m["id"] == answer_id][-1]
    assert final["output"] == "Step one", "the text so far stays on screen"
    errors = [m for m in ui.messages() if m.get("isError")]
    assert len(errors) == 1 and "content filter" in errors[0]["output"] and "\n" not in errors[0]["output"]
    assert scripted.requests[-1].body["messages"][-1] == {"role": "user", "content": "how to"}


def test_official_openai_gets_max_completion_tokens_and_compatible_servers_max_tokens() -> None:
    params = GenerationParams(max_tokens=9)
    official = OpenAIProvider("gpt-x", api_key=SECRET).request(MESSAGES, params)
    assert official["max_completion_tokens"] == 9 and "max_tokens" not in official
    served = OpenAIProvider("m", base_url="http://127.0.0.1:1/v1").request(MESSAGES, params)
    assert served["max_tokens"] == 9 and "max_completion_tokens" not in served


async def test_connection_errors_never_show_credentials_in_the_base_url() -> None:
    from tests.servers.llama import free_port

    port = free_port()
    provider = OpenAIProvider("m", base_url=f"http://user:hunter2@127.0.0.1:{port}/v1")
    _, err = await drain(provider.stream(MESSAGES, GREEDY))
    assert isinstance(err, ConnectionLost)
    assert "hunter2" not in str(err) and f"127.0.0.1:{port}" in str(err)


async def test_a_provider_built_without_key_or_base_url_fails_with_missing_key() -> None:
    with pytest.raises(MissingKey, match="OPENAI_API_KEY"):
        await drain(OpenAIProvider("m").stream(MESSAGES, GREEDY))
