"""Two tabs on one thread stay one conversation (the hostile probe: they drifted apart until a reload).

Tab B, when it next sends, answers from the stored thread, shows tab A's new question and answer before its own,
and follows A's answer to its end if it is still streaming.  Real SQLite data layer, Chainlit handlers.
"""

# ruff: noqa: F811 - ``db`` is the fixture of test_history_ui, used by name

from __future__ import annotations

import asyncio
from typing import Any

from chainlit.context import init_ws_context

import app
from agents.providers.base import ChatMessage
from tests.fakes import ScriptedProvider
from tests.ui.test_history_reload import use
from tests.ui.test_history_ui import (
    Page,
    Persisted,
    db,  # noqa: F401 - the fixture
    say,
    settle,
)
from ui import live_view


def _on(page: Page) -> Any:
    """Make ``page`` the current Chainlit context; its chat session."""
    init_ws_context(page.session)
    return app._session()


async def _two_tabs(db: Persisted) -> tuple[Page, Page]:
    """Tab A asked "alpha"; tab B opened the same thread."""
    a = await db.page()
    await app.start()
    app._session().update(echo_rate=0)
    await say("alpha")
    await settle()
    thread = await db.layer.get_thread(a.session.thread_id)
    b = await db.page(a.session.thread_id)
    await app.resume_thread(thread)  # type: ignore[arg-type]
    await settle()
    return a, b


def _order(page: Page, *texts: str) -> list[str]:
    """The texts as they were (last) put on this page's screen, in order, of those given."""
    seen: list[str] = []
    for event, data in page.socket.events:
        if event in ("new_message", "stream_start") and data.get("output") in texts:
            seen = [t for t in seen if t != data["id"]] + [data["id"]]
    names = {data["id"]: data["output"] for e, data in page.socket.events if e in ("new_message", "stream_start")}
    return [names[i] for i in seen]


async def test_tab_b_answers_from_the_stored_thread_and_shows_what_tab_a_added(db: Persisted) -> None:
    a, b = await _two_tabs(db)
    _on(a)
    await say("beta")  # in tab A
    await settle()

    model = ScriptedProvider(("fine",))
    _on(b).update(echo_rate=0)
    use(model)
    await say("gamma")  # in tab B, which never saw "beta"
    await settle()
    sent = [(m.role, m.content) for m in model.calls[0].messages if m.role != "system"]
    assert sent == [("user", "alpha"), ("assistant", "alpha"), ("user", "beta"), ("assistant", "beta"),
                    ("user", "gamma")]  # fmt: skip
    assert app._session().history[-2:] == [ChatMessage("user", "gamma"), ChatMessage("assistant", "fine")]
    assert _order(b, "beta", "gamma", "fine") == ["beta", "beta", "gamma", "fine"]  # A's exchange, then B's


async def test_tab_b_follows_tab_a_answer_still_streaming_then_answers_after_it(db: Persisted) -> None:
    a, b = await _two_tabs(db)
    words = " ".join(f"w{i}" for i in range(40))
    session_a = _on(a)
    session_a.update(echo_rate=40, buffer="token")  # 1 s at 40 tok/s
    streaming = asyncio.create_task(say(words))  # in tab A
    while (watched := live_view.watching(a.session.thread_id)) is None or watched.answer.last_id < 3:
        await asyncio.sleep(0.02)

    model = ScriptedProvider(("after", " it"))
    _on(b).update(echo_rate=0)
    use(model)
    await say("and now?")  # in tab B, while A's answer streams
    await asyncio.wait_for(streaming, 10)
    await settle()
    assert watched.answer.finished and watched.answer.turn.stats is not None
    assert watched.answer.turn.stats.outcome == "complete"  # B did not stop or restart it
    opened = [d["output"] for d in b.socket.named("stream_start") if d["id"] == watched.message_id]
    tokens = [t["token"] for t in b.socket.named("stream_token") if t["id"] == watched.message_id]
    assert "".join(opened + tokens) == words  # followed on tab B: nothing lost, nothing repeated
    sent = [(m.role, m.content) for m in model.calls[0].messages if m.role != "system"]
    assert sent[-3:] == [("user", words), ("assistant", words), ("user", "and now?")]
    assert _order(b, words, "and now?", "after it")[-2:] == ["and now?", "after it"]
