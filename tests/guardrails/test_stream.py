"""The guardrail stage on live streams: hold-back leaks nothing, cross-chunk matches, stream-first, fail closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from agents.errors import ServerError
from agents.events import Done, Event, Failed, Notice, Replace, Stats, TextDelta
from guardrails.base import Verdict
from guardrails.pii import PiiGuardrail
from guardrails.profanity import ProfanityGuardrail
from guardrails.rules import RulesGuardrail, parse
from guardrails.stream import StreamGuard, guard_stage, run_checks

DATA = Path(__file__).parent.parent / "data" / "guardrail_cases.jsonl"
PII_VALUES = [
    json.loads(line)["value"]
    for line in DATA.read_text(encoding="utf-8").splitlines()
    if line.strip() and json.loads(line)["guard"] == "pii" and json.loads(line)["label"]
]
PII = PiiGuardrail("redact")


def _stats(outcome: str = "complete", tokens: int = 0) -> Stats:
    return Stats("fake", "fake-1", outcome, None, 0.0, tokens, None)  # type: ignore[arg-type]


class Upstream:
    """A scripted runner: yields the chunks as TextDeltas, then Done (or Failed); records how far it got."""

    def __init__(self, chunks: Sequence[str], *, fail: bool = False) -> None:
        self.chunks = list(chunks)
        self.fail = fail
        self.consumed = 0
        self.closed = False

    async def events(self) -> AsyncGenerator[Event, None]:
        offset = 0
        try:
            for chunk in self.chunks:
                self.consumed += 1
                yield TextDelta(chunk, offset)
                offset += len(chunk)
            text = "".join(self.chunks)
            if self.fail:
                yield Failed(ServerError("boom", partial=text), text, _stats("error", len(self.chunks)))
            else:
                yield Done(text, _stats(tokens=len(self.chunks)))
        finally:
            self.closed = True


async def collect(guards: Sequence, chunks: Sequence[str], release: str = "hold_back", **kw) -> tuple[list, Upstream]:
    up = Upstream(chunks, **kw)
    stage = guard_stage(guards, release)  # type: ignore[arg-type]
    return [e async for e in stage(up.events())], up


def sync_run(guards: Sequence, chunks: Sequence[str], release: str = "hold_back") -> tuple[list[Event], StreamGuard]:
    """Drive the pure StreamGuard directly (fast enough to run thousands of splits)."""
    sg = StreamGuard(guards, release)  # type: ignore[arg-type]
    out: list[Event] = []
    for chunk in chunks:
        if shown := sg.feed(chunk):
            out.append(TextDelta(shown))
        if (w := sg.window()) is not None:
            out.extend(sg.commit(w, run_checks(sg.guards, w.text)).events)
    if (w := sg.window(final=True)) is not None:
        out.extend(sg.commit(w, run_checks(sg.guards, w.text)).events)
    return out, sg


@pytest.mark.parametrize("value", PII_VALUES)
def test_hold_back_leaks_no_character_of_pii_split_anywhere(value: str) -> None:
    prefix, suffix = "Sure, the value is ", " and that is all."
    text = prefix + value + suffix
    expected = PII.check(text).apply(text)
    assert value not in expected
    for cut in range(len(prefix) + 1, len(prefix) + len(value)):
        events, sg = sync_run([PII], [text[:cut], text[cut:]])
        assert not any(isinstance(e, Replace) for e in events), cut  # nothing shown was ever taken back
        shown = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert shown == expected, cut  # what reached the screen is exactly the redacted text
        assert sg.text == expected


def test_hold_back_with_token_sized_pieces_leaks_nothing() -> None:
    from agents.providers.echo import pieces

    for value in PII_VALUES:
        text = f"Write to {value} today, thanks."
        events, _ = sync_run([PII], pieces(text))
        shown = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert value not in shown and shown == PII.check(text).apply(text)
        assert not any(isinstance(e, Replace) for e in events)


SPLITS = [["f", "uck"], ["fu", "ck you"], ["f.u", ".c.", "k"], ["f u ", "c k"], ["sh", "1", "t!"]]


@pytest.mark.parametrize("chunks", SPLITS)
async def test_profanity_split_across_chunks_blocks_and_never_shows(chunks: list[str]) -> None:
    events, up = await collect([ProfanityGuardrail("block")], ["Well ", *chunks, " and more", " text", " here"])
    done = events[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.block is not None
    assert done.block.line() == "[Blocked by guardrail: profanity] The message contains profanity."
    assert done.shown().endswith(done.block.line()) and "Blocked" not in done.text
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert shown in {"", "Well "}
    assert up.closed and up.consumed < len(chunks) + 4  # generation stopped: the tail was never pulled
    assert any(isinstance(e, Notice) and e.kind == "guardrail" for e in events)
    assert done.stats.verdicts[0]["rule"] == "profanity" and done.stats.verdicts[0]["where"] == "output"


async def test_block_stops_consuming_at_once() -> None:
    chunks = ["Hello ", "there ", "shit ", *(f"w{i} " for i in range(50))]
    events, up = await collect([ProfanityGuardrail("block")], chunks)
    assert up.closed
    assert up.consumed <= 4  # the violating token, plus at most one to see the word end
    assert events[-1].stats.outcome == "blocked"  # type: ignore[union-attr]


async def test_innocent_words_split_across_chunks_pass_unchanged() -> None:
    chunks = ["The ass", "essment of Scun", "thorpe's cock", "tail bar in Sus", "sex."]
    events, _ = await collect([ProfanityGuardrail("block")], chunks)
    assert isinstance(events[-1], Done) and events[-1].stats.outcome == "complete"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "".join(chunks)


async def test_stream_first_shows_at_once_then_replaces_the_violation() -> None:
    chunks = ["Mail ", "john.", "doe@exa", "mple.com", " now"]
    events, _ = await collect([PII], chunks, release="stream_first")
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == "".join(chunks)  # shown at once, uncleared
    replaces = [e for e in events if isinstance(e, Replace)]
    assert replaces and "john" not in replaces[-1].text
    done = events[-1]
    assert isinstance(done, Done) and done.text == "Mail <EMAIL_ADDRESS> now"


async def test_stream_first_block_takes_the_shown_violation_off_screen() -> None:
    events, up = await collect([ProfanityGuardrail("block")], ["ok ", "then ", "fuck ", "this"], release="stream_first")
    replaces = [e for e in events if isinstance(e, Replace)]
    assert replaces and "fuck" not in replaces[-1].text
    assert "fuck" not in events[-1].text  # type: ignore[union-attr]
    assert up.closed


async def test_redact_keeps_streaming_and_records_verdicts() -> None:
    events, _ = await collect([ProfanityGuardrail("redact")], ["this is ", "shit ", "really"])
    done = events[-1]
    assert isinstance(done, Done) and done.text == "this is s*** really" and done.stats.outcome == "complete"
    assert done.stats.verdicts[0]["action"] == "redact"
    assert {"rule", "action", "where", "ms"} <= set(done.stats.verdicts[0])


async def test_warn_passes_text_and_notices() -> None:
    events, _ = await collect([ProfanityGuardrail("warn")], ["this is ", "shit ", "really"])
    assert events[-1].text == "this is shit really"  # type: ignore[union-attr]
    assert [e.data["action"] for e in events if isinstance(e, Notice)] == ["warn"]


async def test_an_interrupted_answer_withholds_a_tail_that_could_still_be_pii() -> None:
    events, _ = await collect([PII], ["Sure. ", "Mail ", "ada.love"], fail=True)
    failed = events[-1]
    assert isinstance(failed, Failed) and "ada" not in failed.text and failed.text.startswith("Sure.")
    shown = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "ada" not in shown


async def test_failed_upstream_keeps_cleared_text_only() -> None:
    events, _ = await collect([PII], ["Call ", "(555) 123-4567 ", "now"], fail=True)
    failed = events[-1]
    # Only text cleared before the break stays: what was still held back is withheld, not shown unchecked.
    assert isinstance(failed, Failed) and failed.text.startswith("Call") and "4567" not in failed.text


class Broken:
    """A guardrail that raises."""

    name, action, where, max_match, slow = "broken", "block", frozenset({"input", "output"}), 8, False

    def warm(self) -> None:
        pass

    def check(self, text: str) -> Verdict:
        raise RuntimeError("policy server down")

    def hold(self, text: str) -> int:
        return 0


class Sleepy(Broken):
    """A guardrail that takes longer than the timeout."""

    name, slow = "sleepy", True

    def check(self, text: str) -> Verdict:
        import time

        time.sleep(0.3)
        return Verdict.allow()


async def test_a_guardrail_that_raises_blocks_and_says_why() -> None:
    events, up = await collect([Broken()], ["hello ", "world"])
    done = events[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.block is not None and done.block.rule == "broken" and "policy server down" in done.block.reason
    assert "[Blocked by guardrail: broken]" in done.shown() and done.text == ""
    assert up.closed


async def test_a_guardrail_that_times_out_blocks() -> None:
    up = Upstream(["hello ", "world"])
    stage = guard_stage([Sleepy()], timeout=0.05)  # type: ignore[list-item]
    events = [e async for e in stage(up.events())]
    done = events[-1]
    assert isinstance(done, Done) and done.stats.outcome == "blocked"
    assert done.block is not None and "timed out" in done.block.reason


class Counting:
    """Wraps a guardrail and counts the characters it is asked to check."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name, self.action, self.where = inner.name, inner.action, inner.where
        self.max_match, self.slow = inner.max_match, False
        self.chars = 0

    def warm(self) -> None:
        self.inner.warm()

    def check(self, text: str) -> Verdict:
        self.chars += len(text)
        return self.inner.check(text)

    def hold(self, text: str) -> int:
        return self.inner.hold(text)


