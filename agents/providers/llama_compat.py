"""Every use of llama-cpp-python's private attributes, in one place, checked against the pinned version.

The embedded model needs a few things the public ``Llama`` API does not offer:
the sampler factory (to seed the repeat penalty's history on a continuation),
the context handle (thread count, KV-cache trimming) and the model's vocabulary
(token text, end-of-generation).  They are read here and nowhere else, so an
upgrade that moves them breaks this module and its test
(``tests/agents/test_llama_compat.py``), not the provider at random.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

#: The llama-cpp-python release these accessors were written against (requirements.txt pins it).
PINNED = "0.3.36"


def token_text(llm: Llama, token: int) -> str:
    """The text of one token (for the chat template's BOS/EOS strings)."""
    return str(llm._model.token_get_text(token))


def vocab(llm: Llama) -> Any:
    """The model's vocabulary handle (``llama_vocab_is_eog`` takes it)."""
    return llm._model.vocab


def set_threads(llm: Llama, n: int) -> None:
    """Decode with ``n`` threads from now on."""
    from llama_cpp import llama_set_n_threads

    llama_set_n_threads(llm._ctx.ctx, n, n)


def trim_cache(llm: Llama, keep: int) -> None:
    """Drop the KV cache after the first ``keep`` tokens (every sequence), and say so to ``llm``."""
    llm.n_tokens = keep
    llm._ctx.kv_cache_seq_rm(-1, keep, -1)


@contextmanager
def sampler_seeded_with(llm: Llama, history: list[int]) -> Iterator[None]:
    """Make ``llm.generate``'s fresh sampler start having accepted ``history`` (the repeat penalty sees it)."""
    if not history:
        yield
        return
    make: Callable[..., Any] = type(llm)._init_sampler

    def init_sampler(*args: Any, **kwargs: Any) -> Any:
        sampler = make(llm, *args, **kwargs)
        for token in history:
            sampler.accept(token)
        return sampler

    llm._init_sampler = init_sampler  # type: ignore[method-assign]
    try:
        yield
    finally:
        del llm._init_sampler


def last_logits(llm: Llama) -> Any:
    """The raw logits of the last token decoded (those the sampler just drew from), as a numpy view.

    ``Llama.scores`` holds them only with ``logits_all``, which would copy every row
    of every batch; llama.cpp keeps the last row anyway, so it is read from there.
    """
    import numpy as np
    from llama_cpp import llama_get_logits_ith

    return np.ctypeslib.as_array(llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))


def missing(llm: Llama) -> list[str]:
    """The private attributes this module needs that ``llm`` lacks (empty when the version fits)."""
    wanted = {
        "Llama._init_sampler": hasattr(type(llm), "_init_sampler"),
        "Llama._model.token_get_text": hasattr(getattr(llm, "_model", None), "token_get_text"),
        "Llama._model.vocab": hasattr(getattr(llm, "_model", None), "vocab"),
        "Llama._ctx.ctx": hasattr(getattr(llm, "_ctx", None), "ctx"),
        "Llama._ctx.kv_cache_seq_rm": hasattr(getattr(llm, "_ctx", None), "kv_cache_seq_rm"),
    }
    return [name for name, present in wanted.items() if not present]
