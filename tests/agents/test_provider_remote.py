"""Helpers shared by the HTTP providers: Retry-After, redaction, status mapping, per-loop clients."""

from __future__ import annotations

import asyncio

import pytest

from agents.errors import AuthError, BadRequest, ModelNotFound, ProviderTimeout, RateLimited, ServerError
from agents.providers.base import ChatMessage
from agents.providers.remote import PerLoop, continuation_messages, error_for_status, parse_retry_after, redact

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "Tue, 14 Nov 2023 22:13:50 GMT"}, 30.0),
        ({"Retry-After": "Tue, 14 Nov 2023 22:00:00 GMT"}, 0.0),  # a date in the past: go now
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers, now=lambda: NOW) == expected


def test_redact_removes_secrets_and_squeezes_to_one_short_line() -> None:
    assert redact("bad key sk-abcdef\n  try again", ["sk-abcdef", None]) == "bad key [redacted] try again"
    assert len(redact("x" * 1000, [])) == 200


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (401, AuthError), (403, AuthError), (404, ModelNotFound), (408, ProviderTimeout),
     (409, ServerError), (413, BadRequest), (422, BadRequest), (429, RateLimited), (500, ServerError),
     (503, ServerError), (529, ServerError)],
)
def test_error_for_status(status: int, kind: type) -> None:
    err = error_for_status(status, "detail", provider="p", label="P", model="m", key_hint="P_KEY", partial="so far")
    assert type(err) is kind and err.partial == "so far" and err.provider == "p"
    if kind is AuthError:
        assert "detail" not in str(err) and "P_KEY" in str(err)


def test_continuation_messages_append_the_partial_and_an_instruction() -> None:
    base = [ChatMessage("user", "hi")]
    assert continuation_messages(base, "") == base
    out = continuation_messages(base, "Hel")
    assert out[:2] == [ChatMessage("user", "hi"), ChatMessage("assistant", "Hel")]
    assert out[2].role == "user" and "Continue" in out[2].content


def test_per_loop_builds_one_client_per_loop_and_closes_it_when_the_loop_shuts_down() -> None:
    built: list[list[str]] = []
    closed: list[list[str]] = []

    async def close(item: list[str]) -> None:
        closed.append(item)

    def build() -> list[str]:
        built.append([])
        return built[-1]

    clients = PerLoop(build, close)

    async def use() -> list[str]:
        first = await clients.get()
        assert await clients.get() is first
        return first

    a = asyncio.run(use())
    b = asyncio.run(use())
    assert a is not b and len(built) == 2
    assert closed == [a, b], "asyncio.run's shutdown_asyncgens closed each loop's client"


async def test_per_loop_aclose_closes_now_and_rebuilds_later() -> None:
    closed: list[object] = []

    async def close(item: object) -> None:
        closed.append(item)

    clients = PerLoop(object, close)
    first = await clients.get()
    await clients.aclose()
    assert closed == [first]
    assert await clients.get() is not first
