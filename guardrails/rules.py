"""Custom policies from a TOML file users edit: blocked terms and regexes, each with its action and message.

The file is ``guardrails/policies.toml`` unless ``GUARD_POLICIES`` names another;
``guardrails/policies.toml`` documents the format.  It is re-read when its
modification time changes, so an edit applies to the next message.  A broken
file raises ``InvalidSetting`` when the guardrail is built (so the user sees
one clear line) and, in the middle of a stream, blocks (fail closed).

Hold-back for a regex uses the ``regex`` module's partial matching: only a
tail that could still become a match is held.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from agents.errors import InvalidSetting
from guardrails.base import ACTIONS, Action, GuardSpec, Span, Verdict, register, severity
from guardrails.normalize import normalize

NAME = "rules"
DEFAULT_PATH = Path(__file__).with_name("policies.toml")
DEFAULT_MAX_LENGTH = 100


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy: a compiled pattern plus what to do when it matches."""

    name: str
    pattern: Any  # regex.Pattern
    on_normalized: bool
    action: Action
    message: str
    replacement: str
    max_length: int


def policies_path() -> Path:
    """The policies file in force."""
    return Path(os.environ.get("GUARD_POLICIES") or DEFAULT_PATH)


def _bad(path: Path, problem: str) -> InvalidSetting:
    return InvalidSetting("GUARD_POLICIES", str(path), f"a valid policies file ({problem})")


def parse(data: dict[str, Any], path: Path = DEFAULT_PATH) -> list[Rule]:
    """Rules from a parsed TOML document; raises ``InvalidSetting`` naming the problem."""
    rules: list[Rule] = []
    for n, entry in enumerate(data.get("rules", []), 1):
        name = str(entry.get("name") or f"rule-{n}")
        action = entry.get("action", "block")
        if action not in ACTIONS:
            raise _bad(path, f"rule {name}: action must be one of {', '.join(ACTIONS)}")
        terms, pattern = entry.get("terms"), entry.get("regex")
        if bool(terms) == bool(pattern):
            raise _bad(path, f"rule {name}: give either terms or regex")
        try:
            if terms:
                words = [normalize(str(t)).text.strip() for t in terms]
                alternation = "|".join(regex.escape(w).replace("\\ ", r"\s+") for w in sorted(words, key=len)[::-1])
                compiled = regex.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
                longest = max(len(w) for w in words) * 2
            else:
                compiled = regex.compile(str(pattern))
                longest = int(entry.get("max_length", DEFAULT_MAX_LENGTH))
        except regex.error as err:
            raise _bad(path, f"rule {name}: {err}") from None
        rules.append(
            Rule(
                name=name,
                pattern=compiled,
                on_normalized=bool(terms),
                action=action,
                message=str(entry.get("message") or f"Matches the {name} policy."),
                replacement=str(entry.get("replacement", "[redacted]")),
                max_length=max(1, longest),
            )
        )
    return rules


_CACHE: dict[Path, tuple[float, list[Rule]]] = {}


def load(path: Path | None = None) -> list[Rule]:
    """The rules in ``path`` (default: ``policies_path()``), re-read when the file changes."""
    path = path or policies_path()
    try:
        mtime = path.stat().st_mtime
        cached = _CACHE.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(path, "file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise _bad(path, str(err)) from None
    rules = parse(data, path)
    _CACHE[path] = (mtime, rules)
    return rules


class RulesGuardrail:
    """Applies the user's policies; ``action`` (if given) overrides every rule's own action."""

    name = NAME
    where = frozenset({"input", "output"})
    slow = False

    def __init__(self, action: Action | None = None, rules: list[Rule] | None = None) -> None:
        self.rules = rules if rules is not None else load()
        self.override = action
        own: list[Action] = [r.action for r in self.rules] or ["warn"]
        self.action: Action = action if action is not None else max(own, key=severity)
        self.max_match = max((r.max_length for r in self.rules), default=1)

    def warm(self) -> None:
        """Nothing to load."""

    def check(self, text: str) -> Verdict:
        """Judge ``text`` against every rule."""
        spans: list[Span] = []
        norm = None
        for rule in self.rules:
            action = self.override or rule.action
            replacement = rule.replacement if action == "redact" else None
            if rule.on_normalized:
                norm = norm or normalize(text)
                for m in rule.pattern.finditer(norm.text):
                    a, b = norm.raw_span(m.start(), m.end())
                    spans.append(Span(a, b, rule.name, replacement, action, rule.message))
            else:
                for m in rule.pattern.finditer(text):
                    spans.append(Span(m.start(), m.end(), rule.name, replacement, action, rule.message))
        return Verdict.from_spans(NAME, spans)

    def hold(self, text: str) -> int:
        """The shortest tail that could still grow into a match (partial matching), at most ``max_match``."""
        tail = text[-self.max_match :]
        hold = 0
        norm = None
        for rule in self.rules:
            subject = tail
            if rule.on_normalized:
                norm = norm or normalize(tail)
                subject = norm.text
            for m in rule.pattern.finditer(subject, partial=True):
                if m.partial:
                    start = norm.raw_span(m.start(), m.end())[0] if rule.on_normalized and norm else m.start()
                    hold = max(hold, len(tail) - start)
                    break
        return hold


register(GuardSpec(NAME, lambda action: RulesGuardrail(action), default_action=None, label="Custom policies"))
