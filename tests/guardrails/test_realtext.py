"""Issue 16: every example the issue quotes, caught or passed as stated, with spans mapped back to the raw text.

PII examples check the exact redacted text, so a span that lands a character off
(normalization not mapped back) fails; profanity examples check the verdict and,
for evasions split across stream chunks, that nothing violating is ever shown.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails import base
from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail
from tests.guardrails.streaming import hold_back_stream

PII = PiiGuardrail("redact")
PROFANITY = ProfanityGuardrail("block")

# (text, the text once redacted): what the user must see.
PII_CAUGHT = [
    # Extensions go with the number.
    ("Reach me at 345-899-3560x4587 after six.", "Reach me at <PHONE_NUMBER> after six."),
    ("Office: +1 212 555 0198 ext. 204", "Office: <PHONE_NUMBER>"),
    # Local formats with a context word.
    ("You can call me on 9472 7916 tonight.", "You can call me on <PHONE_NUMBER> tonight."),
    ("I am answering at 516 466 638 all week.", "I am answering at <PHONE_NUMBER> all week."),
    # Lower-case IBANs, 2-series Mastercard, 19-digit cards.
    ("iban: gb82 west 1234 5698 7654 32 thanks", "iban: <IBAN_CODE> thanks"),
    ("pay to de89370400440532013000 today", "pay to <IBAN_CODE> today"),
    ("My Mastercard is 2223 0031 2200 3222.", "My Mastercard is <CREDIT_CARD>."),
    ("card 2720 9900 0000 0007 expires soon", "card <CREDIT_CARD> expires soon"),
    ("19 digits: 4111 1111 1111 1111 110 ok", "19 digits: <CREDIT_CARD> ok"),
    # E-mails against CJK text.
    ("请发邮件到john@example.com谢谢", "请发邮件到<EMAIL_ADDRESS>谢谢"),
    ("メールはyamada.taro@example.co.jpです", "メールは<EMAIL_ADDRESS>です"),
    # Obfuscated e-mails (redacted by default).
    ("write to john.doe@protectai[DOT]com now", "write to <EMAIL_ADDRESS> now"),
    ("it is john dot doe at example dot com, ok?", "it is <EMAIL_ADDRESS>, ok?"),
    ("mail jane(at)example(dot)org", "mail <EMAIL_ADDRESS>"),
    # SSNs: typed as SSN, and bare with the context word.
    ("my ssn is 219099999", "my ssn is <US_SSN>"),
    ("SSN 219-09-9999 on file", "SSN <US_SSN> on file"),
    # An address inside a longer dotted run.
    ("ping 192.168.1.1.1 again", "ping <IP_ADDRESS>.1 again"),
    # Evasions from the adversarial probe: fullwidth digits and at sign.
    ("call ＋１ ２１２ ５５５ ０１９８ now", "call <PHONE_NUMBER> now"),
    ("mail ada＠example.com now", "mail <EMAIL_ADDRESS> now"),
    ("card ４１１１ １１１１ １１１１ １１１１ ok", "card <CREDIT_CARD> ok"),
    # Zero-width characters inside numbers and domains.
    ("card 4111\u200b1111\u200b1111\u200b1111 ok", "card <CREDIT_CARD> ok"),
    ("mail ada@exam\u200bple.com now", "mail <EMAIL_ADDRESS> now"),
    ("call +1 212\u2060 555 0198 now", "call <PHONE_NUMBER> now"),
    # Numbers split by newlines.
    ("card 4111\n1111\n1111\n1111 ok", "card <CREDIT_CARD> ok"),
    ("call +1 212\n555\n0198 now", "call <PHONE_NUMBER> now"),
    # Card groups separated by dots, slashes, underscores or double spaces.
    ("card 4111.1111.1111.1111 ok", "card <CREDIT_CARD> ok"),
    ("card 4111/1111/1111/1111 ok", "card <CREDIT_CARD> ok"),
    ("card 4111_1111_1111_1111 ok", "card <CREDIT_CARD> ok"),
    ("card 4111  1111  1111  1111 ok", "card <CREDIT_CARD> ok"),
    # Dotted or lower-case IBAN groups.
    ("iban DE89.3704.0044.0532.0130.00 ok", "iban <IBAN_CODE> ok"),
    ("iban de89 3704 0044 0532 0130 00 ok", "iban <IBAN_CODE> ok"),
    # Defanged IPs and IPs with leading zeros.
    ("host 192[.]168[.]1[.]10 is up", "host <IP_ADDRESS> is up"),
    ("host 192.168.001.010 is up", "host <IP_ADDRESS> is up"),
]

PII_PASSED = [
    "1992-11-12 07:04:41",
    "The meeting is on 2024-05-01 10:30",
    "Logged at 2023-07-14T09:15:02 by the scheduler.",
    "The train leaves at 07:04:41 and arrives at 10:30.",
    "Version 1.2.3.4 released.",
    "Upgrade to v2.14.3 or release 10.0.19045.3803 first.",
    "Build 10.0.19045 shipped on 12/11/2023 at 14:05.",
]


@pytest.mark.parametrize(("text", "redacted"), PII_CAUGHT, ids=[t for t, _ in PII_CAUGHT])
def test_pii_examples_are_caught_and_mapped_back(text: str, redacted: str) -> None:
    assert PII.check(text).apply(text) == redacted


@pytest.mark.parametrize("text", PII_PASSED)
def test_dates_times_and_versions_are_not_pii(text: str) -> None:
    assert PII.check(text).allowed, PII.check(text)


def test_a_date_time_is_never_a_phone_number() -> None:
    for text in ("1992-11-12 07:04:41", "The meeting is on 2024-05-01 10:30"):
        assert not [s for s in PII.check(text).spans if s.replacement == "<PHONE_NUMBER>"]


@pytest.mark.parametrize("text", ["SSN 078-05-1120 on file", "my ssn is 123-45-6789", "SSN 219-09-9999 on file"])
def test_an_ssn_is_typed_as_an_ssn_not_a_phone(text: str) -> None:
    assert [s.replacement for s in PII.check(text).spans] == ["<US_SSN>"]


@pytest.mark.parametrize(
    "text",
    [
        # A context word cut out of a longer identifier ("ExtendedContext") is no context word.
        ">>> ExtendedContext.fma(Decimal('888565290'), Decimal('1557.96930'), Decimal('-86087.7578'))",
        # "at" after a verb or an adjective is a preposition, not an at sign.
        "We met at example dot com's booth, and she works at acme dot io now.",
        "He is good at python dot org tutorials.",
        # A sentence end is no dot: "once. By" and "CPython. It" are not domains.
        "The tokens are processed at once. By default, this is set to 512 tokens.",
        "This module is targeted at CPython. It expects all 1,114,112 codepoints to be the same width.",
    ],
)
def test_code_and_prose_that_only_look_like_pii(text: str) -> None:
    assert PII.check(text).allowed, PII.check(text)


def test_an_international_phone_is_not_a_card() -> None:
    # 13 digits after a '+' that pass the Luhn check: a phone number, not a card.
    assert [s.replacement for s in PII.check("call +4915123456787 now").spans] == ["<PHONE_NUMBER>"]


def test_a_url_query_keeps_everything_but_the_email() -> None:
    url = "https://shop.example/track?id=7&email=ada@example.com&lang=en"
    assert PII.check(url).apply(url) == "https://shop.example/track?id=7&email=<EMAIL_ADDRESS>&lang=en"


def test_obfuscated_emails_warn_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "it is john dot doe at example dot com, and jo@example.com"
    warn = PiiGuardrail("redact", obfuscated="warn")
    verdict = warn.check(text)
    assert [s.action for s in verdict.spans] == ["warn", "redact"]
    assert verdict.apply(text) == "it is john dot doe at example dot com, and <EMAIL_ADDRESS>"
    monkeypatch.setenv("GUARD_PII_OBFUSCATED", "warn")
    from_env = base.create("pii")
    assert [s.action for s in from_env.check("john.doe@protectai[DOT]com").spans] == ["warn"]
    monkeypatch.delenv("GUARD_PII_OBFUSCATED")
    assert [s.action for s in base.create("pii").check("john.doe@protectai[DOT]com").spans] == ["redact"]


def test_spans_point_at_the_raw_text() -> None:
    text = "card ４１１１ １１１１ １１１１ １１１１ and host 192[.]168[.]1[.]10"
    spans = PII.check(text).spans
    assert [text[s.start : s.end] for s in spans] == ["４１１１ １１１１ １１１１ １１１１", "192[.]168[.]1[.]10"]


PROFANITY_CAUGHT = [
    # Multi-word entries across spaces and punctuation.
    "that was a blow job joke", "meet me at the strip club", "have you seen 2 girls 1 cup", "a blowjob",
    "a blow-job", "a blow.job", "strip-club",
    # Letters spread over wider gaps.
    "f    u     c k this",
    # Symbol and spelling swaps.
    "f#ck", "f@ck", "fuq you", "what a kunt", "shut up biatch",
    # Separators.
    "s|h|i|t", "s,h,i,t", "f+u+c+k", "fu ck off",
    # Look-alike letters and fillers.
    "fսck", "ƒuck", "🅵🆄🅲🅺", "f\u3164u\u3164c\u3164k",
    # A truncated word that holds an unambiguous root is still caught.
    "you are a fuck…",
]  # fmt: skip

PROFANITY_PASSED = [
    "doo-wop", "a doo wop record", "honky tonk", "a honky-tonk piano", "the Cushite kingdom", "Kushite pharaohs",
    "injun&#8230;", "nig&#8230;", "the injun… (cut off)", "Dick Cheney", "Moby Dick", "Tit for tat", "a blue tit",
    "spotted dick", "Fucking, Austria", "Gaylord", "She began to sob", "The cowgirl rode on",
    "Wash it, then push it.", "a bit chunky", "I s a w it", "Scunthorpe",
]  # fmt: skip


@pytest.mark.parametrize("text", PROFANITY_CAUGHT)
def test_profanity_examples_are_caught(text: str) -> None:
    assert not PROFANITY.check(text).allowed


@pytest.mark.parametrize("text", PROFANITY_PASSED)
def test_innocent_text_passes(text: str) -> None:
    assert PROFANITY.check(text).allowed, PROFANITY.check(text)


def test_redaction_masks_the_whole_phrase() -> None:
    g = ProfanityGuardrail("redact")
    assert g.check("a blow job joke").apply("a blow job joke") == "a b******* joke"


@pytest.mark.parametrize("bad", ["blow job", "fu ck", "s|h|i|t", "f    u     c k", "2 girls 1 cup"])
def test_profanity_evasions_split_anywhere_never_show(bad: str) -> None:
    text = f"Well {bad} and more text here"
    for cut in range(len("Well ") + 1, len("Well ") + len(bad)):
        shown, _ = hold_back_stream([ProfanityGuardrail("block")], [text[:cut], text[cut:]])
        assert shown == "Well " or shown == "", (cut, shown)


@pytest.mark.parametrize(
    "value", ["john dot doe at example dot com", "gb82 west 1234 5698 7654 32", "192[.]168[.]1[.]10"]
)
def test_pii_evasions_split_anywhere_never_show(value: str) -> None:
    text = f"Sure, the value is {value} and that is all."
    expected = PII.check(text).apply(text)
    assert value not in expected
    for cut in range(len("Sure, the value is ") + 1, len("Sure, the value is ") + len(value)):
        shown, final = hold_back_stream([PII], [text[:cut], text[cut:]])
        assert shown == expected == final, cut


REALTEXT = Path(__file__).parent.parent / "data" / "guardrail_cases_realtext.jsonl"
REALTEXT_PII = [
    case
    for case in (json.loads(line) for line in REALTEXT.read_text(encoding="utf-8").splitlines() if line.strip())
    if case["guard"] == "pii" and case["label"]
]


@pytest.mark.parametrize("case", REALTEXT_PII, ids=lambda c: c["value"])
def test_hold_back_leaks_no_realtext_pii_split_anywhere(case: dict) -> None:
    """The zero-leak property on the new set: every value split at every position, in its own sentence."""
    text = case["text"]
    expected = PII.check(text).apply(text)
    start = text.find(case["value"])
    for cut in range(start + 1, start + len(case["value"])):
        shown, final = hold_back_stream([PII], [text[:cut], text[cut:]])
        assert shown == expected == final, cut
