"""Buffering strategies and the coalescing stage: pure strategies, the time bound, backpressure, stop.

Stage tests run on a virtual-time event loop: when every task waits, the
loop jumps straight to the next timer, so a 10 s stream takes microseconds and
timing is exact.  The stage gets the loop's clock and ``asyncio.sleep`` injected.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents import buffering
from agents.buffering import parse
from agents.buffering.sentence import SentenceStrategy
from agents.coalesce import Coalesce
from agents.errors import ConnectionLost, InvalidSetting
from agents.events import Done, Event, Failed, Notice, Replace, Stats, TextDelta
from chat.session import ChatSession
from chat.settings import Settings
from tests.fakes import ScriptedProvider

T = TypeVar("T")

# ------------------------------------------------------------ virtual time


class _VirtualSelector(selectors.BaseSelector):
    """Polls real file descriptors without blocking; a wait for a timer advances virtual time instead."""

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.now = 0.0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock: every task waits and no timer is set")
        self.now += timeout
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when every task is waiting for a timer."""

    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def virtual(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on virtual time."""
    with asyncio.Runner(loop_factory=VirtualLoop) as runner:
        return runner.run(main())  # type: ignore[arg-type]


def now() -> float:
    return asyncio.get_running_loop().time()


def stage(spec: str) -> Coalesce:
    """The stage under test, on the running (virtual) loop's clock."""
    return Coalesce(spec, clock=now, sleep=asyncio.sleep)


# ------------------------------------------------------------ scripted upstream

STATS = Stats(provider="fake", model="m", outcome="complete", ttft_ms=1.0, total_ms=2.0, tokens=0, tokens_per_s=None)


@dataclass
class Upstream:
    """Yields ``(gap_seconds, event)`` steps on virtual time; records what it delivered and when."""

    steps: Sequence[tuple[float, Event]]
    raise_at_end: Exception | None = None
    delivered: list[tuple[float, Event]] = field(default_factory=list)
    closed: bool = False

    async def stream(self) -> AsyncGenerator[Event, None]:
        try:
            for gap, event in self.steps:
                await asyncio.sleep(gap)
                self.delivered.append((now(), event))
                yield event
            if self.raise_at_end is not None:
                raise self.raise_at_end
        finally:
            self.closed = True

    def text(self) -> str:
        return "".join(e.text for _, e in self.delivered if isinstance(e, TextDelta))


def text_steps(tokens: Sequence[tuple[str, float]], end: Event | None = None) -> list[tuple[float, Event]]:
    steps: list[tuple[float, Event]] = []
    offset = 0
    for text, gap in tokens:
        steps.append((gap, TextDelta(text, offset)))
        offset += len(text)
    full = "".join(t for t, _ in tokens)
    steps.append((0.0, end if end is not None else Done(full, STATS)))
    return steps


async def consume(
    events: AsyncGenerator[Event, None], *, stop_after: int | None = None, delay: float = 0.0
) -> list[tuple[float, Event]]:
    """Collect ``(time, event)``; sleep ``delay`` per event (a slow sink); close after ``stop_after`` events."""
    seen: list[tuple[float, Event]] = []
    try:
        async for event in events:
            seen.append((now(), event))
            if stop_after is not None and len(seen) >= stop_after:
                break
            if delay:
                await asyncio.sleep(delay)
    finally:
        await events.aclose()
    return seen


def deltas(seen: Sequence[tuple[float, Event]]) -> list[TextDelta]:
    return [e for _, e in seen if isinstance(e, TextDelta)]


def check_deltas(chunks: Sequence[TextDelta], start: int = 0) -> None:
    """No empty chunk; offsets count the visible text."""
    offset = start
    for d in chunks:
        assert d.text, "empty chunk"
        assert d.offset == offset
        offset += len(d.text)


# ------------------------------------------------------------ parse and registry


@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("token", "token"),
        ("tokens:3", "tokens:3"),
        ("chars:12", "chars:12"),
        ("words:2", "words:2"),
        ("line", "line"),
        ("sentence", "sentence"),
        ("time:40", "time:40"),
        (" Sentence + TIME:80 ", "sentence+time:80"),
        ("time:25+words:3", "words:3+time:25"),
    ],
)
def test_parse_accepts_every_built_in(spec: str, canonical: str) -> None:
    assert str(parse(spec)) == canonical


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ("", "token, tokens:N"),
        ("bogus", "unknown strategy 'bogus'"),
        ("tokens", "tokens:N with N a whole number"),
        ("tokens:0", "from 1 to"),
        ("chars:x", "chars:N"),
        ("line:3", "line without a number"),
        ("time:0", "time:MS"),
        ("time:99999", "time:MS"),
        ("token+line", "one strategy"),
        ("time:10+time:20", "at most one time"),
        ("sentence+", "unknown strategy ''"),
    ],
)
def test_parse_rejects_with_one_clear_line(spec: str, hint: str) -> None:
    with pytest.raises(InvalidSetting) as info:
        parse(spec)
    message = str(info.value)
    assert "\n" not in message and message.startswith("Invalid setting buffer=") and hint in message


