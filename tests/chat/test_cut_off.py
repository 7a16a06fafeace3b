"""Cut-off answers are marked: a typed ``Finish`` from every provider, the stats, every sink, and Continue."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator

import chainlit as cl
import pytest

import app
from agents.events import Done, Event, Failed, Notice, Stats
from agents.providers.base import ChatMessage, Finish, GenerationParams, Piece
from agents.providers.echo import EchoProvider, pieces
from agents.providers.gemini_provider import GeminiProvider
from agents.providers.openai_provider import OpenAIProvider
from agents.runner import Runner
from chat.session import ChatSession
from chat.settings import Settings
from cli import main as cli
from tests.chainlit_harness import SocketRecorder
from tests.servers.payloads import gemini_chunk, gemini_stream, openai_chunk, openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from web import sse

TEXT = "One two three four five six seven eight nine ten eleven twelve."
MESSAGES = [ChatMessage("user", "Tell me a long story.")]
LIMITED = GenerationParams(max_tokens=3)


async def items(stream: AsyncGenerator[Piece, None]) -> list[Piece]:
    return [item async for item in stream]


async def run(
    provider: object, params: GenerationParams = LIMITED, messages: list[ChatMessage] = MESSAGES
) -> list[Event]:
    runner = Runner(provider, stall_timeout=None)  # type: ignore[arg-type]
    return [event async for event in runner.run(messages, params)]


@pytest.fixture
async def remote(scripted: ScriptedServer) -> AsyncIterator[tuple[OpenAIProvider, GeminiProvider]]:
    """Both SDK providers on the scripted server, their clients closed when the test ends."""
    pair = (
        OpenAIProvider("m", api_key="k", base_url=f"{scripted.url}/v1"),
        GeminiProvider("m", api_key="k", base_url=scripted.url),
    )
    yield pair
    for provider in pair:
        await provider.aclose()


def assert_cut_off(events: list[Event], text: str, at: int | None) -> Stats:
    done = events[-1]
    assert isinstance(done, Done) and done.text == text
    assert done.stats.outcome == "complete" and done.stats.finish_reason == "length" and done.stats.cut_off
    assert done.stats.cut_off_at == at
    notice = events[-2]
    assert isinstance(notice, Notice) and notice.kind == "cut_off"
    assert notice.message == (f"cut off at {at} tokens" if at is not None else "cut off at the token limit")
    assert notice.message in done.stats.summary()
    return done.stats


# -- each provider says why it stopped, typed ------------------------------------------------------


async def test_echo_ends_with_a_typed_finish_only_when_the_limit_cuts_it() -> None:
    echo = EchoProvider(rate=0)
    cut = await items(echo.stream([ChatMessage("user", TEXT)], LIMITED))
    assert cut[-1] == Finish("length", 3) and all(isinstance(p, str) for p in cut[:-1])
    whole = await items(echo.stream([ChatMessage("user", "A bit")], GenerationParams(max_tokens=30)))
    assert whole == ["A", " bit"]


async def test_openai_length_and_gemini_max_tokens_map_to_the_same_finish(
    scripted: ScriptedServer, remote: tuple[OpenAIProvider, GeminiProvider]
) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Once", " upon"], finish_reason="length"), done=True))
    scripted.enqueue(Reply.sse(gemini_stream(["Once", " upon"], finish_reason="MAX_TOKENS")))
    from_openai = await items(remote[0].stream(MESSAGES, LIMITED))
    from_gemini = await items(remote[1].stream(MESSAGES, LIMITED))
    assert from_openai == from_gemini == ["Once", " upon", Finish("length")]


async def test_a_natural_stop_is_no_finish_item(
    scripted: ScriptedServer, remote: tuple[OpenAIProvider, GeminiProvider]
) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Done."]), done=True))
    scripted.enqueue(Reply.sse(gemini_stream(["Done."])))
    assert await items(remote[0].stream(MESSAGES, LIMITED)) == ["Done."]
    assert await items(remote[1].stream(MESSAGES, LIMITED)) == ["Done."]


# -- the runner: stats and a notice before Done ----------------------------------------------------


async def test_echo_cut_off_is_recorded_and_announced() -> None:
    events = await run(EchoProvider(rate=0), messages=[ChatMessage("user", TEXT)])
    assert_cut_off(events, "".join(pieces(TEXT)[:3]), 3)


async def test_an_answer_under_the_limit_is_complete_with_a_stop() -> None:
    events = await run(EchoProvider(rate=0), GenerationParams(max_tokens=100), [ChatMessage("user", TEXT)])
    done = events[-1]
    assert isinstance(done, Done) and done.stats.finish_reason == "stop" and not done.stats.cut_off
    assert not any(isinstance(e, Notice) and e.kind == "cut_off" for e in events)
    assert "cut off" not in done.stats.summary()


@pytest.mark.parametrize("server_kind", ["openai", "gemini"])
async def test_remote_cut_off_counts_the_requested_limit(
    scripted: ScriptedServer, remote: tuple[OpenAIProvider, GeminiProvider], server_kind: str
) -> None:
    if server_kind == "openai":
        scripted.enqueue(Reply.sse(openai_stream(["Once", " upon", " a"], finish_reason="length"), done=True))
        provider: object = remote[0]
    else:
        scripted.enqueue(Reply.sse(gemini_stream(["Once", " upon", " a"], finish_reason="MAX_TOKENS")))
        provider = remote[1]
    assert_cut_off(await run(provider), "Once upon a", 3)


async def test_a_content_filter_stop_is_recorded_as_such(
    scripted: ScriptedServer, remote: tuple[OpenAIProvider, GeminiProvider]
) -> None:
    scripted.enqueue(Reply.sse([openai_chunk("Here is"), openai_chunk(finish_reason="content_filter")], done=True))
    scripted.enqueue(Reply.sse([gemini_chunk("First, "), gemini_chunk("you", finish_reason="SAFETY")]))
    for provider in remote:
        events = await run(provider)
        failed = events[-1]
        assert isinstance(failed, Failed) and failed.error.kind == "content_blocked"
        assert failed.stats.finish_reason == "content_filter" and not failed.stats.cut_off
        assert "stopped by a content filter" in failed.stats.summary()


# -- the sinks -------------------------------------------------------------------------------------


def test_sse_done_frame_carries_the_finish_reason() -> None:
    stats = Stats("echo", "echo", "complete", 1.0, 2.0, 3, 10.0, finish_reason="length", cut_off_at=3)
    frames = sse.parse(sse.encode(Done("a b c", stats)).decode())
    assert frames == [("done", {**stats.to_dict(), "finish_reason": "length", "cut_off_at": 3})]
    assert json.loads(json.dumps(frames[0][1]))["cut_off_at"] == 3


def test_cli_says_cut_off_on_stderr_and_records_it_in_the_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "echo", "--rate", "0", "--max-tokens", "3", "--stats", TEXT])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_OK and out == "".join(pieces(TEXT)[:3]) + "\n"
    lines = err.splitlines()
    assert "[cut off at 3 tokens]" in lines
    stats = json.loads(lines[-1])
    assert stats["finish_reason"] == "length" and stats["cut_off_at"] == 3


async def test_continue_after_a_cut_off_gets_a_fresh_limit() -> None:
    session = ChatSession(Settings(provider="echo", echo_rate=0, max_tokens=3))
    first = await session.start(TEXT).run(_ignore)
    assert first is not None and first.cut_off
    second = await session.continue_last().run(_ignore)
    assert second is not None and second.cut_off and second.cut_off_at == 6
    assert session.history[-1].content == "".join(pieces(TEXT)[:6])


async def _ignore(event: Event) -> None:
    return None


async def test_the_ui_marks_a_cut_off_and_continue_carries_it_on(ui: SocketRecorder) -> None:
    app._session().update(provider="echo", echo_rate=0, max_tokens=3)
    await app.message(cl.Message(content=TEXT))
    answer_id = ui.named("stream_start")[0]["id"]
    outputs = [m["output"] for m in ui.messages()]
    assert any("cut off at 3 tokens" in o for o in outputs)
    actions = ui.named("action")
    assert len(actions) == 1 and actions[0]["forId"] == answer_id

    await app.continue_answer(cl.Action(**{k: actions[0][k] for k in ("name", "payload", "label", "forId", "id")}))
    shown = [m for m in ui.messages() if m["id"] == answer_id][-1]["output"]
    assert shown == "".join(pieces(TEXT)[:6]), "Continue carries on in the same message, with a fresh limit"
