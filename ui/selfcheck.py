"""The optional self-check in the chat UI: a "Self-check" Step under the answer once it has ended.

The check runs as a task of the session (``chat.selfcheck``), not as the
message handler's: Chainlit ends the answer's task (and its Stop button) at
``Done``, so the user can read and ask on at once; a new question, Continue,
Stop and the end of the session cancel it.
"""

from __future__ import annotations

from chat import selfcheck
from chat.session import ChatSession, Turn
from ui import notes


def start(turn: Turn) -> None:
    """Start ``turn``'s self-check, if its settings ask for one, reporting under the answer just rendered."""
    answer_notes = notes.latest()
    if answer_notes is not None:
        selfcheck.start(turn, answer_notes.self_check)


def stop(session: ChatSession) -> None:
    """Cancel the session's running self-check (Stop, the session ended)."""
    session.cancel_selfcheck()