def test_default_is_time_bounded_with_the_first_token_at_once() -> None:
    spec = parse(Settings(provider="echo").buffer)
    assert spec.time_ms is not None and 30 <= spec.time_ms <= 50
    assert spec.leading


def test_settings_reject_a_bad_buffer_and_cli_and_panel_map_it() -> None:
    from cli.main import build_parser, settings_from_args
    from ui import panel

    with pytest.raises(InvalidSetting):
        Settings(provider="echo", buffer="sentences")
    args = build_parser().parse_args(["--provider", "echo", "--buffer", "sentence+time:80", "hi"])
    assert settings_from_args(args).buffer == "sentence+time:80"
    assert "buffer" in panel.FIELDS
    widget = next(w for w in panel.widgets(Settings(provider="echo", buffer="line")) if w.id == "buffer")
    assert widget.initial == "line" and "sentence" in widget.label
    assert ChatSession(Settings(provider="echo")).update(**panel.changes({"buffer": " words:3 "})).buffer == "words:3"


def test_a_new_strategy_plugs_in_by_name() -> None:
    class Pairs:
        def __init__(self) -> None:
            self.held = ""

        def feed(self, text: str) -> list[str]:
            self.held += text
            if len(self.held) >= 2:
                out, self.held = self.held, ""
                return [out]
            return []

        def flush(self) -> list[str]:
            out, self.held = self.held, ""
            return [out] if out else []

    if "pairs-test" not in buffering.names():
        buffering.register("pairs-test", Pairs)
    assert run_strategy("pairs-test", ["a", "b", "c"]) == ["ab", "c"]
    with pytest.raises(ValueError):
        buffering.register("token", Pairs)


# ------------------------------------------------------------ strategies


def run_strategy(spec: str, tokens: Sequence[str]) -> list[str]:
    strategy = parse(spec).new()
    out: list[str] = []
    for token in tokens:
        out += strategy.feed(token)
    return out + strategy.flush()


def test_token_tokens_chars() -> None:
    toks = ["He", "llo", " wor", "ld", "!"]
    assert run_strategy("token", toks) == toks
    assert run_strategy("tokens:2", toks) == ["Hello", " world", "!"]
    assert run_strategy("chars:4", toks) == ["Hello", " wor", "ld!"]


def test_words_keep_the_space_for_the_next_chunk() -> None:
    toks = [" one", " two", " three", " four", " fi", "ve"]
    assert run_strategy("words:2", toks) == [" one two", " three four", " five"]


def test_line_emits_whole_lines() -> None:
    assert run_strategy("line", ["a", "b\nc", "\n\nd", "e"]) == ["ab\n", "c\n", "\n", "de"]


def test_sentence_does_not_split_abbreviations_decimals_or_urls() -> None:
    from agents.providers.echo import pieces

    text = (
        "Dr. Smith paid $3.50 at https://example.com/a.b?c=1. Then he left! Did he? Yes. "
        "The U.S. Army is big, e.g. it has 1.2 million people. Mail ann.lee@example.org today. Bye."
    )
    assert run_strategy("sentence", pieces(text)) == [
        "Dr. Smith paid $3.50 at https://example.com/a.b?c=1. ",
        "Then he left! ",
        "Did he? ",
        "Yes. ",
        "The U.S. Army is big, e.g. it has 1.2 million people. ",
        "Mail ann.lee@example.org today. ",
        "Bye.",
    ]


