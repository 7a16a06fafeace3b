"""Assembling a turn's pipeline from a session's settings.

A stage takes the event stream and returns a new one (guardrails redact or
block, buffering coalesces deltas).  Data flows one way::

    user message -> input screen -> provider -> runner -> guardrail stage -> buffering stage -> sink

A stage must pass through events it does not handle, end with the upstream's
``Done``/``Failed`` (possibly with updated stats), and close its upstream when
it stops early, so the provider stops within one token.

This is the one place that knows both the engine and the guardrails: the
engine (``agents``) never imports ``guardrails``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence

from agents import coalesce
from agents.events import Event
from agents.providers.base import Provider
from chat.settings import Settings
from guardrails import config as guard_config
from guardrails.hallucination import HallucinationGuardrail, confidence_stage
from guardrails.input import Screened, screen_turn
from guardrails.stream import Release, guard_stage

EventStream = AsyncGenerator[Event, None]
Stage = Callable[[EventStream], EventStream]


def stages_for(settings: Settings, provider: Provider) -> list[Stage]:
    """The stages ``settings`` ask for, in the order events flow through them.

    ``provider`` labels the stats of an answer a guardrail blocks mid-stream.
    """
    stages: list[Stage] = []
    built = [g for g in guard_config.build(settings.guards) if "output" in g.where]
    release: Release = "stream_first" if settings.release == "stream_first" else "hold_back"
    for check in built:  # the hallucination check reads the runner's token log-probabilities: first
        if isinstance(check, HallucinationGuardrail):
            stages.append(confidence_stage(check, release, provider=provider.name))
    guards = [g for g in built if not isinstance(g, HallucinationGuardrail)]
    if guards:  # guardrails: right after the runner, so only cleared text flows on
        stages.append(guard_stage(guards, release, provider=provider.name, model=provider.model))
    stages.append(coalesce.Coalesce(settings.buffer))  # buffering: last, right before the sink
    return stages


def apply(events: EventStream, stages: list[Stage]) -> EventStream:
    """Chain ``stages`` onto ``events``."""
    for stage in stages:
        events = stage(events)
    return events


async def screen_input(
    earlier: Sequence[str], text: str, settings: Settings, provider: Provider
) -> tuple[list[str], Screened]:
    """Check the user's message, and earlier messages that came from outside, with the input guardrails.

    Returns the earlier messages as the model may see them (redacted) and the new message's ``Screened``.
    """
    guards = guard_config.build(settings.guards)
    return await screen_turn(earlier, text, guards, provider=provider.name, model=provider.model)
