"""A live answer tells its provider whether anyone is watching it (issue 14, item 5)."""

from __future__ import annotations

import asyncio

from chat.live import LiveAnswers
from tests.chat.test_live import Gate, gated_turn


async def test_the_provider_sees_the_answer_unwatched_when_its_last_follower_leaves_and_watched_again() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    live = LiveAnswers(grace=60, retention=0)
    turn = session.start("hello")
    answer = live.start(turn)
    events = answer.follow(0)
    gate.set()
    await anext(events)
    audience = provider.calls[0].params.audience
    assert audience is turn.audience and audience is not None and audience.watched
    await events.aclose()  # the tab closed: the answer runs on (grace) but nobody watches it
    assert not audience.watched
    again = answer.follow(0)
    await anext(again)
    assert audience.watched, "a page that follows it again is watching"
    await again.aclose()
    answer.cancel()
    await answer.wait()


async def test_two_followers_one_leaving_keeps_the_answer_watched() -> None:
    gate = Gate()
    session, provider = gated_turn(gate)
    live = LiveAnswers(grace=60, retention=0)
    turn = session.start("hello")
    answer = live.start(turn)
    first, second = answer.follow(0), answer.follow(0)
    gate.set()
    await anext(first)
    await anext(second)
    await first.aclose()
    assert turn.audience.watched
    await second.aclose()
    assert not turn.audience.watched
    answer.cancel()
    await asyncio.wait({answer.task})
