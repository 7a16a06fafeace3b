"""Continue after a cut-off answer on the embedded model: exact, and it does not decode the answer again."""

from __future__ import annotations

import pytest

from agents.providers.base import ChatMessage, Finish, GenerationParams
from agents.providers.local import LocalModel, locate_model

pytestmark = pytest.mark.model

STORY = [
    ChatMessage("system", "You tell stories."),
    ChatMessage("user", "Write a long story about a dragon and a knight."),
]


async def test_continue_after_a_cut_off_resumes_from_the_cache_byte_identically() -> None:
    model = LocalModel(locate_model(), slots=1)
    try:
        whole = "".join(
            [
                p
                async for p in model.stream(STORY, GenerationParams(temperature=0.0, max_tokens=160))
                if isinstance(p, str)
            ]
        )
        cut = [p async for p in model.stream(STORY, GenerationParams(temperature=0.0, max_tokens=100))]
        assert Finish("length", 100) in cut
        shown = "".join(p for p in cut if isinstance(p, str))
        await model.wait_idle()  # the user reads the cut-off answer before pressing Continue
        decoded = model.batched_tokens + model.prompt_tokens_evaluated
        rest = [p async for p in model.stream(STORY, GenerationParams(temperature=0.0, max_tokens=160), shown)]
        decoded = model.batched_tokens + model.prompt_tokens_evaluated - decoded
    finally:
        model.close()
    assert shown + "".join(p for p in rest if isinstance(p, str)) == whole
    # 60 new tokens (the last one sampled, not decoded) and the cut-off answer's last token: nothing more.
    assert decoded <= 61, f"Continue decoded {decoded} tokens: the cut-off answer was evaluated again"
