"""A page that followed another tab's answer to its end keeps it, not the stored checkpoint.

Seen in a loaded CI run: tab B followed tab A's answer to its end, then took
the stored thread as its context before the answer's final write had landed;
the database still held the first checkpoint ("w0"), and the model was asked
with that instead of the whole answer.
"""

from __future__ import annotations

from agents.providers.base import ChatMessage
from ui.threads import ahead

Q = ChatMessage("user", "count")
FULL = ChatMessage("assistant", "w0 w1 w2")


def test_a_stored_checkpoint_of_the_last_answer_does_not_replace_the_whole_answer() -> None:
    assert ahead([Q, FULL], [Q, ChatMessage("assistant", "w0")])


def test_later_messages_make_a_page_ahead_as_before() -> None:
    assert ahead([Q, FULL, ChatMessage("user", "more")], [Q, FULL])
    assert ahead([Q], [])


def test_a_page_that_is_behind_or_differs_takes_the_stored_thread() -> None:
    assert not ahead([Q, FULL], [Q, FULL])  # the same: nothing to keep
    assert not ahead([Q], [Q, FULL])  # another tab added an answer
    assert not ahead([Q, ChatMessage("assistant", "w0")], [Q, FULL])  # the stored one is further on
    assert not ahead([Q, ChatMessage("assistant", "other")], [Q, ChatMessage("assistant", "w0")])  # an edit
    assert not ahead([ChatMessage("user", "edited"), FULL], [Q, FULL])
    assert not ahead([], [])
