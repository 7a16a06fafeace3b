"""The OpenAI provider against a server that misbehaves (issue 12, items 11 and 14).

A garbage 200 body is a typed, retryable "malformed stream" (as Gemini's is),
and credentials in the base URL never reach the HTTP client's request log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncGenerator

import pytest

from agents.errors import ProviderError, RetryableError, ServerError
from agents.events import Done
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.openai_provider import OpenAIProvider
from agents.runner import Runner
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer
from tests.webapp import ROOT, SCRUBBED_ENV

MESSAGES = [ChatMessage("user", "Name a colour.")]
PARAMS = GenerationParams(max_tokens=8)


def _plain(content_type: str, body: bytes) -> Reply:
    return Reply(status=200, headers=(("Content-Type", content_type),), body=body)


GARBAGE = {
    "data that is not JSON": Reply.sse(["not json at all"]),
    "a JSON list": Reply.sse(["[1, 2]"]),
    "a JSON number": Reply.sse(["42"]),
    "choices that are not a list": Reply.sse(['{"choices": "abc"}']),
    "content that is not text": Reply.sse(['{"choices": [{"index": 0, "delta": {"content": 7}}]}']),
    "bytes that are not UTF-8": _plain("text/event-stream", b"data: \xff\xfe\n\n"),
    "an HTML page": _plain("text/html", b"<html><body>Bad gateway</body></html>"),
    "a JSON body": _plain("application/json", b'{"id": 1}'),
}


async def _drain(stream: AsyncGenerator[str, None]) -> tuple[list[str], ProviderError | None]:
    pieces: list[str] = []
    try:
        async for piece in stream:
            pieces.append(piece)
    except ProviderError as err:
        return pieces, err
    return pieces, None


@pytest.mark.parametrize("reply", list(GARBAGE.values()), ids=list(GARBAGE))
async def test_a_garbage_200_body_is_a_retryable_malformed_stream(scripted: ScriptedServer, reply: Reply) -> None:
    scripted.enqueue(reply)
    provider = OpenAIProvider("m", base_url=f"{scripted.url}/v1")
    _, err = await _drain(provider.stream(MESSAGES, PARAMS))
    assert isinstance(err, ServerError) and isinstance(err, RetryableError)
    assert "malformed stream" in str(err) and "\n" not in str(err)


async def test_garbage_after_good_text_keeps_the_partial(scripted: ScriptedServer) -> None:
    good = openai_stream(["Blue", " is"])[:3]  # role chunk and two texts, no finish
    scripted.enqueue(Reply.sse([*good, "<html>"]))
    provider = OpenAIProvider("m", base_url=f"{scripted.url}/v1")
    pieces, err = await _drain(provider.stream(MESSAGES, PARAMS))
    assert pieces == ["Blue", " is"]
    assert isinstance(err, ServerError) and err.partial == "Blue is"


async def test_the_runner_retries_a_malformed_stream_and_completes(scripted: ScriptedServer) -> None:
    scripted.enqueue(GARBAGE["data that is not JSON"], Reply.sse(openai_stream(["Blue."]), done=True))
    runner = Runner(OpenAIProvider("m", base_url=f"{scripted.url}/v1"), sleep=_no_sleep)
    events = [e async for e in runner.run(MESSAGES, PARAMS)]
    assert isinstance(events[-1], Done) and events[-1].text == "Blue."
    assert events[-1].stats.retries == 1 and len(scripted.requests) == 2


async def _no_sleep(_: float) -> None:
    return None


def test_the_cli_prints_one_line_and_no_traceback_for_garbage(scripted: ScriptedServer) -> None:
    scripted.enqueue(*[GARBAGE["data that is not JSON"]] * 2)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["OPENAI_BASE_URL"] = f"{scripted.url}/v1"
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--provider", "openai", "--retries", "1", "Name a colour."],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 4, done.stderr  # gave up after retries, as for any retryable failure
    assert "Traceback" not in done.stderr
    assert "error: OpenAI sent a malformed stream." in done.stderr.splitlines()
    assert len(scripted.requests) == 2


async def test_credentials_in_the_base_url_never_reach_the_http_log(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Blue."]), done=True))
    host = scripted.url.removeprefix("http://")
    provider = OpenAIProvider("m", base_url=f"http://ann:hunter2-secret@{host}/v1")
    with caplog.at_level(logging.INFO):
        pieces, err = await _drain(provider.stream(MESSAGES, PARAMS))
    assert err is None and pieces == ["Blue."]
    requests = [r.getMessage() for r in caplog.records if "HTTP Request" in r.getMessage()]
    assert requests, "the HTTP client logs each request at INFO"
    assert all("hunter2-secret" not in line and "ann:" not in line for line in requests), requests
    assert f"[credentials]@{host}/v1/chat/completions" in requests[0]

