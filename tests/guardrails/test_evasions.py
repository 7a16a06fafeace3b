"""Evasions an adversarial probe found after issue 16: caught, mapped back to the raw text, and never leaked.

Each PII example checks the exact redacted text, so a span a character off fails;
each new rule has innocent counter-examples next to it; and every evasion is
split at every position through a hold_back stream, which must show nothing of it.
"""

from __future__ import annotations

import pytest

from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail
from tests.guardrails.streaming import hold_back_stream

PII = PiiGuardrail("redact")
PROFANITY = ProfanityGuardrail("block")

# (raw value, the entity it must be redacted as)
PII_EVASIONS = [
    ("4111–1111–1111–1111", "CREDIT_CARD"),  # en dash
    ("4111—1111—1111—1111", "CREDIT_CARD"),  # em dash
    ("4111−1111−1111−1111", "CREDIT_CARD"),  # minus sign U+2212
    ("4111\u20111111\u20111111\u20111111", "CREDIT_CARD"),  # non-breaking hyphen
    ("078–05–1120", "US_SSN"),
    ("219−09−9999", "US_SSN"),
    ("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "CREDIT_CARD"),
    ("𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏", "CREDIT_CARD"),  # mathematical bold
    ("𝟺𝟷𝟷𝟷 𝟷𝟷𝟷𝟷 𝟷𝟷𝟷𝟷 𝟷𝟷𝟷𝟷", "CREDIT_CARD"),  # mathematical monospace
    ("𝟦𝟣𝟣𝟣 𝟣𝟣𝟣𝟣 𝟣𝟣𝟣𝟣 𝟣𝟣𝟣𝟣", "CREDIT_CARD"),  # mathematical sans-serif
    ("٤١١١ ١١١١ ١١١١ ١١١١", "CREDIT_CARD"),  # Arabic-Indic
    ("۴۱۱۱ ۱۱۱۱ ۱۱۱۱ ۱۱۱۱", "CREDIT_CARD"),  # Eastern Arabic-Indic
    ("४१११ ११११ ११११ ११११", "CREDIT_CARD"),  # Devanagari
    ("192。168。1。10", "IP_ADDRESS"),  # ideographic full stop
    ("192．168．1．10", "IP_ADDRESS"),  # fullwidth full stop
    ("ada.lovelace@ехample.com", "EMAIL_ADDRESS"),  # Cyrillic е and х in the domain
    ("аda.lovelace@example.com", "EMAIL_ADDRESS"),  # Cyrillic а in the local part
    ("ada.lοvelace@example.com", "EMAIL_ADDRESS"),  # Greek ο
    ("ada.lovelace @ example . com", "EMAIL_ADDRESS"),
]


@pytest.mark.parametrize(("value", "kind"), PII_EVASIONS)
def test_pii_evasions_are_redacted_exactly(value: str, kind: str) -> None:
    text = f"Sure, it is {value} and that is all."
    assert PII.check(text).apply(text) == f"Sure, it is <{kind}> and that is all."


PII_INNOCENT = [
    "Count with me: 1 2 3 4 5 and stop.",
    "Scores: 3 1 4 1 5 and 9 2 6",
    "I worked there 2019–2024 and loved it.",
    "Call volume rose 2019–2024 by a third.",
    "Pages 12–34 and 56—78 cover it.",
    "The temperature fell to −12 and then −15.",
    "第１章。第２章。",
    "Отправьте письмо завтра, пожалуйста.",
    "Привет, как дела? Всё хорошо, спасибо.",
    "The score was ٣ to ٢ at half time.",
    "Meet me at 10 . The room is 4 B.",
]


@pytest.mark.parametrize("text", PII_INNOCENT)
def test_innocent_text_next_to_the_new_rules_passes(text: str) -> None:
    assert PII.check(text).spans == (), text


PROFANITY_EVASIONS = ["f\nu\nc\nk", "s\r\nh\r\ni\r\nt", "ꜰᴜᴄᴋ", "ꜱʜɪᴛ", "cуnt", "fуck"]


@pytest.mark.parametrize("bad", PROFANITY_EVASIONS)
def test_profanity_evasions_are_caught_on_the_raw_span(bad: str) -> None:
    text = f"Well {bad} to you."
    found = PROFANITY.findings(text)
    assert found == [(5, 5 + len(bad))]
    assert ProfanityGuardrail("redact").check(text).apply(text) == f"Well {bad[0]}{'*' * (len(bad) - 1)} to you."


PROFANITY_INNOCENT = [
    "Я купил новую книгу, у меня всё хорошо.",
    "Ну что, пойдём в кино? У нас есть время.",
    "Суп и хлеб на ужин, куст у дома.",
    "a\nb\nc\nd",
    "Line\nby\nline we go.",
    "ᴀ sᴍᴀʟʟ ᴄᴀᴘɪᴛᴀʟ ᴛɪᴛʟᴇ",
]


@pytest.mark.parametrize("text", PROFANITY_INNOCENT)
def test_innocent_text_near_the_new_profanity_rules_passes(text: str) -> None:
    assert PROFANITY.findings(text) == [], text


@pytest.mark.parametrize("value", [v for v, _ in PII_EVASIONS])
def test_pii_evasions_split_anywhere_never_show(value: str) -> None:
    text = f"Sure, it is {value} and that is all."
    expected = PII.check(text).apply(text)
    assert value not in expected
    start = len("Sure, it is ")
    for cut in range(start + 1, start + len(value)):
        shown, final = hold_back_stream([PII], [text[:cut], text[cut:]])
        assert shown == expected == final, (cut, shown)


@pytest.mark.parametrize("bad", PROFANITY_EVASIONS)
def test_profanity_evasions_split_anywhere_never_show(bad: str) -> None:
    text = f"Well {bad} and more text here"
    for cut in range(len("Well ") + 1, len("Well ") + len(bad)):
        shown, _ = hold_back_stream([ProfanityGuardrail("block")], [text[:cut], text[cut:]])
        assert shown in ("Well ", ""), (cut, shown)


async def test_input_screening_redacts_and_blocks_the_evasions() -> None:
    """The probe sent these as user messages: the model must see none of them."""
    from guardrails.input import screen

    guards = [ProfanityGuardrail("block"), PiiGuardrail("redact")]
    message = "card 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1, mail ada.lovelace@ехample.com, host 192。168。1。10"
    screened = await screen(message, guards)
    assert not screened.blocked
    assert screened.text == "card <CREDIT_CARD>, mail <EMAIL_ADDRESS>, host <IP_ADDRESS>"
    for bad in ("well f\nu\nc\nk", "ꜰᴜᴄᴋ off", "you cуnt"):
        assert (await screen(bad, guards)).blocked, bad