def test_sentence_waits_for_the_word_after_a_dot() -> None:
    # "$3." then "50": the dot is a decimal point, which only the next token shows.
    strategy = parse("sentence").new()
    assert strategy.feed("It costs $3.") == []
    assert strategy.feed("50 now. Then") == []
    assert strategy.feed(" more.") == ["It costs $3.50 now. "]
    assert strategy.flush() == ["Then more."]


def test_sentence_bounds_a_run_without_sentence_ends() -> None:
    strategy = SentenceStrategy(max_chars=20)
    out = strategy.feed("word " * 5) + strategy.feed("word")
    assert out == ["word " * 5]
    assert strategy.flush() == ["word"]


SPEC_BASES = st.one_of(
    st.sampled_from(["token", "line", "sentence"]),
    st.builds("tokens:{}".format, st.integers(1, 5)),
    st.builds("chars:{}".format, st.integers(1, 12)),
    st.builds("words:{}".format, st.integers(1, 4)),
)
SPECS = st.one_of(
    SPEC_BASES,
    st.builds("{}+time:{}".format, SPEC_BASES, st.integers(1, 120)),
    st.builds("time:{}".format, st.integers(1, 120)),
)
PIECE = st.one_of(
    st.text(alphabet="ab .!?\n\t'\")3é", max_size=6),
    st.sampled_from(["Dr.", " Mr.", " U.S.", " 3.", "50", " https://x.io/a.b?c=1.", " e.g.", "…", " Yes.", "\r\n"]),
)


@settings(max_examples=200, deadline=None)
@given(spec=SPECS, tokens=st.lists(PIECE, max_size=40))
def test_any_strategy_returns_its_input_exactly_in_non_empty_chunks(spec: str, tokens: list[str]) -> None:
    out = run_strategy(spec, tokens)
    assert "".join(out) == "".join(tokens)
    assert all(out)


# ------------------------------------------------------------ the stage: properties


TIMED_TOKENS = st.lists(st.tuples(PIECE, st.sampled_from([0.0, 0.001, 0.005, 0.02, 0.05, 0.3])), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS, tokens=TIMED_TOKENS, sink_delay=st.sampled_from([0.0, 0.0, 0.003, 0.1]))
def test_stage_emits_its_input_exactly_for_any_spec_split_and_timing(
    spec: str, tokens: list[tuple[str, float]], sink_delay: float
) -> None:
    upstream = Upstream(text_steps(tokens))

    async def main() -> list[tuple[float, Event]]:
        return await consume(stage(spec)(upstream.stream()), delay=sink_delay)

    seen = virtual(main)
    chunks = deltas(seen)
    full = "".join(t for t, _ in tokens)
    assert "".join(d.text for d in chunks) == full
    check_deltas(chunks)
    done = seen[-1][1]
    assert isinstance(done, Done) and done.text == full and done.stats.chunks == len(chunks)
    assert upstream.closed


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS, tokens=TIMED_TOKENS)
def test_time_bound_holds_no_text_longer_than_the_bound(spec: str, tokens: list[tuple[str, float]]) -> None:
    bound = parse(spec).time_ms
    upstream = Upstream(text_steps(tokens))
    seen = virtual(lambda: consume(stage(spec)(upstream.stream())))
    if bound is None:
        return
    # Arrival time of every character, then the time it was shown.
    arrivals = [t for t, e in upstream.delivered if isinstance(e, TextDelta) for _ in e.text]
    shown = [t for t, e in seen if isinstance(e, TextDelta) for _ in e.text]
    assert len(arrivals) == len(shown)
    for came, went in zip(arrivals, shown, strict=True):
        assert went - came <= bound / 1000 + 1e-9


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS, tokens=TIMED_TOKENS, stop_after=st.integers(1, 6))
def test_stop_keeps_all_text_shown_or_left_over_and_closes_upstream(
    spec: str, tokens: list[tuple[str, float]], stop_after: int
) -> None:
    upstream = Upstream(text_steps(tokens))
    coalesce = stage(spec)
    seen = virtual(lambda: consume(coalesce(upstream.stream()), stop_after=stop_after))
    chunks = deltas(seen)
    check_deltas(chunks)
    if isinstance(seen[-1][1], Done):
        assert coalesce.leftover() == []
        return
    assert upstream.closed  # the provider side stopped with the consumer
    rest = coalesce.leftover()
    check_deltas([e for e in rest if isinstance(e, TextDelta)], start=sum(len(d.text) for d in chunks))
    assert "".join(d.text for d in chunks) + "".join(e.text for e in rest if isinstance(e, TextDelta)) == (
        upstream.text()
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS, tokens=TIMED_TOKENS, raise_instead=st.booleans())
def test_errors_flush_the_held_text_first(spec: str, tokens: list[tuple[str, float]], raise_instead: bool) -> None:
    full = "".join(t for t, _ in tokens)
    error = ConnectionLost("dropped", partial=full)
    if raise_instead:
        upstream = Upstream(text_steps(tokens)[:-1], raise_at_end=error)
    else:
        upstream = Upstream(text_steps(tokens, end=Failed(error, full, STATS)))
    seen: list[tuple[float, Event]] = []

    async def main() -> None:
        async for event in stage(spec)(upstream.stream()):
            seen.append((now(), event))

    if raise_instead:
        with pytest.raises(ConnectionLost):
            virtual(main)
    else:
        virtual(main)
        last = seen[-1][1]
        assert isinstance(last, Failed) and last.stats.chunks == len(deltas(seen))
    assert "".join(d.text for d in deltas(seen)) == full
    check_deltas(deltas(seen))


