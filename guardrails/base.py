"""What a guardrail is: a pure ``check(text) -> Verdict``, plus the registry of guardrails by name.

A guardrail *detects* (spans of text that break its policy) and its configured
action decides what happens to them:

    block   the message stops; "[Blocked by guardrail: RULE]" and the reason are shown
    redact  each span is replaced (``Span.replacement``) before anyone sees it
    warn    the text passes unchanged; a verdict notice is shown
    flag    the text passes unchanged and is annotated (the hallucination check marks doubtful parts)

A guardrail plugs in as one new module in ``guardrails/`` that calls
``register(GuardSpec(...))`` at import time (``agents.plugins``); nothing in the
runner, the session or the UI needs to change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from agents.errors import InvalidSetting
from agents.plugins import Registry

Action = Literal["block", "redact", "warn", "flag"]
Decision = Literal["allow", "warn", "flag", "redact", "block"]
Where = Literal["input", "output"]

ACTIONS: tuple[Action, ...] = ("block", "redact", "warn")
_SEVERITY: dict[str, int] = {"allow": 0, "warn": 1, "flag": 1, "redact": 2, "block": 3}


@dataclass(frozen=True, slots=True)
class Span:
    """One finding: ``text[start:end]`` breaks ``rule``; ``replacement`` is ``None`` for flag-only (warn)."""

    start: int
    end: int
    rule: str
    replacement: str | None = None
    action: Decision = "redact"
    reason: str = ""

    def shifted(self, by: int) -> Span:
        """The same span moved ``by`` characters."""
        return Span(self.start + by, self.end + by, self.rule, self.replacement, self.action, self.reason)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of one check: allow, warn, redact (with spans) or block (with rule and reason)."""

    action: Decision = "allow"
    rule: str = ""
    reason: str = ""
    spans: tuple[Span, ...] = ()

    @classmethod
    def allow(cls) -> Verdict:
        """Nothing to object to."""
        return cls()

    @classmethod
    def block(cls, rule: str, reason: str, spans: Iterable[Span] = ()) -> Verdict:
        """Stop the message."""
        return cls("block", rule, reason, tuple(spans))

    @classmethod
    def from_spans(cls, rule: str, spans: Iterable[Span]) -> Verdict:
        """The verdict a set of findings adds up to: the most severe finding's action wins."""
        found = tuple(sorted(spans, key=lambda s: (s.start, s.end)))
        if not found:
            return cls()
        worst = max(found, key=lambda s: _SEVERITY[s.action])
        return cls(worst.action, worst.rule or rule, worst.reason, found)

    @property
    def allowed(self) -> bool:
        """True when the text passes unchanged and silently."""
        return self.action == "allow"

    def apply(self, text: str) -> str:
        """``text`` with every redacting span replaced (overlaps: the earlier span wins)."""
        return redact(text, self.spans)


def redact(text: str, spans: Iterable[Span]) -> str:
    """Replace each span that has a replacement; overlapping later spans are skipped."""
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.replacement is None or span.start < pos:
            continue
        out.append(text[pos : span.start])
        out.append(span.replacement)
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def severity(action: str) -> int:
    """Order of actions: allow < warn < redact < block."""
    return _SEVERITY[action]


@runtime_checkable
class Guardrail(Protocol):
    """A policy check.  ``check`` is pure; it may be slow (``slow``), then it runs off the event loop."""

    #: Registry name, shown as the rule in verdicts.
    name: str
    #: The configured action for what this guardrail finds.
    action: Action
    #: Where it applies: ``"input"``, ``"output"`` or both.
    where: frozenset[str]
    #: Longest text (in characters) a single finding can cover: the stream's context and hold-back bound.
    max_match: int
    #: True for checks costly enough to run in a worker thread.
    slow: bool

    def warm(self) -> None:
        """Load what ``check`` needs (a model, a word list); for ``slow`` guardrails it runs in a thread."""
        ...

    def check(self, text: str) -> Verdict:
        """Judge ``text`` as a whole."""
        ...

    def hold(self, text: str) -> int:
        """How many trailing characters of ``text`` could still grow into a finding (at most ``max_match``)."""
        ...


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """How to build one registered guardrail."""

    name: str
    factory: Callable[[Action | None], Guardrail]
    #: ``None``: the guardrail decides per finding (custom rules carry their own actions).
    default_action: Action | None
    label: str
    #: Actions that make sense for this guardrail (the panel offers these).
    actions: tuple[Action, ...] = ACTIONS
    where: frozenset[str] = field(default_factory=lambda: frozenset({"input", "output"}))
    #: A number the guardrail takes after its action (``hallucination=block:0.4``): its name, or "" for none.
    option: str = ""
    #: The option's default and its allowed range (inclusive).
    option_default: float | None = None
    option_range: tuple[float, float] = (0.0, 1.0)
    #: Builds the guardrail with an option value (``None``: the default); required when ``option`` is set.
    with_option: Callable[[Action | None, float | None], Guardrail] | None = None

    def parse_option(self, raw: str) -> float:
        """The option's value from its text; raises ``InvalidSetting`` naming the range."""
        low, high = self.option_range
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not self.option or not low <= value <= high:  # nan fails the comparison too
            expected = f"a number from {low:g} to {high:g}" if self.option else "no option"
            raise InvalidSetting(f"guard {self.name} {self.option or 'option'}", raw, expected)
        return value


def _unknown(name: str, known: list[str]) -> InvalidSetting:
    return InvalidSetting("guards", name, f"one of {', '.join(known)}")


GUARDRAILS: Registry[GuardSpec] = Registry("guardrail", "guardrails", _unknown)


def register(spec: GuardSpec, *, replace: bool = False) -> GuardSpec:
    """Add a guardrail under ``spec.name`` (``DuplicatePlugin`` if taken, unless ``replace``)."""
    return GUARDRAILS.register(spec.name, spec, replace=replace)


def get(name: str) -> GuardSpec:
    """The spec registered as ``name``; raises ``InvalidSetting``."""
    return GUARDRAILS.get(name)


def names() -> list[str]:
    """Registered guardrail names, sorted."""
    return sorted(GUARDRAILS.names())


def create(name: str, action: str | None = None) -> Guardrail:
    """Build guardrail ``name`` with ``action`` (default: its own; ``ACTION:OPTION`` too); raises ``InvalidSetting``."""
    spec = get(name)
    action, colon, raw = (action or "").partition(":")
    if colon and spec.with_option is not None:
        value = spec.parse_option(raw)
        chosen_action = action or spec.default_action
        if chosen_action is not None and chosen_action not in spec.actions:
            raise InvalidSetting(f"guard {name}", chosen_action, f"one of {', '.join(spec.actions)}")
        return spec.with_option(chosen_action, value)  # type: ignore[arg-type]
    if colon:
        spec.parse_option(raw)  # raises: this guardrail takes no option
    chosen = action or spec.default_action
    if chosen is not None and chosen not in spec.actions:
        raise InvalidSetting(f"guard {name}", chosen, f"one of {', '.join(spec.actions)}")
    return spec.factory(chosen)  # type: ignore[arg-type]
