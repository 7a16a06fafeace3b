"""The table of a message's guardrail verdicts (rule, action, where, check time), shown in a Step by ``ui.notes``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ui.markdown import escape

STEP_NAME = "Guardrails"


def table(verdicts: Sequence[Mapping[str, Any]]) -> str:
    """The verdicts as a Markdown table."""
    lines = ["| rule | action | where | check time | reason |", "| --- | --- | --- | --- | --- |"]
    for v in verdicts:
        count = int(v.get("count", 1) or 1)
        action = f"{v.get('action', '')}" + (f" ×{count}" if count > 1 else "")
        reason = escape(str(v.get("reason", "")).replace("|", "\\|"))
        ms = float(v.get("ms", 0) or 0)
        lines.append(f"| {v.get('rule', '')} | {action} | {v.get('where', '')} | {ms:.1f} ms | {reason} |")
    return "\n".join(lines)
