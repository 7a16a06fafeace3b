"""The embedded model reads a prompt at the thread count that is fastest now, as it generates."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.local import CHUNK, LocalModel, locate_model

pytestmark = pytest.mark.model


async def test_prompt_chunks_try_every_thread_count_before_any_token_is_generated() -> None:
    model = LocalModel(locate_model(), slots=1)
    if len(model.threads.candidates) < 2:
        pytest.skip("one core: there is no thread count to choose")
    model._load()
    chunks: list[int] = []  # the thread count of each whole prompt chunk's decode
    engine = model.engine
    real_decode, real_threads = engine.decode, engine.set_threads
    current = [0]

    def set_threads(n: int) -> None:
        current[0] = n
        real_threads(n)

    def decode(items: Sequence[tuple[int, int, int, bool]]) -> None:
        if len(items) == CHUNK:
            chunks.append(current[0])
        real_decode(items)

    engine.set_threads, engine.decode = set_threads, decode  # type: ignore[method-assign]
    history = [ChatMessage("user", f"Tell me about topic {i}, with words.") for i in range(40)]
    try:
        items = [p async for p in model.stream(history, GenerationParams(temperature=0.0, max_tokens=1))]
    finally:
        model.close()
    assert items and len(chunks) >= 4, f"a long prompt is read in whole chunks ({chunks})"
    # On a busy machine one thread reads a prompt about five times faster than two (docs/local-serving.md):
    # the tuner must time both counts on the prompt itself, not keep every core until a token is generated.
    assert set(chunks) == set(model.threads.candidates), f"prompt chunks decoded with {chunks}"
