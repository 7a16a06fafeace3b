"""Keys entered in the panel never reach the thread's stored settings, even in the window before they are scrubbed.

Chainlit copies the panel's values into the session's ``chat_settings`` and
only then, after an await of its own (``task_start``), calls the handler that
takes the key fields out.  A message handled in that window stores
``chat_settings`` with the thread: the key must not be in what it stores.
"""

from __future__ import annotations

import json

from chainlit.context import context

from tests.ui.test_history_ui import Persisted, db, say, settle  # noqa: F401 - db is a fixture
from ui import threads

KEY = "sk-user-window-0123456789abcdef"


async def test_the_settings_stored_with_a_thread_never_hold_a_key(db: Persisted) -> None:  # noqa: F811
    import app

    await db.page()
    await app.start()
    await say("hello")
    await settle()
    # As Chainlit leaves it between its copy of the panel's values and the handler's scrub:
    context.session.chat_settings = {"provider": "echo", "temperature": "0.2", "openai_api_key": KEY}
    await threads.save_settings()  # what a message handled in that window does first
    await settle()
    thread = await db.layer.get_thread(context.session.thread_id)
    assert thread is not None and thread["metadata"]["chat_settings"]["temperature"] == "0.2", thread
    assert KEY not in json.dumps(thread, default=str)
