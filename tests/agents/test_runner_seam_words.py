"""A stream that breaks inside a word: the continuation joins it with nothing repeated, garbled or leaked.

The runner asks an inexact provider to continue from the start of the cut
word, then matches the continuation's first word against the cut one.  The
property tests break an answer at every character, let the "model" continue
in three ways (exactly, repeating the last words, restarting the whole
answer), with and without PII redaction, in both release modes: the answer
must end as the unbroken one, and hold_back must never show a piece of PII.
The last tests take the same path through the OpenAI provider and the
scripted loopback server, with the reported inputs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.errors import ConnectionLost
from agents.events import Done, Event, Notice, Replace, TextDelta
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.openai_provider import OpenAIProvider
from agents.runner import Runner
from agents.seam import CutWord, overlap, split_cut_word
from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail
from guardrails.stream import guard_stage
from tests.fakes import FakeClock, RecordingSleep
from tests.servers.payloads import openai_stream
from tests.servers.scripted import Reply, ScriptedServer

MESSAGES = [ChatMessage("user", "Say it.")]
PARAMS = GenerationParams(temperature=0.0)
EMAIL_ANSWER = "Mail ada.lovelace@example.com now."
PAINT_ANSWER = "Then it was painted white."
#: Pieces of the e-mail address; hold_back must never put any of them on screen.
EMAIL_PIECES = ("ada", "@", "example", "love")


# -- the pure pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivered", "ask", "cut"),
    [
        ("It was pain", "It was", " pain"),
        ("Mail ada.lovelace@exam", "Mail", " ada.lovelace@exam"),
        ("Line one.\n\nTwo wor", "Line one.\n\nTwo", " wor"),
        ("Hello there.", "Hello there.", ""),  # ends with punctuation: no cut word
        ("Hello there ", "Hello there ", ""),
        ("word", "", "word"),
        ("x " + "y" * 100, "x " + "y" * 100, ""),  # too long to be one word: continued as it is
    ],
)
def test_split_cut_word(delivered: str, ask: str, cut: str) -> None:
    assert split_cut_word(delivered) == (ask, cut)
    assert ask + cut == delivered


@pytest.mark.parametrize(
    ("cut", "continuation", "out", "retracted"),
    [
        (" pain", " painted white.", "ted white.", False),
        (" pain", "painted white.", "ted white.", False),
        (" pain", " pain.", ".", False),
        (" pain", " yellow.", " yellow.", True),
        (" can", "'s also grey.", "'s also grey.", True),
        (" pa", " papal", "pal", False),
        (" ada.lovelace@exam", "ada.lovelace@example.com now.", "ple.com now.", False),
        ("Mail", "Mail ada.", " ada.", False),
    ],
)
def test_cut_word_is_matched_in_any_pieces(cut: str, continuation: str, out: str, retracted: bool) -> None:
    for size in range(1, len(continuation) + 1):
        matcher = CutWord(cut)
        pieces = [continuation[i : i + size] for i in range(0, len(continuation), size)]
        got = "".join(matcher.feed(p) for p in pieces) + matcher.flush()
        assert (got, matcher.retracted) == (out, retracted), size
        assert matcher.take_back() == (cut if retracted else "") and matcher.take_back() == ""


def test_a_continuation_that_says_nothing_keeps_the_cut_word() -> None:
    matcher = CutWord(" pain")
    assert matcher.feed("  ") == "" and matcher.flush() == "" and not matcher.retracted


def test_a_restart_of_the_whole_answer_is_a_repeat_however_short() -> None:
    assert overlap("It ", "It was painted white.") == 3
    assert overlap("Hi ", "Hi there.") == 3
    assert overlap("x Hi ", "Hi there.") == 0  # only the whole answer: "Hi " alone is too short to be sure


# -- the property: every break position, three ways to continue --------------------------------------


def tokens(text: str) -> list[str]:
    """Word pieces as a tokenizer might cut them: words split at punctuation, spaces leading."""
    return re.findall(r"\s*[A-Za-z0-9]+|\s*[^\sA-Za-z0-9]", text)


def first_stream(answer: str, at: int) -> list[str]:
    """The tokens of ``answer[:at]``; a token straddling ``at`` is cut there (the break is mid-token)."""
    out, pos = [], 0
    for tok in tokens(answer):
        if pos >= at:
            break
        out.append(tok[: at - pos])
        pos += len(tok)
    return out


def continuation(answer: str, asked: str, how: str) -> str:
    """What a model asked to continue ``asked`` writes."""
    assert answer.startswith(asked), "the runner only ever asks from a start of the answer"
    rest = answer[len(asked) :]
    if how == "exact":
        return rest
    if how == "repeat_last_words":
        words = asked.rstrip().split(" ")
        return " ".join(words[-2:]) + asked[len(asked.rstrip()) :] + rest if asked.strip() else rest
    return answer  # "restart": the whole answer again


@dataclass
class BreakingModel:
    """An inexact provider: the first stream breaks at ``at``, the next continues as ``how`` says."""

    answer: str
    at: int
    how: str
    name: str = "breaking"
    model: str = "breaking-1"
    exact_continuation: bool = False
    asked: list[str] = field(default_factory=list)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, continue_from: str = ""
    ) -> AsyncGenerator[str, None]:
        self.asked.append(continue_from)
        if len(self.asked) == 1:
            for piece in first_stream(self.answer, self.at):
                yield piece
            raise ConnectionLost("dropped", provider=self.name)
        for piece in tokens(continuation(self.answer, continue_from, self.how)):
            yield piece


@dataclass
class Screen:
    """Plays events as a sink does, and remembers every state it showed."""

    text: str = ""
    states: list[str] = field(default_factory=list)

    def play(self, events: Sequence[Event]) -> Event:
        for event in events:
            match event:
                case TextDelta(text=text):
                    self.text += text
                    self.states.append(self.text)
                case Replace(text=text):
                    self.text = text
                    self.states.append(self.text)
                case _:
                    pass
        return events[-1]


async def answer_with_break(model: BreakingModel, pii: bool, release: str) -> tuple[Event, Screen, list[Event]]:
    runner = Runner(model, clock=FakeClock(), sleep=RecordingSleep(), stall_timeout=None)
    guards = [ProfanityGuardrail("redact"), *([PiiGuardrail("redact")] if pii else [])]
    stage = guard_stage(guards, release)  # type: ignore[arg-type]
    events = [e async for e in stage(runner.run(MESSAGES, PARAMS))]
    screen = Screen()
    return screen.play(events), screen, events


EXPECTED = {
    (EMAIL_ANSWER, False): EMAIL_ANSWER,
    (EMAIL_ANSWER, True): "Mail <EMAIL_ADDRESS> now.",
    (PAINT_ANSWER, False): PAINT_ANSWER,
    (PAINT_ANSWER, True): PAINT_ANSWER,
}


@pytest.mark.parametrize("release", ["hold_back", "stream_first"])
@pytest.mark.parametrize("pii", [False, True], ids=["plain", "pii"])
@pytest.mark.parametrize("how", ["exact", "repeat_last_words", "restart"])
@pytest.mark.parametrize("answer", [EMAIL_ANSWER, PAINT_ANSWER], ids=["email", "paint"])
async def test_every_break_position_ends_as_the_unbroken_answer(answer: str, how: str, pii: bool, release: str) -> None:
    for at in range(1, len(answer)):
        model = BreakingModel(answer, at, how)
        end, screen, events = await answer_with_break(model, pii, release)
        assert isinstance(end, Done), (at, end)
        assert end.text == screen.text == EXPECTED[answer, pii], (at, model.asked)
        assert [e.kind for e in events if isinstance(e, Notice) and e.kind != "guardrail"] == ["retrying", "resumed"]
        if pii and release == "hold_back" and answer == EMAIL_ANSWER:
            leaks = [s for s in screen.states if any(p in s for p in EMAIL_PIECES)]
            assert leaks == [], (at, leaks)


async def test_a_different_word_after_the_break_takes_the_cut_one_back() -> None:
    class Yellow(BreakingModel):
        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[no-untyped-def, override]
            self.asked.append(continue_from)
            if len(self.asked) == 1:
                for piece in ["Then it was", " pain"]:
                    yield piece
                raise ConnectionLost("dropped", provider=self.name)
            yield " yellow."

    model = Yellow(PAINT_ANSWER, 0, "exact")
    end, screen, events = await answer_with_break(model, False, "stream_first")
    assert model.asked == ["", "Then it was"]
    assert isinstance(end, Done) and end.text == screen.text == "Then it was yellow."
    assert any(isinstance(e, Replace) and e.text == "Then it was" for e in events)


# -- the reported cases, through the OpenAI provider and a loopback server --------------------------------


async def run_openai(scripted: ScriptedServer, pii: bool, release: str) -> tuple[Event, Screen]:
    provider = OpenAIProvider("test-model", api_key="sk-test", base_url=f"{scripted.url}/v1")
    runner = Runner(provider, clock=FakeClock(), sleep=RecordingSleep(), stall_timeout=10)
    guards = [PiiGuardrail("redact")] if pii else []
    stage = guard_stage(guards, release)  # type: ignore[arg-type]
    events = [e async for e in stage(runner.run(MESSAGES, PARAMS))]
    screen = Screen()
    return screen.play(events), screen


@pytest.mark.parametrize("release", ["hold_back", "stream_first"])
async def test_reported_email_seam_is_neither_doubled_nor_leaked(scripted: ScriptedServer, release: str) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["Mail ada.love", "lace@exam", "ple.com"]), done=True, cut_after=3))
    scripted.enqueue(Reply.sse(openai_stream(["ada.lovelace@example.com", " now."]), done=True))
    end, screen = await run_openai(scripted, True, release)
    assert isinstance(end, Done) and end.text == screen.text == "Mail <EMAIL_ADDRESS> now."
    asked = scripted.requests[1].body["messages"]
    assert {"role": "assistant", "content": "Mail"} in asked, "the cut word is asked for again"
    if release == "hold_back":
        assert not [s for s in screen.states if "lovelace" in s or "ada." in s]


@pytest.mark.parametrize(
    "second",
    [["painted white."], ["It was painted white."], [" It was ", "painted white."]],
    ids=["word again", "whole answer again", "whole answer in pieces"],
)
async def test_reported_word_seam_reads_once(scripted: ScriptedServer, second: list[str]) -> None:
    scripted.enqueue(Reply.sse(openai_stream(["It was", " pain", "ted"]), done=True, cut_after=3))
    scripted.enqueue(Reply.sse(openai_stream(second), done=True))
    end, screen = await run_openai(scripted, False, "hold_back")
    assert isinstance(end, Done) and end.text == screen.text == "It was painted white."


async def test_taking_back_a_cut_word_shows_no_piece_of_pii_in_hold_back() -> None:
    class OtherNumber(BreakingModel):
        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[no-untyped-def, override]
            self.asked.append(continue_from)
            if len(self.asked) == 1:
                for piece in ["Call me", " at", " +1", " 415", " 555", " 01"]:
                    yield piece
                raise ConnectionLost("dropped", provider=self.name)
            for piece in [" 9", "876", " today."]:
                yield piece

    model = OtherNumber("", 0, "exact")
    end, screen, events = await answer_with_break(model, True, "hold_back")
    assert model.asked[1] == "Call me at +1 415 555"
    assert isinstance(end, Done) and end.text == screen.text == "Call me at <PHONE_NUMBER> today."
    assert [s for s in screen.states if "415" in s or "555" in s] == []


WORD = st.text(alphabet="abcdefghij", min_size=4, max_size=8)


@st.composite
def broken_answers(draw: st.DrawFn) -> tuple[str, list[str], list[str], str]:
    """An answer, the pieces of its first stream up to a break, how the model goes on, and its pieces' cuts."""
    # Distinct words: an answer that says the same thing twice in a row cannot be told from a repeat.
    words = draw(st.lists(st.one_of(WORD, st.just("ada.lovelace@example.com")), min_size=2, max_size=8, unique=True))
    answer = " ".join(words) + "."
    at = draw(st.integers(1, len(answer) - 1))
    cuts = sorted(set(draw(st.lists(st.integers(1, at), max_size=4))) | {at})
    first = [answer[a:b] for a, b in zip([0, *cuts], cuts, strict=False) if b > a]
    how = draw(st.sampled_from(["exact", "repeat_last_words", "restart"]))
    sizes = draw(st.lists(st.integers(1, 9), min_size=1, max_size=6))
    return answer, first, sizes, how


@settings(max_examples=60, deadline=None)
@given(case=broken_answers())
async def test_any_pieces_and_any_break_end_as_the_unbroken_answer(case: tuple[str, list[str], list[int], str]) -> None:
    answer, first, sizes, how = case

    class Model(BreakingModel):
        async def stream(self, messages, params, *, continue_from=""):  # type: ignore[no-untyped-def, override]
            self.asked.append(continue_from)
            if len(self.asked) == 1:
                for piece in first:
                    yield piece
                raise ConnectionLost("dropped", provider=self.name)
            text, i, k = continuation(answer, continue_from, how), 0, 0
            while i < len(text):
                size = sizes[k % len(sizes)]
                yield text[i : i + size]
                i, k = i + size, k + 1

    end, screen, _ = await answer_with_break(Model(answer, 0, how), False, "hold_back")
    assert isinstance(end, Done) and end.text == screen.text == answer