# ------------------------------------------------------------ the stage: behaviour


def test_a_slow_provider_does_not_hold_text_past_the_bound() -> None:
    # "Hello" then nothing for 10 s: with sentence+time:80 it shows at 80 ms, not at 10 s.
    upstream = Upstream(text_steps([("Hello", 0.0), (" world.", 10.0)]))
    seen = virtual(lambda: consume(stage("sentence+time:80")(upstream.stream())))
    assert [(round(t, 3), d.text) for t, d in seen if isinstance(d, TextDelta)] == [(0.08, "Hello"), (10.0, " world.")]


def test_time_only_emits_the_first_token_at_once_then_at_most_once_per_bound() -> None:
    tokens = [(f"t{i} ", 0.001) for i in range(200)]  # 1,000 tokens/s for 0.2 s
    upstream = Upstream(text_steps(tokens))
    seen = virtual(lambda: consume(stage("time:40")(upstream.stream())))
    times = [t for t, e in seen if isinstance(e, TextDelta)]
    assert deltas(seen)[0].text == "t0 " and times[0] == pytest.approx(0.001)
    gaps = [b - a for a, b in zip(times, times[1:-1], strict=False)]  # the last flush comes with Done
    assert all(g >= 0.04 - 1e-9 for g in gaps)
    assert len(times) <= math.ceil(0.2 / 0.04) + 2


def test_after_a_pause_the_next_token_goes_out_at_once() -> None:
    steps = text_steps([("a", 0.0), ("b", 0.5), ("c", 0.001)])
    upstream = Upstream([*steps[:-1], (0.2, steps[-1][1])])  # Done comes later, so "c" waits for the bound
    seen = virtual(lambda: consume(stage("time:40")(upstream.stream())))
    assert [(round(t, 3), d.text) for t, d in seen if isinstance(d, TextDelta)] == [
        (0.0, "a"),
        (0.5, "b"),
        (0.541, "c"),
    ]


def test_sentence_shows_whole_sentences_through_the_stage() -> None:
    from agents.providers.echo import pieces

    text = "Mr. Brown paid 3.50 dollars. It was cheap! Was it?"
    upstream = Upstream(text_steps([(p, 0.02) for p in pieces(text)]))
    seen = virtual(lambda: consume(stage("sentence")(upstream.stream())))
    assert [d.text for d in deltas(seen)] == ["Mr. Brown paid 3.50 dollars. ", "It was cheap! ", "Was it?"]


def test_other_events_flush_held_text_first_and_replace_resets_offsets() -> None:
    steps: list[tuple[float, Event]] = [
        (0.0, TextDelta("one ")),
        (0.0, TextDelta("two ", 4)),
        (0.0, Notice("retrying", "Connection lost, resuming")),
        (0.0, TextDelta("three ", 8)),
        (0.0, Replace("[redacted] ", "pii")),
        (0.0, TextDelta("four", 11)),
        (0.0, Done("[redacted] four", STATS)),
    ]
    seen = virtual(lambda: consume(stage("sentence")(Upstream(steps).stream())))
    assert [e for _, e in seen][:-1] == [
        TextDelta("one two ", 0),
        Notice("retrying", "Connection lost, resuming"),
        TextDelta("three ", 8),
        Replace("[redacted] ", "pii"),
        TextDelta("four", 11),
    ]


