"""Driving ``StreamGuard`` by hand, as the guard stage does, for the leak tests (no tests here)."""

from __future__ import annotations

from collections.abc import Sequence

from agents.events import TextDelta
from guardrails.base import Guardrail
from guardrails.stream import StreamGuard, run_checks


def hold_back_stream(guards: Sequence[Guardrail], chunks: Sequence[str]) -> tuple[str, str]:
    """(text shown, final text) of a hold_back stream over ``chunks``; a block ends it."""
    sg = StreamGuard(guards, "hold_back")
    shown: list[str] = []
    for chunk in chunks:
        shown.append(sg.feed(chunk))
        if (w := sg.window()) is not None:
            out = sg.commit(w, run_checks(sg.guards, w.text))
            shown.extend(e.text for e in out.events if isinstance(e, TextDelta))
            if out.blocked is not None:
                return "".join(shown), sg.text
    if (w := sg.window(final=True)) is not None:
        out = sg.commit(w, run_checks(sg.guards, w.text))
        shown.extend(e.text for e in out.events if isinstance(e, TextDelta))
    return "".join(shown), sg.text