@pytest.mark.parametrize("make", [lambda: PiiGuardrail("redact"), lambda: ProfanityGuardrail("block")])
def test_checks_are_incremental_linear_in_answer_length(make) -> None:  # type: ignore[no-untyped-def]
    from agents.providers.echo import pieces

    per_char = []
    for words in (250, 2500):
        text = " ".join(["The quick brown fox jumps over 12 lazy dogs."] * (words // 9))
        guard = Counting(make())
        sync_run([guard], pieces(text))
        per_char.append(guard.chars / len(text))
    assert per_char[1] <= per_char[0] * 1.1  # checked characters per answer character do not grow


def test_custom_rule_regex_is_held_until_complete() -> None:
    rules = parse({"rules": [{"name": "key", "regex": r"sk-[a-z]{8}", "max_length": 11, "action": "redact",
                              "replacement": "[KEY]"}]})  # fmt: skip
    guard = RulesGuardrail(None, rules)
    events, sg = sync_run([guard], ["my key is s", "k-abc", "defgh ok"])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "my key is [KEY] ok"
    assert not any(isinstance(e, Replace) for e in events)


async def test_no_output_guardrails_passes_events_through() -> None:
    events, _ = await collect([], ["a", "b"])
    assert [type(e) for e in events] == [TextDelta, TextDelta, Done]


async def test_slow_checks_run_off_the_event_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    await collect([Sleepy()], ["a b c"])
    task.cancel()
    assert ticks > 10  # the loop kept running while the 0.3 s check ran in a thread