def test_backpressure_merges_text_and_never_blocks_the_provider() -> None:
    # 1,000 tokens at 1 ms each into a sink that takes 100 ms per update, with plain `token`.
    tokens = [("x", 0.001)] * 1000
    upstream = Upstream(text_steps(tokens))
    seen = virtual(lambda: consume(stage("token")(upstream.stream()), delay=0.1))
    chunks = deltas(seen)
    assert "".join(d.text for d in chunks) == "x" * 1000
    assert len(chunks) <= 12  # ~1 s of stream / 100 ms per update, not 1,000 updates
    provider_done = upstream.delivered[-1][0]
    assert provider_done == pytest.approx(1.0)  # the provider ran at its own pace


def test_the_time_bound_does_not_cancel_a_pending_read() -> None:
    # A provider that must not see a cancellation while it waits between tokens.
    cancelled: list[bool] = []

    async def patient() -> AsyncGenerator[Event, None]:
        for i in range(3):
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            yield TextDelta("x", i)
        yield Done("xxx", STATS)

    seen = virtual(lambda: consume(stage("words:5+time:10")(patient())))
    assert cancelled == []
    assert [d.text for d in deltas(seen)] == ["x", "x", "x"]


# ------------------------------------------------------------ through a session


def session_with(provider: ScriptedProvider, buffer: str) -> ChatSession:
    session = ChatSession(Settings(provider="echo", buffer=buffer))
    session._provider = provider
    session._provider_key = ("echo", None, session.settings.echo_rate)
    return session


async def test_stop_keeps_held_text_in_the_turn_and_stops_the_provider_within_one_token() -> None:
    gate = asyncio.Event()
    provider = ScriptedProvider(chunks=("Hello", " wor", "ld.", " More", " text."), gate=gate)
    session = session_with(provider, "sentence")
    turn = session.start("hi")
    shown: list[str] = []

    async def handle(event: Event) -> None:
        if isinstance(event, TextDelta):
            shown.append(event.text)

    task = asyncio.create_task(turn.run(handle))
    for _ in range(2):
        gate.set()
        while gate.is_set():
            await asyncio.sleep(0)
    while turn.runner.text != "Hello wor":  # the runner has passed both tokens on
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert shown == []  # no sentence was complete, so the sink saw nothing yet
    assert turn.text == "Hello wor"  # but the stopped turn keeps it, for the sink's final message
    assert provider.closed == 1 and provider.yielded == 2
    assert [m.content for m in session.history] == ["hi", "Hello wor"]


async def test_done_stats_count_the_emitted_chunks() -> None:
    provider = ScriptedProvider(chunks=("One. ", "Two", ". Three", " four."))
    session = session_with(provider, "sentence")
    events: list[Event] = []

    async def handle(event: Event) -> None:
        events.append(event)

    await session.start("hi").run(handle)
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["One. ", "Two. ", "Three four."]
    done = events[-1]
    assert isinstance(done, Done) and done.stats.chunks == 3 and done.stats.tokens == 4


# ------------------------------------------------------------ through the Chainlit handlers


async def test_the_panel_choice_shows_whole_sentences_in_chainlit(monkeypatch: pytest.MonkeyPatch) -> None:
    import chainlit as cl

    import app
    from tests.chainlit_harness import open_session

    monkeypatch.setenv("DEFAULT_PROVIDER", "echo")
    ui = open_session()
    await app.start()
    await app.settings_update({"buffer": "sentence", "echo_rate": 0})
    await app.message(cl.Message(content="Dr. Smith paid 3.50 dollars. It was cheap! Was it?"))
    started = ui.named("stream_start")[-1]
    updates = [started["output"], *ui.tokens()]
    assert updates == ["Dr. Smith paid 3.50 dollars. ", "It was cheap! ", "Was it?"]
    assert app._session().settings.buffer == "sentence"

    await app.settings_update({"buffer": "sentences"})
    errors = [m["output"] for m in ui.messages() if m.get("isError")]
    assert errors and "Invalid setting buffer='sentences'" in errors[-1] and "\n" not in errors[-1]
    assert app._session().settings.buffer == "sentence"  # the old choice stays in force
