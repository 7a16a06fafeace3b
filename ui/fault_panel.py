"""The "Simulate failure" and resume widgets of the settings panel, folded into ``Settings`` fields.

The panel shows a mode (off, once at token N, every N tokens, with probability
p), a kind, N, p and a repeat count; ``to_settings`` folds them into the one
``fault`` spec string the CLI also uses (``agents.faults``).  The retry
settings (attempts, stall timeout, failover) map one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainlit.input_widget import InputWidget, Select, Slider, TextInput

from agents.errors import InvalidSetting
from agents.faults import FaultSpec, parse_fault
from chat.settings import Settings

OFF = "off"
#: Mode label -> mode (``off`` or a ``FaultSpec.mode``).
MODES = {
    "Off": OFF,
    "Once at token N": "once",
    "Every N tokens": "every",
    "With probability p per token": "probability",
}
KIND_LABELS = {
    "Disconnect": "disconnect",
    "Stall (no tokens)": "stall",
    "Rate limit (429)": "rate_limit",
    "Server error (5xx)": "server_error",
}
_FAULT_IDS = ("fault_mode", "fault_kind", "fault_n", "fault_p", "fault_count")
_RETRY_IDS = ("retries", "stall_timeout", "failover")


def field_ids() -> tuple[str, ...]:
    """The widget ids this module adds to the panel."""
    return (*_FAULT_IDS, *_RETRY_IDS)


def widgets(settings: Settings) -> list[InputWidget]:
    """The widgets, showing ``settings``."""
    spec = parse_fault(settings.fault) or FaultSpec()
    mode = OFF if settings.fault.strip().lower() in {"", OFF, "none"} else spec.mode
    return [
        Select(id="fault_mode", label="Simulate failure", items=MODES, initial_value=mode),
        Select(id="fault_kind", label="Failure kind", items=KIND_LABELS, initial_value=spec.kind),
        TextInput(
            id="fault_n", label="Failure at token N / every N tokens", initial=str(spec.at or 20),
            description="once: after N tokens; every: after each N tokens",
        ),  # fmt: skip
        Slider(
            id="fault_p", label="Failure probability p per token", initial=spec.probability or 0.05,
            min=0.01, max=1, step=0.01,
        ),  # fmt: skip
        TextInput(
            id="fault_count", label="Failures in a row at each place", initial=str(spec.count),
            description="more than the resume attempts: the answer stops and Continue appears",
        ),  # fmt: skip
        Slider(id="retries", label="Resume attempts", initial=settings.retries, min=0, max=10, step=1),
        TextInput(
            id="stall_timeout", label="Stall timeout, seconds (0 = off)", initial=f"{settings.stall_timeout:g}",
            description="no token for this long counts as a dropped connection",
        ),  # fmt: skip
        TextInput(
            id="failover", label="Failover providers (comma-separated, blank: none)", initial=settings.failover,
            description="a broken answer continues on the next one",
        ),  # fmt: skip
    ]


def to_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Panel values with the ``fault_*`` widgets folded into one ``fault`` spec string."""
    out = {k: v for k, v in values.items() if k not in _FAULT_IDS}  # emptied boxes: settings.coerce
    if "fault_mode" not in values:
        return out
    mode = str(values.get("fault_mode") or OFF)
    if mode == OFF:
        out["fault"] = OFF
        return out
    kind = str(values.get("fault_kind") or "disconnect")
    count = str(values.get("fault_count") or "1").strip()
    n = str(values.get("fault_n") or "").strip()
    if mode in {"once", "every"} and not n:
        raise InvalidSetting("failure token N", "", "a whole number of tokens, 0 or more")
    match mode:
        case "once":
            where = n
        case "every":
            where = f"every{n}"
        case _:
            try:
                where = f"p{float(values.get('fault_p') or 0):g}"
            except (TypeError, ValueError):
                raise InvalidSetting("fault probability", values.get("fault_p"), "a number above 0") from None
    out["fault"] = f"{kind}@{where}" + ("" if count == "1" else f"x{count}")
    return out
