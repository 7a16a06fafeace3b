"""The hallucination guardrail (issue 18): flag keeps the text, block withholds, no log-probabilities is said."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences
from agents.errors import InvalidSetting
from agents.events import Done, Event, Notice, NoticeKind, TextDelta
from agents.providers.base import TokenLogprob
from chat.session import ChatSession
from chat.settings import Settings
from guardrails import base
from guardrails.hallucination import UNCHECKED, HallucinationGuardrail
from tests.fakes import ScriptedProvider, answer_events

SURE = math.log(0.97)
UNSURE = math.log(0.05)
# Three sentences; the model was sure of the first and last, unsure of the middle one.
CHUNKS = ("Paris is ", "the capital. ", "It has ", "nine moons. ", "The Seine ", "flows there.")
LOGPROBS = (SURE, SURE, UNSURE, UNSURE, SURE, SURE)
TEXT = "".join(CHUNKS)


def session_with(
    guards: str, provider: ScriptedProvider | None = None, *, release: str = "hold_back", buffer: str = "token"
) -> tuple[ChatSession, ScriptedProvider]:
    session = ChatSession(Settings(provider="echo", guards=guards, release=release, buffer=buffer))
    provider = provider or ScriptedProvider(chunks=CHUNKS, logprobs=LOGPROBS)
    session._provider, session._provider_key = provider, ("echo", None, 50.0)
    return session, provider


def tokens_of(chunks: tuple[str, ...], logprobs: tuple[float, ...]) -> list[TokenLogprob]:
    return [TokenLogprob(c, lp) for c, lp in zip(chunks, logprobs, strict=True)]


def guard_notices(events: list[Event]) -> list[Notice]:
    return [e for e in events if isinstance(e, Notice) and e.kind == NoticeKind.GUARDRAIL]


def shown(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_it_is_registered_with_flag_and_block_and_a_threshold() -> None:
    spec = base.get("hallucination")
    assert spec.actions == ("flag", "block") and spec.default_action == "flag"
    guard = base.create("hallucination", "block:0.3")
    assert isinstance(guard, HallucinationGuardrail) and guard.action == "block" and guard.threshold == 0.3
    default = base.create("hallucination")
    assert isinstance(default, HallucinationGuardrail) and default.threshold == DEFAULT_THRESHOLD


def test_the_threshold_is_set_in_guards_syntax_and_checked() -> None:
    assert Settings(guards="hallucination=block:0.25").guards == (("hallucination", "block:0.25"),)
    assert Settings(guards="hallucination").guards == (("hallucination", "flag"),)
    with pytest.raises(InvalidSetting, match="from 0 to 1"):
        Settings(guards="hallucination=flag:1.5")
    with pytest.raises(InvalidSetting, match="no option"):
        Settings(guards="pii=redact:0.5")


async def test_flag_leaves_the_answer_byte_identical_and_annotates_it() -> None:
    plain, _ = session_with("")
    flagged, provider = session_with("hallucination=flag")
    without = await answer_events(plain, "Tell me about Paris.")
    with_check = await answer_events(flagged, "Tell me about Paris.")
    done_plain, done = without[-1], with_check[-1]
    assert isinstance(done_plain, Done) and isinstance(done, Done)
    assert done.text == done_plain.text == shown(with_check) == TEXT
    assert [e.text for e in with_check if isinstance(e, TextDelta)] == list(CHUNKS)  # same pieces, same order
    assert provider.calls[0].params.logprobs, "the check asks the provider for log-probabilities"
    tokens = tokens_of(CHUNKS, LOGPROBS)
    assert done.stats.confidence == pytest.approx(answer_confidence(tokens))
    low = [(s, e) for s, e, score in sentence_confidences(TEXT, tokens) if score < DEFAULT_THRESHOLD]
    assert low and list(done.stats.flagged) == low
    assert flagged.history[-1].content == TEXT  # the model's context holds the answer as streamed
    assert any(n.data["action"] == "flag" for n in guard_notices(with_check))


async def test_without_the_check_no_logprobs_are_asked_for_and_no_confidence_is_claimed() -> None:
    session, provider = session_with("")
    done = (await answer_events(session, "Tell me about Paris."))[-1]
    assert isinstance(done, Done)
    assert not provider.calls[0].params.logprobs
    assert done.stats.flagged == ()


@pytest.mark.parametrize("guards", ["hallucination=flag", "hallucination=block"])
async def test_a_provider_without_logprobs_gets_cannot_be_checked(guards: str) -> None:
    session, _ = session_with(guards, ScriptedProvider(chunks=CHUNKS))
    events = await answer_events(session, "Tell me about Paris.")
    done = events[-1]
    assert isinstance(done, Done) and done.text == TEXT  # nothing withheld: nothing could be judged
    assert done.stats.confidence is None
    notices = guard_notices(events)
    assert [n.data["action"] for n in notices] == ["unchecked"]
    assert UNCHECKED in notices[0].message and "scripted" in notices[0].message
    assert done.stats.verdicts[-1]["action"] == "unchecked"


async def test_the_echo_provider_cannot_be_checked_either() -> None:
    session = ChatSession(Settings(provider="echo", echo_rate=0, guards="hallucination=flag"))
    events = await answer_events(session, "An answer with no log-probabilities.")
    assert any(UNCHECKED in n.message for n in guard_notices(events))
    assert events[-1].stats.confidence is None  # type: ignore[union-attr]


def expected_after_block(text: str, tokens: list[TokenLogprob], threshold: float) -> tuple[str, int]:
    """The text a block leaves (each low sentence out, whatever the scorer's sentences) and how many went."""
    kept, cut, withheld = [], 0, 0
    for _, end, score in sentence_confidences(text, tokens):
        if score < threshold:
            withheld += 1
        else:
            kept.append(text[cut:end])
        cut = end
    kept.append(text[cut:])
    return "".join(kept), withheld


async def test_block_in_hold_back_withholds_a_low_confidence_sentence_and_says_so() -> None:
    session, _ = session_with("hallucination=block")
    events = await answer_events(session, "Tell me about Paris.")
    done = events[-1]
    assert isinstance(done, Done)
    expected, withheld = expected_after_block(TEXT, tokens_of(CHUNKS, LOGPROBS), DEFAULT_THRESHOLD)
    assert withheld >= 1 and "nine moons" not in done.text
    assert done.text == expected == shown(events)
    assert "nine moons" not in shown(events), "a withheld sentence never reaches the screen"
    notices = [n for n in guard_notices(events) if n.data["action"] == "withhold"]
    assert len(notices) == withheld
    assert "held back" in notices[0].message and "confidence" in notices[0].message
    assert f"{DEFAULT_THRESHOLD:.2f}" in notices[0].message
    assert all("nine moons" not in m.content for m in session.history)  # nor the model's context


def split_at_periods(text: str, tokens: Sequence[TokenLogprob]) -> list[tuple[int, int, float]]:
    """A sentence scorer of our own (sentences end at ". "), so the test does not hang on the real one's."""
    out, start, pos, logprobs = [], 0, 0, []
    for token in tokens:
        pos += len(token.text)
        logprobs.append(token.logprob)
        if token.text.endswith(". ") or pos == len(text):
            out.append((start, pos, math.exp(sum(logprobs) / len(logprobs))))
            start, logprobs = pos, []
    return out


async def test_block_releases_each_sentence_once_scored_while_the_answer_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import guardrails.hallucination as hallucination

    monkeypatch.setattr(hallucination, "sentence_confidences", split_at_periods)
    session, _ = session_with("hallucination=block")
    events = await answer_events(session, "Tell me about Paris.")
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Paris is the capital. The Seine flows there."
    order = [e.text if isinstance(e, TextDelta) else e.data["action"] for e in events
             if isinstance(e, TextDelta) or e in guard_notices(events)]  # fmt: skip
    assert order == ["Paris is the capital. ", "withhold", "The Seine flows there."]
    assert done.stats.confidence == pytest.approx(math.exp(SURE))  # the confidence of what was shown
    assert done.stats.flagged == ()


async def test_block_withholds_a_whole_low_confidence_answer() -> None:
    chunks = ("The moon ", "is made ", "of cheese.")
    session, _ = session_with("hallucination=block", ScriptedProvider(chunks=chunks, logprobs=(UNSURE,) * 3))
    events = await answer_events(session, "What is the moon made of?")
    done = events[-1]
    assert isinstance(done, Done) and done.text == "" and shown(events) == ""
    assert [n.data["action"] for n in guard_notices(events)] == ["withhold"]


async def test_a_lower_threshold_lets_the_sentence_through() -> None:
    session, _ = session_with("hallucination=block:0.01")
    done = (await answer_events(session, "Tell me about Paris."))[-1]
    assert isinstance(done, Done) and done.text == TEXT


async def test_block_in_stream_first_only_flags_and_says_why() -> None:
    session, _ = session_with("hallucination=block", release="stream_first")
    events = await answer_events(session, "Tell me about Paris.")
    done = events[-1]
    assert isinstance(done, Done) and done.text == TEXT == shown(events)
    assert done.stats.flagged
    reasons = [n.data["reason"] for n in guard_notices(events)]
    assert any("hold_back" in r and "only flagged" in r for r in reasons), reasons


async def test_flagged_spans_follow_a_pii_redaction() -> None:
    chunks = ("Mail ", "ada@example.com ", "today. ", "It has ", "nine moons.")
    logprobs = (SURE, SURE, SURE, UNSURE, UNSURE)
    session, _ = session_with("hallucination=flag,pii=redact", ScriptedProvider(chunks=chunks, logprobs=logprobs))
    done = (await answer_events(session, "Contact?"))[-1]
    assert isinstance(done, Done) and "<EMAIL_ADDRESS>" in done.text
    raw = "".join(chunks)
    spans = sentence_confidences(raw, tokens_of(chunks, logprobs))
    low = [raw[s:e] for s, e, score in spans if score < DEFAULT_THRESHOLD]
    marked = [done.text[s:e] for s, e in done.stats.flagged]
    assert len(marked) == len(low)
    for before, after in zip(low, marked, strict=True):  # the same sentences, redacted where they were
        assert after == before.replace("ada@example.com", "<EMAIL_ADDRESS>")


async def test_flagged_spans_stay_inside_an_answer_a_text_guardrail_blocked() -> None:
    chunks = ("It has ", "nine moons. ", "Well, ", "shit ", "happens.")
    logprobs = (UNSURE, UNSURE, SURE, SURE, SURE)
    session, _ = session_with("hallucination=flag,profanity=block", ScriptedProvider(chunks=chunks, logprobs=logprobs))
    done = (await answer_events(session, "Moons?"))[-1]
    assert isinstance(done, Done) and done.block is not None and done.block.rule == "profanity"
    assert "shit" not in done.text
    assert done.stats.flagged and all(0 <= s < e <= len(done.text) for s, e in done.stats.flagged)
