"""Buttons under an answer: the **Continue** action that resumes an interrupted or cut-off answer."""

from __future__ import annotations

import chainlit as cl

#: The action name ``app.py`` registers its callback under.
CONTINUE = "continue_answer"


def continue_action() -> cl.Action:
    """The Continue button under an answer that gave up after its resume attempts or hit the token limit."""
    return cl.Action(
        name=CONTINUE, payload={}, label="Continue", icon="play",
        tooltip="Carry on this answer from where it stopped",
    )  # fmt: skip
