"""A sampled token's log-probability from a model's raw logits (the embedded model's hallucination check)."""

from __future__ import annotations

import math
from typing import Any

from agents.providers.base import TokenLogprob

#: How many of the best alternatives to keep per token (as OpenAI's ``top_logprobs``).
TOP = 5
#: Alternatives more than this many nats below the best (probability ratio under 1e-5) are left out of
#: ``top``: finding them would mean a partial sort of the whole vocabulary, the bulk of the cost per token.
TOP_WITHIN = 11.5


def token_logprob(logits: Any, token: int, text: str, top: int = TOP) -> TokenLogprob:
    """``token``'s natural-log probability under ``logits`` (a numpy vector), with up to ``top`` best.

    The log-softmax of the raw logits, before temperature and the sampling
    filters: the model's own belief, the same whatever the sampling settings.
    """
    import numpy as np

    peak = float(logits.max())
    total = peak + math.log(float(np.exp(logits - peak).sum()))
    best = logits[logits > peak - TOP_WITHIN]
    if best.shape[0] > top:
        best = np.partition(best, -top)[-top:]
    ranked = tuple(sorted((float(x) - total for x in best), reverse=True))
    return TokenLogprob(text, float(logits[token]) - total, ranked)
