"""Guardrails around a turn: the input side (block never calls the model, redact is what it sees) and the CLI."""

from __future__ import annotations

import pytest

from agents.events import Done
from chat.session import ChatSession
from chat.settings import Settings
from cli import main as cli
from tests.fakes import ScriptedProvider, answer_events


def _session(guards: str, chunks: tuple[str, ...] = ("fine",)) -> tuple[ChatSession, ScriptedProvider]:
    session = ChatSession(Settings(provider="echo", guards=guards))
    provider = ScriptedProvider(chunks=chunks)
    session._provider, session._provider_key = provider, ("echo", None, 50.0)
    return session, provider




async def test_input_block_never_calls_the_model() -> None:
    session, provider = _session("profanity=block")
    events = await answer_events(session, "tell me, f.u.c.k")
    assert provider.calls == []
    done = events[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.block is not None and done.block.rule == "profanity" and done.text == ""
    assert done.shown().startswith("[Blocked by guardrail: profanity]")
    assert done.stats.verdicts[0]["where"] == "input"
    assert session.history == []  # a blocked message never reaches the model later either


async def test_input_redact_is_what_the_model_and_history_see() -> None:
    session, provider = _session("pii=redact")
    events = await answer_events(session, "my mail is jane@example.org")
    sent = provider.calls[0].messages[-1].content
    assert sent == "my mail is <EMAIL_ADDRESS>"
    assert session.history[0].content == sent
    assert events[-1].stats.verdicts[0]["where"] == "input"  # type: ignore[union-attr]


async def test_output_guard_redacts_the_answer_and_history() -> None:
    session, _ = _session("pii=redact", chunks=("Reach ", "me at ", "bob@", "example.com", " ok"))
    events = await answer_events(session, "contact?")
    assert events[-1].text == "Reach me at <EMAIL_ADDRESS> ok"  # type: ignore[union-attr]
    assert session.history[-1].content == "Reach me at <EMAIL_ADDRESS> ok"


def test_cli_shows_what_a_guardrail_does(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "echo", "--rate", "0", "--guard", "pii", "mail me at a.b@example.com now"])
    out = capsys.readouterr().out
    assert code == 0 and out.strip() == "mail me at <EMAIL_ADDRESS> now"


def test_cli_exit_code_3_when_blocked(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--provider", "echo", "--rate", "0", "--guard", "profanity=block", "--stats", "well sh1t"])
    captured = capsys.readouterr()
    assert code == cli.EXIT_BLOCKED == 3
    assert captured.out.strip() == "[Blocked by guardrail: profanity] The message contains profanity."
    assert '"outcome": "blocked"' in captured.err and '"verdicts": [{"rule": "profanity"' in captured.err


def test_cli_rejects_a_bad_guard_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--provider", "echo", "--guard", "pii=zap", "x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
