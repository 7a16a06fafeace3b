"""The optional self-check, run for a session's answer once it has ended (issue 18 item 4).

``Settings.selfcheck`` (N samples, 0 = off) asks for it.  It is started only
after the answer's ``Done`` has reached the sink, as a task of its own, so it
never delays the first token or the end of the answer; the sink gets one
``SelfChecked`` event when it ends.  A new question or Continue
(``ChatSession.start`` / ``continue_last``), Stop and the end of the session
cancel it.  A self-check that fails (a sample's error, a provider bug) is
reported as "self-check failed: ..." and flagged: never a pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from agents import observe
from agents.events import SelfChecked
from agents.providers.base import Audience
from agents.selfcheck import DEFAULT_THRESHOLD, self_check
from chat.session import Turn

log = logging.getLogger(__name__)


def wanted(turn: Turn) -> bool:
    """Whether ``turn``'s answer gets a self-check: it is on, and the answer ended complete with some text.

    An answer the token limit cut off is not finished: whole samples would disagree with its missing
    end, a false flag; Continue finishes it first.
    """
    stats = turn.stats
    return (
        turn.session.settings.selfcheck > 0
        and stats is not None
        and stats.outcome == "complete"
        and not stats.cut_off
        and bool(turn.text.strip())
        and bool(turn.prompt)
    )


async def check(turn: Turn) -> SelfChecked:
    """Run the self-check of ``turn``'s answer; a failure comes back as a flagged, unchecked result."""
    settings = turn.session.settings
    samples = settings.selfcheck
    # Log-probabilities on, so a provider that reports tokens gets its samples' cost counted.
    # The samples are background work: unwatched, so the embedded model serves anyone's answer
    # (another tab's question) before them instead of queueing it behind up to ten samples.
    params = dataclasses.replace(settings.params(), logprobs=True, audience=Audience(watched=False))
    try:
        found = await self_check(turn.provider, turn.prompt, turn.text, samples=samples, params=params)
    except Exception as err:  # fail closed: whatever went wrong, the answer is unchecked, not passed
        log.warning("self-check failed: %s", type(err).__name__)
        result = SelfChecked(None, True, DEFAULT_THRESHOLD, samples, samples, None, str(err) or type(err).__name__)
    else:
        result = SelfChecked(
            found.agreement, found.flagged(DEFAULT_THRESHOLD), DEFAULT_THRESHOLD, samples, found.requests, found.tokens
        )
    observe.self_checked(turn.provider.name, result)
    return result


def start(turn: Turn, handle: Callable[[SelfChecked], Awaitable[None]]) -> asyncio.Task[None] | None:
    """Start ``turn``'s self-check as the session's task, if wanted; ``handle`` gets its result.

    Call it once the answer's end has been shown.  The task is kept on the
    session so a new question (or ``cancel_selfcheck``) cancels it.
    """
    if not wanted(turn):
        return None

    async def run() -> None:
        await handle(await check(turn))

    turn.session.cancel_selfcheck()
    task = asyncio.get_running_loop().create_task(run(), name="selfcheck")
    turn.session.selfcheck = task
    task.add_done_callback(lambda done: _forget(turn, done))
    return task


def _forget(turn: Turn, task: asyncio.Task[None]) -> None:
    if turn.session.selfcheck is task:
        turn.session.selfcheck = None
    if not task.cancelled() and (err := task.exception()) is not None:
        log.error("self-check display failed: %s", type(err).__name__)
