"""PII: Microsoft Presidio, set up to run fully offline.

- No spaCy model is loaded or downloaded: the analyzer uses Presidio's
  ``NoOpNlpEngine`` and only self-contained recognizers (regex + checksums,
  python-phonenumbers for phones).
- The e-mail recognizer validates domains with tldextract, whose default
  extractor fetches the public suffix list from the network; ours uses the
  snapshot bundled with tldextract (``suffix_list_urls=()``, no cache dir).

Entities: e-mail, phone, credit card (Luhn), IBAN (checksum), IP (v4/v6), US SSN.
Findings are replaced by Presidio's ``<ENTITY_TYPE>`` placeholders.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from guardrails.base import Action, GuardSpec, Span, Verdict, register
from guardrails.holdback import trailing_hold

NAME = "pii"
ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
#: Weak patterns (a bare 9-digit number as an SSN scores 0.05) stay below this.
SCORE_THRESHOLD = 0.3
#: Longest PII text we promise to catch whole in a stream (an e-mail may be longer; it is then caught in part).
MAX_MATCH = 128

_LOCK = threading.Lock()
# Where a phone number could be: an optional +, then 7+ digits with separators between them.
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d(?:[ \t().\-/]{0,3}\d){6,}\)?")
# Every entity we detect has a digit or an '@' in it; text with neither needs no analysis.
_MAYBE_PII = re.compile(r"[0-9@]")
# A token that may be part of a PII value: has a digit or '@', is an IBAN-like upper-case group, or is a
# separator between digit groups.
_PIIISH = re.compile(r".*[0-9@].*|[A-Z0-9]{1,4}|[-–.()/+:]+", re.DOTALL)


@lru_cache(maxsize=1)
def _offline_tld() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def analyzer() -> Any:
    """The shared, offline ``AnalyzerEngine`` (built once per process, thread-safe)."""
    with _LOCK:
        return _build_analyzer()


@lru_cache(maxsize=1)
def _build_analyzer() -> Any:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer, validating domains against the bundled suffix list."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(_offline_tld()(pattern_text).fqdn)

    class CandidatePhoneRecognizer(PhoneRecognizer):
        """Presidio's phone recognizer, run only on digit runs that could be phone numbers.

        python-phonenumbers scans the whole text once per region (about 0.5 ms per region
        per 140 characters); running it on candidates only, and remembering the answer for a
        candidate (a stream window re-reads its context on every token), keeps checks cheap.
        """

        _seen: dict[str, list[tuple[int, int, float]]] = {}

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            found = []
            for m in _PHONE_CANDIDATE.finditer(text):
                spans = self._seen.get(m.group())
                if spans is None:
                    if len(self._seen) > 4096:
                        self._seen.clear()
                    spans = [(r.start, r.end, r.score) for r in super().analyze(m.group(), entities, nlp_artifacts)]
                    self._seen[m.group()] = spans
                for start, end, score in spans:
                    found.append(RecognizerResult("PHONE_NUMBER", start + m.start(), end + m.start(), score))
            return found

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        OfflineEmailRecognizer(),
        CandidatePhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def detect(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, entity_type)`` findings; the higher score, then the longer, wins."""
    if not _MAYBE_PII.search(text):
        return []
    results = analyzer().analyze(text, language="en", entities=list(ENTITIES), score_threshold=SCORE_THRESHOLD)
    chosen: list[tuple[int, int, str]] = []
    results = [r for r in results if not _implausible(text, r.start, r.end, r.entity_type)]
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if all(r.end <= a or r.start >= b for a, b, _ in chosen):
            chosen.append((r.start, r.end, r.entity_type))
    return sorted(chosen)


_PHONE_CONTEXT = re.compile(
    r"\b(phone|call|tel|mobile|cell|fax|whatsapp|sms|text|number|dial)\b(?:\W+\S+){0,3}?\W*$", re.I
)


def _implausible(text: str, start: int, end: int, kind: str) -> bool:
    """Matches Presidio accepts that are nearly always something else (versions, ids)."""
    if kind == "IP_ADDRESS":
        # 1.2.3.4.5 or 10.0.19045.1234.7 is a version or build number, not an address.
        return bool(re.match(r"\.\d", text[end : end + 2]) or re.search(r"\d\.$", text[max(0, start - 2) : start]))
    if kind == "PHONE_NUMBER":
        value, before = text[start:end], text[max(0, start - 40) : start]
        if before[-1:].isalnum() or before[-1:] in {"-", "#", "/", "_"}:
            return True  # the tail of an identifier such as ORD-2024-000123
        said = bool(_PHONE_CONTEXT.search(before))
        digits = sum(c.isdigit() for c in value)
        if value.isdigit() or (digits < 9 and not value.startswith("+")):
            # A bare or short run of digits is an order id or a count unless the text says it is a phone number.
            return not said
    return False


def anonymize(text: str) -> str:
    """``text`` run through Presidio's own anonymizer with the same findings (a cross-check of ``redact``)."""
    from presidio_analyzer import RecognizerResult
    from presidio_anonymizer import AnonymizerEngine

    results = [RecognizerResult(kind, a, b, 1.0) for a, b, kind in detect(text)]
    return str(AnonymizerEngine().anonymize(text=text, analyzer_results=results).text)  # type: ignore[arg-type]


class PiiGuardrail:
    """Finds personal data with Presidio; redacts it as ``<ENTITY_TYPE>``, blocks, or warns."""

    name = NAME
    where = frozenset({"input", "output"})
    max_match = MAX_MATCH
    slow = True

    def __init__(self, action: Action = "redact") -> None:
        self.action: Action = action

    def warm(self) -> None:
        """Build the analyzer now (about a second), so the first check is fast."""
        analyzer()

    def check(self, text: str) -> Verdict:
        """Judge ``text``."""
        spans = []
        for start, end, kind in detect(text):
            reason = f"The message contains personal data ({kind})."
            replacement = f"<{kind}>" if self.action == "redact" else None
            spans.append(Span(start, end, NAME, replacement, self.action, reason))
        return Verdict.from_spans(NAME, spans)

    def hold(self, text: str) -> int:
        """The trailing partial token plus any trailing tokens that could belong to one PII value."""
        return trailing_hold(text, self.max_match, lambda word: _PIIISH.fullmatch(word) is not None)


register(
    GuardSpec(NAME, lambda action: PiiGuardrail(action or "redact"), default_action="redact", label="Personal data")
)
