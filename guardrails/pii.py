"""PII: Microsoft Presidio, set up to run fully offline, on normalized text.

- No spaCy model is loaded or downloaded: the analyzer uses Presidio's
  ``NoOpNlpEngine`` and only self-contained recognizers (regex + checksums,
  python-phonenumbers for phones).
- The e-mail recognizer validates domains with tldextract, whose default
  extractor fetches the public suffix list from the network; ours uses the
  snapshot bundled with tldextract (``suffix_list_urls=()``, no cache dir).
- Text is normalized first (``guardrails.normalize.normalize_pii``: fullwidth
  forms, any Unicode decimal digit, dashes and ideographic full stops,
  invisible characters, defanged ``[.]``/``[at]``, numbers split by line
  breaks or spaced digit by digit, look-alike letters in a Latin word) and
  every span is mapped back to the raw text.

Entities: e-mail, phone, credit card (Luhn), IBAN (checksum), IP (v4/v6), US SSN.
Findings are replaced by Presidio's ``<ENTITY_TYPE>`` placeholders.

Where stock Presidio was wrong on real text, a recognizer is narrowed or widened
here (each with the example that needed it in tests/test_guardrails_realtext.py):
dates, times and versions are never phone numbers; a phone's extension is part
of it; a local number counts after a context word ("call me on 9472 7916"); card
numbers of 13-19 digits from any issuer (2-series Mastercard) with any
separator; IBANs in lower case or dotted groups; IPs with leading zeros or a
trailing fifth group; e-mails next to CJK text or inside a URL's query; e-mails
spelled out ("john dot doe at example dot com"), whose action is a setting
(``GUARD_PII_OBFUSCATED``) because they can be deliberate.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from functools import lru_cache
from typing import Any

from guardrails.base import Action, GuardSpec, Span, Verdict, register
from guardrails.holdback import trailing_hold
from guardrails.normalize import normalize_pii

NAME = "pii"
ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
#: Weak patterns (a bare 9-digit number as an SSN scores 0.05) stay below this.
SCORE_THRESHOLD = 0.3
#: Longest PII text we promise to catch whole in a stream (an e-mail may be longer; it is then caught in part).
MAX_MATCH = 128
#: When two findings overlap, the more specific type wins (an SSN is not a phone number, a card is not one either).
#: An IBAN (checksum and country format) holds digit groups that can pass as a card number, so it ranks first.
PRIORITY = {"EMAIL_ADDRESS": 0, "IBAN_CODE": 1, "CREDIT_CARD": 2, "US_SSN": 3, "IP_ADDRESS": 4, "PHONE_NUMBER": 5}
#: Entity type given to e-mails written out to dodge filters; reported as EMAIL_ADDRESS.
OBFUSCATED = "EMAIL_ADDRESS_OBFUSCATED"

_LOCK = threading.Lock()
# Where a phone number could be: an optional +, then 7+ digits with separators between them.
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d(?:[ \t().\-/]{0,3}\d){6,}\)?")
# Every entity we detect has a digit, an '@' or a spelled-out "dot"; text with none needs no analysis.
_MAYBE_PII = re.compile(r"[\d@\uff20]|[\[({]\s*(?:at|dot)|\bdot\b", re.IGNORECASE)
# A token that may be part of a PII value: has a digit or '@', is an IBAN-like upper-case group, is a
# separator between digit groups, or introduces a phone extension.
_PIIISH = re.compile(r".*[\d@\uff20].*|[A-Z0-9]{1,4}|[-–.()/+:]+|(?i:x|ext\.?|extension)", re.DOTALL)
# Dates, times, year ranges and versions: never phone numbers, whatever python-phonenumbers thinks of their digits.
_NOT_PHONE = re.compile(
    r"(?=[0-9vrb])(?:"  # a cheap first-character test: the alternatives cost 3x without it
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?![-/.]?\d)(?:[T ]\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?)?"
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?![-/.]?\d)(?:[T ]\d{1,2}(?::\d{2}){1,2})?"
    r"|\b\d{1,2}(?::\d{2}){1,2}(?:[.,]\d+)?\b"
    r"|(?<![\d\-])(?:19|20)\d{2} ?- ?(?:19|20)\d{2}(?![\d\-])"  # a range of years ("2019–2024" once dashes fold)
    r"|\b(?:v|version\s?|release\s?|build\s?|rev\s?)\d+(?:\.\d+)+"
    r"|(?<![\d.])\d{1,2}\.\d{1,3}\.\d{1,5}(?![\d.])|(?<![\d.])\d{1,4}\.\d{1,4}\.\d{1,5}\.\d{1,5}(?![\d.]))",
    re.IGNORECASE,
)
# A word that says the next number is a phone number (the first, cheap form is a precheck for the second).
_PHONE_WORDS = (
    r"\b(phone|call|called|calling|tel|telephone|mobile|cell|fax|whatsapp|sms|text|number|dial|ring|reach|"
    r"answering|contact|landline|hotline)\b"
)
_PHONE_WORD = re.compile(_PHONE_WORDS, re.IGNORECASE)
_PHONE_CONTEXT = re.compile(_PHONE_WORDS + r"(?:\W+\S+){0,3}?\W*$", re.IGNORECASE)
# A word that says the next number is an identifier, whatever its digits look like.
_ID_CONTEXT = re.compile(
    r"\b(ref|reference|order|invoice|booking|ticket|case|tracking|po|sku|serial|id|confirmation)\b"
    r"(?:\W+(?:no|number|is|code|id|#))*\W*$",
    re.IGNORECASE,
)
# Single words that say "at" is a preposition, not an e-mail's at sign ("look at example dot com").
_NOT_LOCAL = frozenset(
    "look looking looked me us you him her them it here there stay staying stayed arrive arrived meet meeting met "
    "be is are was were go going went see find shop buy available online live living located based visit check up "
    "out work works worked working sit sat stand stood aim aimed point pointed stare stared glance glanced laugh "
    "laughed good great bad better best expert even once least most all not only just".split()
)
_SSN_CONTEXT = re.compile(r"\b(ssn|ssns|social security(?: number| no\.?)?|ss#)\W*(?:\w+\W+){0,3}?$", re.IGNORECASE)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}\b", re.IGNORECASE)
_IP_VERSION_CONTEXT = re.compile(r"\b(?:v|version|release|build|rev|firmware)\W{0,3}$", re.IGNORECASE)
# E-mail parts in Latin script only: \w would run an address into the CJK text around it.
_ALNUM = "A-Za-z0-9\u00c0-\u024f"
_EMAIL = (
    rf"(?<![{_ALNUM}._%+'\-])[{_ALNUM}_%+'\-](?:[{_ALNUM}._%+'\-]*[{_ALNUM}_%+'\-])?"
    rf"@[{_ALNUM}](?:[{_ALNUM}\-]*[{_ALNUM}])?(?:\.[{_ALNUM}](?:[{_ALNUM}\-]*[{_ALNUM}])?)*"
    rf"\.[A-Za-z\u00c0-\u024f]{{2,63}}(?![{_ALNUM}\-])"
)
# Spelled out: "john dot doe at example dot com" (brackets were undone by the normalizer).
# A "." with a space after it ends a sentence: "processed at once. By" is no e-mail at once.by; one with spaces on
# both sides is a spaced address ("ada.lovelace @ example . com").
_DOTW = r"(?:\.|\s+\.\s+|\s+dot\s+)"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.@])([a-z0-9_%+\-]+(?:{_DOTW}[a-z0-9_%+\-]+)*)(?:\s*@\s*|\s+at\s+)"
    rf"([a-z0-9\-]+(?:{_DOTW}[a-z0-9\-]+)*{_DOTW}[a-z]{{2,24}})(?![\w@])",
    re.IGNORECASE,
)
_SPELLED_WORD = re.compile(r"\s(?:dot|at)\s|[\[({]\s*(?:\.|dot|@|at)\s*[\])}]", re.IGNORECASE)
# In a stream: the tail may be a spelled-out e-mail still being written ("john dot doe at exa"), including a
# word that the next one may turn into one ("john ", "john d"), or a lower-case/dotted IBAN.
_TAIL_SPELLED = re.compile(
    r"(?<![a-z0-9_%+\-])(?:[a-z0-9_%+\-]+(?:\s*[.@]\s*|\s+(?:dot|at)\s+))*(?:[a-z0-9_%+\-]+(?:\s+(?:d|do|dot|a|at)?)?)?$",
    re.IGNORECASE,
)
# Cheap prechecks for the tail patterns.
_SPELLED_SEP = re.compile(r"\s(?:dot|at)\s|\s[@.]|@\s", re.IGNORECASE)
_TAIL_GAP = re.compile(r"(?<![a-z0-9_%+\-.])[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*\s+(?:d|do|dot|a|at)?$", re.IGNORECASE)
_GAP_END = re.compile(r"\s(?:d|do|dot|a|at)$", re.IGNORECASE)
_IBAN_START = re.compile(r"[A-Za-z]{2}\d{2}")
#: An IBAN still being written starts at most this far back (34 characters and its separators).
_IBAN_TAIL = 48
_LENIENT_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ .\-]?[A-Za-z0-9]{1,4}){3,9}(?![A-Za-z0-9])")
_TAIL_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ .\-]?[A-Za-z0-9]{1,4})*[ .\-]?$")


@lru_cache(maxsize=1)
def _offline_tld() -> Any:
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def analyzer() -> Any:
    """The shared, offline ``AnalyzerEngine`` (built once per process, thread-safe)."""
    with _LOCK:
        return _build_analyzer()


def _luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@lru_cache(maxsize=1)
def _build_analyzer() -> Any:
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer with a Latin-script pattern, validated against the bundled suffix list.

        Presidio's own pattern lets ``&``, ``=`` and ``/`` into the local part (a URL with
        ``&email=ada@example.com`` in its query was taken whole) and runs into CJK text.
        """

        PATTERNS = [Pattern("Email (Latin script)", _EMAIL, 0.5)]

        def validate_result(self, pattern_text: str) -> bool:
            return bool(_offline_tld()(pattern_text).fqdn)

    class CandidatePhoneRecognizer(PhoneRecognizer):
        """Presidio's phone recognizer, run only on digit runs that could be phone numbers.

        python-phonenumbers scans the whole text once per region (about 0.5 ms per region
        per 140 characters); running it on candidates only, and remembering the answer for a
        candidate (a stream window re-reads its context on every token), keeps checks cheap.
        Dates, times and versions are masked first; a run that phonenumbers rejects still
        counts when a context word introduces it ("call me on 9472 7916").
        """

        _seen: dict[str, list[tuple[int, int, float]]] = {}

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            found = []
            masked = _NOT_PHONE.sub(_mask, text)
            for m in _PHONE_CANDIDATE.finditer(masked):
                spans = self._seen.get(m.group())
                if spans is None:
                    if len(self._seen) > 4096:
                        self._seen.clear()
                    spans = [(r.start, r.end, r.score) for r in super().analyze(m.group(), entities, nlp_artifacts)]
                    self._seen[m.group()] = spans
                if not spans and 7 <= sum(c.isdigit() for c in m.group()) <= 15 and _said(text, m.start()):
                    spans = [(0, len(m.group()), 0.4)]
                for start, end, score in spans:
                    found.append(RecognizerResult("PHONE_NUMBER", start + m.start(), end + m.start(), score))
            return found

    class AnyIssuerCardRecognizer(PatternRecognizer):
        """Card numbers Presidio's pattern misses: 13-19 digits, 2-series Mastercard, any separator (Luhn-checked)."""

        def __init__(self) -> None:
            sep = r"(?:[ .\-/_]{1,2})?"
            pattern = rf"(?<![\w.\-+])[2-6]\d{{3}}{sep}\d{{2,6}}(?:{sep}\d{{2,6}}){{1,4}}(?![\w]|[.\-]\d)"
            super().__init__("CREDIT_CARD", patterns=[Pattern("Card (any issuer)", pattern, 0.3)], name="AnyCard")

        def validate_result(self, pattern_text: str) -> bool:
            seps = {c for c in pattern_text if not c.isdigit()}
            digits = "".join(c for c in pattern_text if c.isdigit())
            return len(seps) <= 1 and 13 <= len(digits) <= 19 and _luhn(digits)

    class LenientIbanRecognizer(PatternRecognizer):
        """IBANs in lower case or with dotted groups, checked by Presidio's own IBAN checksum and formats."""

        def __init__(self) -> None:
            pattern = _LENIENT_IBAN.pattern
            super().__init__("IBAN_CODE", patterns=[Pattern("IBAN (lenient)", pattern, 0.5)], name="LenientIban")
            self._stock = IbanRecognizer()

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> list:
            found = []
            for m in _LENIENT_IBAN.finditer(text):
                groups = re.split(r"[ .\-]", m.group())
                # An IBAN followed by an ordinary word ("... 00 today"): try shorter runs of groups.
                for n in range(len(groups), 0, -1):
                    compact = "".join(groups[:n]).upper()
                    if len(compact) >= 15 and self._stock.validate_result(compact) is True:
                        length = len(" ".join(groups[:n]))
                        found.append(RecognizerResult("IBAN_CODE", m.start(), m.start() + length, 1.0))
                        break
            return found

    class LeadingZeroIpRecognizer(IpRecognizer):
        """Presidio's IP recognizer, also accepting IPv4 octets with leading zeros (``192.168.001.010``)."""

        def invalidate_result(self, pattern_text: str) -> bool:
            if re.fullmatch(r"[0-9.]+(?:/\d+)?", pattern_text):
                address, _, mask = pattern_text.partition("/")
                pattern_text = ".".join(str(int(o)) for o in address.split(".")) + (f"/{mask}" if mask else "")
            try:
                ipaddress.ip_interface(pattern_text)
            except ValueError:
                return True
            return False

    class ContextSsnRecognizer(UsSsnRecognizer):
        """Presidio's SSN recognizer; a bare 9-digit SSN counts after "ssn" or "social security".

        Presidio drops the published sample SSNs (078-05-1120, 123-45-6789); in a chat they are still
        written as SSNs, and left alone they were taken for phone numbers.
        """

        def invalidate_result(self, pattern_text: str) -> bool:
            if "".join(c for c in pattern_text if c.isdigit()) in ("123456789", "987654320", "078051120"):
                return len({c for c in pattern_text if not c.isdigit()}) > 1
            return bool(super().invalidate_result(pattern_text))

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: Any = None) -> list:
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            for r in results:
                if r.score < SCORE_THRESHOLD and _SSN_CONTEXT.search(text, max(0, r.start - 40), r.start):
                    r.score = 0.6
            return list(results)

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        OfflineEmailRecognizer(),
        CandidatePhoneRecognizer(),
        AnyIssuerCardRecognizer(),
        LenientIbanRecognizer(),
        LeadingZeroIpRecognizer(),
        ContextSsnRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def detect(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping raw ``(start, end, entity_type)`` findings; the more specific type, then the longer, wins.

    E-mails written out to dodge filters come back as ``OBFUSCATED``.
    """
    if not _MAYBE_PII.search(text):
        return []
    norm = normalize_pii(text)
    ntext = norm.text
    results = analyzer().analyze(ntext, language="en", entities=list(ENTITIES), score_threshold=SCORE_THRESHOLD)
    found = [(r.start, r.end, r.entity_type) for r in results if not _implausible(ntext, r.start, r.end, r.entity_type)]
    found.extend(_spelled_emails(ntext))
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(found, key=lambda f: (_priority(f[2]), -(f[1] - f[0]), f[0])):
        if kind == "PHONE_NUMBER" and (ext := _EXTENSION.match(ntext, end)):
            end = ext.end()
        if all(end <= a or start >= b for a, b, _ in chosen):
            chosen.append((start, end, kind))
    out = []
    for start, end, kind in sorted(chosen):
        a, b = norm.raw_span(start, end)
        if kind == "EMAIL_ADDRESS" and _SPELLED_WORD.search(text[a:b]):
            kind = OBFUSCATED
        out.append((a, b, kind))
    return out


def _priority(kind: str) -> int:
    return PRIORITY.get(kind, 0 if kind == OBFUSCATED else 9)


def _spelled_emails(text: str) -> list[tuple[int, int, str]]:
    """E-mails spelled out with "dot" and "at" words, whose domain ends in a real public suffix."""
    found: list[tuple[int, int, str]] = []
    if not _SPELLED_SEP.search(text):
        return found  # no "dot" or "at" word: nothing is spelled out
    pos = 0
    while (m := _SPELLED_EMAIL.search(text, pos)) is not None:
        pos = m.start() + 1  # a rejected match may hide a real one ("write me at ellie dot brooks at ...")
        if not re.search(r"\s", m.group()):
            continue  # a plain address: the e-mail recognizer's job
        if m.group(1).lower() in _NOT_LOCAL:
            continue
        domain = re.sub(_DOTW, ".", m.group(2))
        if _offline_tld()(domain).fqdn:
            found.append((m.start(), m.end(), OBFUSCATED))
            pos = m.end()
    return found


def _mask(m: re.Match[str]) -> str:
    return "x" * (m.end() - m.start())


def _said(text: str, start: int) -> bool:
    """Does a phone word come at most a few words before ``text[start]``?"""
    # Searching ``text`` between positions (not a slice) keeps word boundaries true: a window that starts
    # inside "ExtendedContext" must not read "text" as a word.
    lo = max(0, start - 40)
    return bool(_PHONE_WORD.search(text, lo, start) and _PHONE_CONTEXT.search(text, lo, start))


def _implausible(text: str, start: int, end: int, kind: str) -> bool:
    """Matches Presidio accepts that are nearly always something else (versions, ids)."""
    if kind == "IP_ADDRESS":
        if _IP_VERSION_CONTEXT.search(text, max(0, start - 12), start):
            return True  # "Version 1.2.3.4 released."
        if re.search(r"\d\.$", text[max(0, start - 2) : start]):
            return True  # the tail of a longer dotted number
        if re.match(r"\.\d", text[end : end + 2]):
            # 1.2.3.4.5 or 10.0.19045.1234.7 is a version or build number; 192.168.1.1.1 holds an address.
            return len(text[start:end].split(".")[0]) < 2
        return False
    if kind == "EMAIL_ADDRESS":
        return bool(re.match(r":[\w~/]", text[end : end + 2]))  # git@github.com:org/repo.git is an SSH remote
    if kind == "PHONE_NUMBER":
        value, before = text[start:end], text[max(0, start - 40) : start]
        if _ID_CONTEXT.search(text, max(0, start - 40), start) and not value.startswith("+"):
            return True  # "booking ref 240517-1188", "reference number 20240115-7733-01"
        if before[-1:].isalnum() or before[-1:] in {"-", "#", "/", "_"}:
            return True  # the tail of an identifier such as ORD-2024-000123
        if re.fullmatch(r"\d{3}-\d{2}-\d{4}", value):
            return True  # shaped as an SSN, never a phone number
        said = _said(text, start)
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

    def __init__(self, action: Action = "redact", obfuscated: Action | None = None) -> None:
        self.action: Action = action
        #: The action for e-mails spelled out to dodge filters ("john dot doe at example dot com"): they can be
        #: deliberate, so they may be set to only warn.  ``None``: the guardrail's own action.
        self.obfuscated: Action = obfuscated or obfuscated_action() or action

    def warm(self) -> None:
        """Build the analyzer now (about a second), so the first check is fast."""
        analyzer()

    def check(self, text: str) -> Verdict:
        """Judge ``text``."""
        spans = []
        for start, end, kind in detect(text):
            action = self.action
            if kind == OBFUSCATED:
                kind, action = "EMAIL_ADDRESS", self.obfuscated
                reason = "The message contains personal data (EMAIL_ADDRESS, written out)."
            else:
                reason = f"The message contains personal data ({kind})."
            replacement = f"<{kind}>" if action == "redact" else None
            spans.append(Span(start, end, NAME, replacement, action, reason))
        return Verdict.from_spans(NAME, spans)

    def hold(self, text: str) -> int:
        """The trailing partial token plus any trailing tokens that could belong to one PII value.

        Also a spelled-out e-mail or a lower-case IBAN still being written, whose words have no digit.
        """
        held = trailing_hold(text, self.max_match, lambda word: _PIIISH.fullmatch(word) is not None)
        tail = text[-self.max_match :]
        # Each tail pattern runs only where it can match: they would otherwise be most of a stream's hold cost.
        if _SPELLED_SEP.search(tail):
            if (m := _TAIL_SPELLED.search(tail)) is not None:
                held = max(held, len(tail) - m.start())
        elif tail[-1:].isspace() or _GAP_END.search(tail[-4:]):
            if (m := _TAIL_GAP.search(tail[-40:])) is not None:
                held = max(held, len(tail[-40:]) - m.start())
        iban_tail = tail[-_IBAN_TAIL:]
        if _IBAN_START.search(iban_tail) and (m := _TAIL_IBAN.search(iban_tail)) is not None:
            held = max(held, len(iban_tail) - m.start())
        return held


def obfuscated_action() -> Action | None:
    """The action for spelled-out e-mails from ``GUARD_PII_OBFUSCATED`` (redact, warn or block), if set."""
    raw = os.environ.get("GUARD_PII_OBFUSCATED", "").strip().lower()
    return raw if raw in ("block", "redact", "warn") else None  # type: ignore[return-value]


register(
    GuardSpec(NAME, lambda action: PiiGuardrail(action or "redact"), default_action="redact", label="Personal data")
)
