"""A self-check's samples are background work: the embedded model serves anyone's answer before them.

Ten samples on the embedded model would otherwise fill its slots and queue
ahead of a second tab's question (an audience of ``None`` counts as watched).
"""

from __future__ import annotations

from agents.events import Event
from chat import selfcheck
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider

CHUNKS = ("Paris", " is", " the capital.")


async def _ignore(event: Event) -> None:
    pass


async def test_samples_reach_the_provider_as_unwatched_while_the_answer_itself_was_watched() -> None:
    provider = ScriptedProvider(CHUNKS)
    session = ChatSession(Settings(provider="echo", selfcheck=3))
    session._provider = provider  # type: ignore[assignment]  # the fake stands in for the registry's provider
    session._provider_key = ("echo", None, session.settings.echo_rate)
    turn = session.start("What is the capital of France?")
    await turn.run(_ignore)
    task = selfcheck.start(turn, lambda result: _ignore(result))  # type: ignore[arg-type]
    assert task is not None
    await task
    answer, *samples = provider.calls
    assert answer.params.audience is not None and answer.params.audience.watched
    assert len(samples) == 3
    for call in samples:
        audience = call.params.audience
        assert audience is not None, "no audience reads as watched: samples would queue ahead of questions"
        assert not audience.watched
    assert answer.params.audience.watched, "the answer's own audience is left as it was"
