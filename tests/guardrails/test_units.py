"""Guardrail units: normalization, registry, config, custom rules, length, offline Presidio, UI helpers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from agents.errors import InvalidSetting
from chat.settings import Settings
from guardrails import base, config
from guardrails.base import GuardSpec, Span, Verdict
from guardrails.length import LengthGuardrail
from guardrails.normalize import fold_leet, normalize
from guardrails.profanity import ProfanityGuardrail
from guardrails.rules import RulesGuardrail, load, parse


def test_normalize_maps_back_to_raw_indexes() -> None:
    raw = "Ｆu\u200bcK ｓhit"
    norm = normalize(raw)
    assert norm.text == "fuck shit"
    start = norm.text.index("shit")
    assert norm.raw_span(start, start + 4) == (raw.index("ｓ"), len(raw))
    assert fold_leet("5h1t @$$") == "shit ass"


def test_normalize_strips_accents_and_homoglyphs() -> None:
    assert normalize("fück ѕhіt").text == "fuck shit"


def test_redact_applies_spans_and_skips_overlaps() -> None:
    spans = [Span(0, 4, "a", "X"), Span(2, 6, "b", "Y"), Span(7, 9, "c", None)]
    assert Verdict.from_spans("r", spans).apply("abcdefghij") == "Xefghij"
    assert Verdict.from_spans("r", []).allowed


def test_verdict_takes_the_most_severe_action() -> None:
    v = Verdict.from_spans("r", [Span(0, 1, "w", None, "warn"), Span(2, 3, "b", None, "block", "no")])
    assert (v.action, v.rule, v.reason) == ("block", "b", "no")


def test_profanity_hold_covers_partial_and_spelled_words() -> None:
    g = ProfanityGuardrail()
    assert g.hold("hello wor") == 3
    assert g.hold("hello world ") == 0
    assert g.hold("say f u c ") == len("f u c ")


def test_config_parses_specs_and_rejects_unknowns() -> None:
    assert config.parse_specs(["pii", "profanity=redact", "pii=off"]) == (("profanity", "redact"),)
    assert config.parse_specs("pii=warn, length") == (("length", "block"), ("pii", "warn"))
    with pytest.raises(InvalidSetting, match="nope"):
        config.parse_specs("nope")
    with pytest.raises(InvalidSetting, match="zap"):
        config.parse_specs("pii=zap")
    with pytest.raises(InvalidSetting, match="release"):
        Settings(provider="echo", release="later")


def test_settings_carry_guards_from_strings_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(provider="echo", guards="pii").guards == (("pii", "redact"),)
    monkeypatch.setenv("GUARDS", "profanity=warn")
    monkeypatch.setenv("GUARD_RELEASE", "stream_first")
    s = Settings.from_env(provider="echo")
    assert s.guards == (("profanity", "warn"),) and s.release == "stream_first"


class Shouty:
    """A third-party guardrail: flags text in capitals."""

    name, where, max_match, slow = "shouty", frozenset({"input", "output"}), 32, False

    def __init__(self, action: str) -> None:
        self.action = action

    def warm(self) -> None:
        pass

    def check(self, text: str) -> Verdict:
        import re

        spans = [Span(m.start(), m.end(), "shouty", "(calm)", self.action) for m in re.finditer(r"\b[A-Z]{4,}\b", text)]
        return Verdict.from_spans("shouty", spans)

    def hold(self, text: str) -> int:
        return len(text) - len(text.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


async def test_a_third_party_guardrail_plugs_in_by_name() -> None:
    from chat.session import ChatSession

    base.register(GuardSpec("shouty", lambda action: Shouty(action or "redact"), "redact", "Shouting"))  # type: ignore[arg-type,return-value]
    try:
        session = ChatSession(Settings(provider="echo", echo_rate=0, guards="shouty"))
        turn = session.start("please STOP now")
        await turn.run(_ignore)
        assert turn.text == "please (calm) now"
    finally:
        base.GUARDRAILS.unregister("shouty")


async def _ignore(event: object) -> None:
    return None


def test_rules_file_parses_and_matches_normalized_terms(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[[rules]]\nname = "codename"\nterms = ["project nightingale"]\naction = "block"\nmessage = "No."\n'
        '[[rules]]\nname = "ticket"\nregex = "TCK-[0-9]{4}"\nmax_length = 8\naction = "redact"\nreplacement = "[T]"\n',
        encoding="utf-8",
    )
    guard = RulesGuardrail(None, load(path))
    v = guard.check("About PROJECT\u200b  Nightingale, see TCK-1234")
    assert v.action == "block" and v.rule == "codename" and v.reason == "No."
    assert RulesGuardrail("warn", load(path)).check("nightingales sing").allowed  # whole words only
    assert guard.check("see TCK-1234.").apply("see TCK-1234.") == "see [T]."
    assert guard.hold("about project night") == len("project night")


def test_a_broken_rules_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[rules]]\nname = "x"\nregex = "("\n', encoding="utf-8")
    with pytest.raises(InvalidSetting, match="rule x"):
        load(path)
    with pytest.raises(InvalidSetting, match="either terms or regex"):
        parse({"rules": [{"name": "y", "action": "block"}]})


def test_the_shipped_policies_file_loads() -> None:
    names = [r.name for r in load()]
    assert {"internal-codename", "api-key"} <= set(names)


def test_length_guardrail_blocks_truncates_or_warns() -> None:
    assert LengthGuardrail("block", 5).check("123456").action == "block"
    assert LengthGuardrail("redact", 5).check("123456").apply("123456") == "12345"
    assert LengthGuardrail("warn", 5).check("12345").allowed


def test_presidio_runs_offline_without_spacy_models(monkeypatch: pytest.MonkeyPatch) -> None:
    import spacy

    from guardrails import pii

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a spaCy model was loaded")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(spacy, "load", no_model)
    pii._offline_tld.cache_clear()
    engine = pii._build_analyzer.__wrapped__()  # a fresh engine, built under the patches
    results = engine.analyze("mail a@example.co.uk or 8.8.8.8", language="en", score_threshold=0.3)
    assert {r.entity_type for r in results} == {"EMAIL_ADDRESS", "IP_ADDRESS"}
    assert pii._offline_tld().suffix_list_urls == ()


def test_our_redaction_matches_presidios_anonymizer() -> None:
    from guardrails.pii import PiiGuardrail, anonymize

    text = "Mail john@example.com, card 4111 1111 1111 1111, ip 10.0.0.1."
    assert PiiGuardrail("redact").check(text).apply(text) == anonymize(text)


def test_verdict_table_and_panel_mapping() -> None:
    from ui import guard_panel, verdicts

    table = verdicts.table([{"rule": "pii", "action": "redact", "where": "output", "ms": 1.234, "count": 2}])
    assert "| pii | redact ×2 | output | 1.2 ms |" in table
    values = {"guard_pii": "redact", "guard_profanity": "off", "guard_rules": "default", "release": "stream_first"}
    assert guard_panel.to_settings(values) == {"release": "stream_first", "guards": "pii=redact,rules=default"}
    s = Settings(provider="echo").replace(guards=guard_panel.to_settings(values)["guards"])
    assert s.guards == (("pii", "redact"), ("rules", "default"))
