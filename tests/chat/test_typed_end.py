"""The end of an answer is typed: history holds only the answer, a block is ``Done.block``, stats name the model.

Each test here failed before the layering change (issue 11's three bugs).
"""

from __future__ import annotations

import pytest

from agents.events import Done
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider, answer_events
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer


def _scripted(chunks: tuple[str, ...], **settings: object) -> ChatSession:
    """A session whose provider is a scripted fake (so the user's message itself is clean)."""
    session = ChatSession(Settings(provider="echo", **settings))  # type: ignore[arg-type]
    session._provider = ScriptedProvider(chunks=chunks, model="custom-model-v2")
    session._provider_key = ("echo", None, 50.0)
    return session




@pytest.mark.parametrize("release", ["hold_back", "stream_first"])
async def test_a_blocked_answer_leaves_no_block_line_in_the_models_context(release: str) -> None:
    chunks = ("hello ", "there, ", "you ", "shit", ", more ", "text")
    session = _scripted(chunks, guards="profanity=block", release=release)
    first = await answer_events(session, "say something")
    done = first[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.block is not None and done.block.rule == "profanity" and done.block.reason
    assert done.text == "hello there, you "  # only the cleared text, as shown, is the answer
    assert done.shown() == f"hello there, you\n\n{done.block.line()}"  # what a sink shows
    assert done.block.line().startswith("[Blocked by guardrail: profanity] ")

    turn = session.start("and now?")
    context = [m.content for m in turn.messages()]
    assert context[-3:] == ["say something", "hello there, you ", "and now?"]
    assert not any("Blocked by guardrail" in text for text in context)


async def test_an_input_block_is_typed_and_has_no_answer_text() -> None:
    session = ChatSession(Settings(provider="echo", echo_rate=0, guards="profanity=block"))
    done = (await answer_events(session, "you shit"))[-1]
    assert isinstance(done, Done) and done.block is not None
    assert done.text == ""
    assert done.shown() == done.block.line()
    assert session.history == []


async def test_a_blocked_answers_stats_name_the_providers_own_model() -> None:
    session = _scripted(("one ", "two ", "shit ", "four ", "five"), guards="profanity=block")
    done = (await answer_events(session, "count"))[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.stats.model == "custom-model-v2"  # not the registry's default for the provider


async def test_a_blocked_answers_stats_follow_openai_model(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{scripted.url}/v1")
    monkeypatch.setenv("OPENAI_MODEL", "my-finetune")
    words = ["Well ", "that is ", "shit", " and ", "more ", "words ", "here."]
    scripted.enqueue(Reply.sse(openai_stream(words), done=True))
    session = ChatSession(Settings(provider="openai", guards="profanity=block"))
    done = (await answer_events(session, "hi"))[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.stats.model == "my-finetune"
