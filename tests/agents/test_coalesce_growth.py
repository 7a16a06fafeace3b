"""Long answers: the default time bound grows with the text shown, so the page's render work stays bounded."""

from __future__ import annotations

import pytest

from agents import coalesce
from agents.events import TextDelta
from tests.agents.test_buffering import Upstream, consume, stage, text_steps, virtual


def updates(tokens: int, rate: float, piece: str = " lore") -> list[tuple[float, int]]:
    """(time, visible length before it) of each update of a ``tokens``-piece answer at ``rate`` tokens/s."""
    upstream = Upstream(text_steps([(piece, 1 / rate)] * tokens))
    seen = virtual(lambda: consume(stage("time:45")(upstream.stream())))
    return [(t, e.offset) for t, e in seen if isinstance(e, TextDelta)]


def test_the_first_token_goes_out_at_once_and_short_answers_keep_the_specs_pace() -> None:
    shown = updates(800, rate=400)  # 4,000 characters in 2 s
    assert shown[0] == (pytest.approx(1 / 400), 0)
    gaps = [b - a for (a, _), (b, _) in zip(shown, shown[1:-1], strict=False)]
    assert max(gaps) == pytest.approx(0.045, abs=0.003)  # ~22 updates/s throughout


def test_two_thousand_tokens_still_update_at_least_ten_times_a_second() -> None:
    shown = updates(2_000, rate=400)
    span = shown[-1][0] - shown[0][0]
    assert (len(shown) - 1) / span >= 10


def test_a_long_answers_updates_cost_a_bounded_share_of_the_page() -> None:
    shown = updates(20_000, rate=400)  # 100,000 characters in 50 s, as in the issue
    # Render work: each update re-renders everything shown.  Past 20,000 characters it must fall
    # well below a fixed 22 updates/s (which re-renders ~2.2 M characters a second at 100k).
    late = [(t, n) for t, n in shown if n > 50_000]
    span = late[-1][0] - late[0][0]
    rendered_per_s = sum(n for _, n in late[:-1]) / span
    assert rendered_per_s <= 60_000, rendered_per_s
    gaps = [b - a for (a, _), (b, _) in zip(late, late[1:-1], strict=False)]
    assert max(gaps) <= coalesce.MAX_BOUND_S + 0.01  # still at least one update every 2 s
    assert len(shown) < 400  # a fixed 45 ms bound would send ~1,100
