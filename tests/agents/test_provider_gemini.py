"""The Gemini provider through google-genai, against a loopback server speaking ``streamGenerateContent?alt=sse``."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator

import pytest

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
from agents.events import Done, Failed, TextDelta
from agents.providers import registry
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.gemini_provider import GeminiProvider, to_contents
from agents.providers.remote import CONTINUE_INSTRUCTION
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from cli import main as cli
from tests.servers.payloads import gemini_chunk, gemini_error, gemini_retry_info, gemini_stream
from tests.servers.scripted import Reply, ScriptedServer

SECRET = "AIza-test-SECRET-0123456789"
MESSAGES = [
    ChatMessage("system", "Answer briefly."),
    ChatMessage("user", "Name a colour."),
    ChatMessage("assistant", "Blue."),
    ChatMessage("user", "Another?"),
]
PARAMS = GenerationParams(temperature=0.0, max_tokens=32, seed=3)
BAD_KEY_BODY = gemini_error(
    400,
    "INVALID_ARGUMENT",
    f"API key not valid. Please pass a valid API key. ({SECRET})",
    details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
)


def provider_for(server: ScriptedServer, **kwargs: object) -> GeminiProvider:
    return GeminiProvider("gemini-test", api_key=SECRET, base_url=server.url, **kwargs)  # type: ignore[arg-type]


async def drain(stream: AsyncGenerator[str, None]) -> tuple[list[str], ProviderError | None]:
    pieces: list[str] = []
    try:
        async for piece in stream:
            if isinstance(piece, str):  # a Finish item says why it ended (tests/test_cut_off.py)
                pieces.append(piece)
    except ProviderError as err:
        return pieces, err
    return pieces, None


# -- normal streaming and the request ------------------------------------------


async def test_normal_chunks_stream_through_the_sdk(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream(["Gre", "en, like ", "grass."])))
    events = [e async for e in Runner(provider_for(scripted)).run(MESSAGES, PARAMS)]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Gre", "en, like ", "grass."]
    assert isinstance(events[-1], Done) and events[-1].text == "Green, like grass."
    assert events[-1].stats.provider == "gemini" and events[-1].stats.model == "gemini-test"


async def test_request_uses_the_streaming_endpoint_key_header_and_contents(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream(["ok"])))
    assert await drain(provider_for(scripted).stream(MESSAGES, PARAMS)) == (["ok"], None)
    [request] = scripted.requests
    assert request.method == "POST"
    assert request.path.endswith("/models/gemini-test:streamGenerateContent")
    assert request.query == {"alt": ["sse"]}
    assert request.header("x-goog-api-key") == SECRET
    assert SECRET not in request.path
    body = request.body
    assert body["systemInstruction"]["parts"] == [{"text": "Answer briefly."}]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Name a colour."}]},
        {"role": "model", "parts": [{"text": "Blue."}]},
        {"role": "user", "parts": [{"text": "Another?"}]},
    ]
    assert body["generationConfig"] == {"temperature": 0.0, "maxOutputTokens": 32, "seed": 3}


async def test_continuation_request_carries_the_partial_as_a_model_turn(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream([" grass."])))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS, continue_from="Green, like"))
    assert (pieces, err) == ([" grass."], None), "only the new text is yielded"
    contents = scripted.requests[0].body["contents"]
    assert contents[-2] == {"role": "model", "parts": [{"text": "Green, like"}]}
    assert contents[-1] == {"role": "user", "parts": [{"text": CONTINUE_INSTRUCTION}]}
    assert len(contents) == 5


def test_these_providers_say_their_continuation_is_not_exact() -> None:
    assert GeminiProvider.exact_continuation is False


def test_history_mapping_merges_same_role_turns_and_joins_system_prompts() -> None:
    system, contents = to_contents(
        [
            ChatMessage("system", "One."),
            ChatMessage("user", "a"),
            ChatMessage("user", "b"),
            ChatMessage("system", "Two."),
            ChatMessage("assistant", "c"),
        ]
    )
    assert system == "One.\n\nTwo."
    assert contents == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
    ]
    assert to_contents([ChatMessage("user", "x")])[0] is None


async def test_thought_parts_are_not_part_of_the_answer(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse([gemini_chunk("Let me think", thought=True), *gemini_stream(["Red."])]))
    assert await drain(provider_for(scripted).stream(MESSAGES, PARAMS)) == (["Red."], None)


async def test_max_tokens_is_an_end_not_an_error(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream(["Long answer"], finish_reason="MAX_TOKENS")))
    assert await drain(provider_for(scripted).stream(MESSAGES, PARAMS)) == (["Long answer"], None)


# -- safety blocks ----------------------------------------------------------------


async def test_a_blocked_prompt_is_content_blocked(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse([gemini_chunk(block_reason="SAFETY")]))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert pieces == []
    assert isinstance(err, ContentBlocked) and isinstance(err, FatalError)
    assert "blocked by Gemini's safety filter" in str(err) and "SAFETY" in str(err)
    assert err.partial == ""


async def test_a_safety_stop_mid_stream_keeps_the_text_so_far(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse([gemini_chunk("First, "), gemini_chunk("you take", finish_reason="SAFETY")]))
    events = [e async for e in Runner(provider_for(scripted)).run(MESSAGES, PARAMS)]
    end = events[-1]
    assert isinstance(end, Failed) and isinstance(end.error, ContentBlocked)
    assert end.text == "First, you take"
    assert end.error.partial == "First, you take"
    assert "blocked by Gemini's safety filter" in str(end.error) and "\n" not in str(end.error)


# -- error mapping ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, BAD_KEY_BODY, AuthError),
        (403, gemini_error(403, "PERMISSION_DENIED", "Permission denied."), AuthError),
        (404, gemini_error(404, "NOT_FOUND", "models/nope is not found for API version v1beta"), ModelNotFound),
        (400, gemini_error(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.temperature'"), BadRequest),
        (429, gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted"), RateLimited),
        (500, gemini_error(500, "INTERNAL", "An internal error has occurred."), ServerError),
        (503, gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."), ServerError),
        (504, gemini_error(504, "DEADLINE_EXCEEDED", "Deadline expired."), ServerError),
    ],
)
async def test_status_errors_map_to_project_errors(
    scripted: ScriptedServer, status: int, body: object, kind: type[ProviderError]
) -> None:
    scripted.enqueue(Reply.error(status, body))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert pieces == []
    assert type(err) is kind
    assert err.provider == "gemini"
    assert SECRET not in str(err), "a key never reaches a message"
    assert "\n" not in str(err)
    assert len(scripted.requests) == 1, "the SDK's own retries are off; the runner decides"


async def test_a_bad_key_names_the_env_vars_and_drops_the_sdk_cause(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(400, BAD_KEY_BODY))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert isinstance(err, AuthError)
    assert "GEMINI_API_KEY" in str(err) and "GOOGLE_API_KEY" in str(err)
    assert err.__cause__ is None and err.__suppress_context__


async def test_429_carries_its_retry_after_header(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(429, gemini_error(429, "RESOURCE_EXHAUSTED", "Slow down."), {"Retry-After": "3"}))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert isinstance(err, RateLimited) and isinstance(err, RetryableError)
    assert err.retry_after == 3.0
    assert "Slow down." in str(err)


async def test_429_without_header_uses_the_retry_info_detail(scripted: ScriptedServer) -> None:
    body = gemini_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", details=[gemini_retry_info(37)])
    scripted.enqueue(Reply.error(429, body))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert isinstance(err, RateLimited) and err.retry_after == 37.0


async def test_500_is_a_retryable_server_error_with_its_status(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.error(500, gemini_error(500, "INTERNAL", "Internal error.")))
    _, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert isinstance(err, ServerError) and err.status == 500 and isinstance(err, RetryableError)


async def test_a_cut_mid_stream_is_connection_lost_with_the_partial(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream(["The ", "sky ", "is ", "blue."]), cut_after=2))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert pieces == ["The ", "sky "]
    assert isinstance(err, ConnectionLost) and isinstance(err, RetryableError)
    assert err.partial == "The sky "


async def test_a_stream_closed_without_a_finish_reason_is_not_complete(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse([gemini_chunk("Half an ans")]))  # a clean end, but no finishReason
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert pieces == ["Half an ans"]
    assert isinstance(err, ConnectionLost) and err.partial == "Half an ans"


async def test_an_error_chunk_mid_stream_maps_by_its_code(scripted: ScriptedServer) -> None:
    failure = gemini_error(503, "UNAVAILABLE", "The model is overloaded.")
    scripted.enqueue(Reply.sse([gemini_chunk("Par"), gemini_chunk("tial"), failure]))
    pieces, err = await drain(provider_for(scripted).stream(MESSAGES, PARAMS))
    assert pieces == ["Par", "tial"]
    assert isinstance(err, ServerError) and err.status == 503 and err.partial == "Partial"


async def test_a_refused_connection_is_connection_lost() -> None:
    from tests.servers.llama import free_port

    provider = GeminiProvider("m", api_key=SECRET, base_url=f"http://127.0.0.1:{free_port()}")
    pieces, err = await drain(provider.stream(MESSAGES, PARAMS))
    assert pieces == [] and isinstance(err, ConnectionLost)
    assert SECRET not in str(err)


async def test_a_silent_server_is_a_timeout(scripted: ScriptedServer) -> None:
    gate = threading.Event()
    scripted.enqueue(Reply.sse(gemini_stream(["a", "b"]), gate=gate, gate_at=1))
    try:
        pieces, err = await drain(provider_for(scripted, read_timeout=0.3).stream(MESSAGES, PARAMS))
    finally:
        gate.set()
    assert pieces == ["a"]
    assert isinstance(err, ProviderTimeout) and err.partial == "a"


async def test_closing_the_stream_early_releases_it(scripted: ScriptedServer) -> None:
    scripted.enqueue(Reply.sse(gemini_stream(["one ", "two ", "three"])))
    provider = provider_for(scripted)
    stream = provider.stream(MESSAGES, PARAMS)
    assert await anext(stream) == "one "
    await stream.aclose()  # Stop: no error, nothing more is read
    scripted.enqueue(Reply.sse(gemini_stream(["again"])))
    assert await drain(provider.stream(MESSAGES, PARAMS)) == (["again"], None), "the client still works"


# -- keys, registry, settings, CLI ---------------------------------------------------


@pytest.mark.parametrize("var", ["GEMINI_API_KEY", "GOOGLE_API_KEY"])
async def test_either_env_var_supplies_the_key(
    monkeypatch: pytest.MonkeyPatch, scripted: ScriptedServer, var: str
) -> None:
    monkeypatch.setenv(var, SECRET)
    monkeypatch.setenv("GEMINI_BASE_URL", scripted.url)
    assert registry.get("gemini").missing_key() is None
    provider = registry.create("gemini", "gemini-x")
    assert provider.model == "gemini-x"
    scripted.enqueue(Reply.sse(gemini_stream(["hi"])))
    assert await drain(provider.stream(MESSAGES, PARAMS)) == (["hi"], None)
    assert scripted.requests[0].header("x-goog-api-key") == SECRET


def test_gemini_key_wins_over_google_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    assert GeminiProvider()._api_key == "gemini-key"


def test_without_a_key_the_provider_is_unavailable_and_the_panel_says_which_vars() -> None:
    from ui.panel import provider_items

    err = registry.get("gemini").missing_key()
    assert isinstance(err, MissingKey) and "GEMINI_API_KEY or GOOGLE_API_KEY" in str(err)
    label = next(label for label, name in provider_items().items() if name == "gemini")
    assert "unavailable" in label and "GEMINI_API_KEY" in label


def test_switching_to_it_without_a_key_keeps_the_current_provider_and_history() -> None:
    session = ChatSession(Settings(provider="echo"))
    session.history.append(ChatMessage("user", "earlier"))
    with pytest.raises(MissingKey, match="GEMINI_API_KEY"):
        session.update(provider="gemini")
    assert session.settings.provider == "echo"
    assert session.history == [ChatMessage("user", "earlier")]


def test_switching_to_it_with_a_key_applies_to_the_next_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    session = ChatSession(Settings(provider="echo"))
    session.update(provider="gemini", model="gemini-y")
    provider = session.provider()
    assert isinstance(provider, GeminiProvider) and provider.model == "gemini-y"


def test_cli_without_a_key_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "gemini", "hello"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert err.count("\n") == 1 and "GEMINI_API_KEY" in err


def test_cli_streams_and_a_safety_block_prints_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scripted: ScriptedServer
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    monkeypatch.setenv("GEMINI_BASE_URL", scripted.url)
    scripted.enqueue(Reply.sse([gemini_chunk("Step one"), gemini_chunk(finish_reason="SAFETY")]))
    code = cli.main(["--provider", "gemini", "--model", "gemini-z", "how to"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILED
    assert out == "Step one\n"
    assert err.count("\n") == 1 and "blocked by Gemini's safety filter" in err
    assert SECRET not in out + err
    assert scripted.requests[0].path.endswith("/models/gemini-z:streamGenerateContent")


async def test_a_provider_built_without_a_key_fails_with_missing_key() -> None:
    with pytest.raises(MissingKey, match="GEMINI_API_KEY"):
        await drain(GeminiProvider("m").stream(MESSAGES, PARAMS))
