"""Stages between the runner and a sink.

A stage takes the event stream and returns a new one (guardrails redact or
block, buffering coalesces deltas).  Data flows one way:

    provider -> runner -> guardrail stage -> buffering stage -> sink

A stage must pass through events it does not handle, end with the upstream's
``Done``/``Failed`` (possibly with updated stats), and close its upstream when
it stops early, so the provider stops within one token.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

from agents import coalesce as _coalesce
from agents.events import Event
from agents.settings import Settings

EventStream = AsyncGenerator[Event, None]
Stage = Callable[[EventStream], EventStream]


def stages_for(settings: Settings) -> list[Stage]:
    """The stages a session's settings ask for, in the order events flow through them."""
    stages: list[Stage] = []
    from guardrails.stream import stage_for as _guard_stage  # late: guardrails import the settings

    if (guard := _guard_stage(settings)) is not None:
        stages.append(guard)  # guardrails: right after the runner, so only cleared text flows on
    stages.append(_coalesce.Coalesce(settings.buffer))  # buffering: last, right before the sink
    return stages


def apply(events: EventStream, stages: list[Stage]) -> EventStream:
    """Chain ``stages`` onto ``events``."""
    for stage in stages:
        events = stage(events)
    return events
