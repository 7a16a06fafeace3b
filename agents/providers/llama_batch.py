"""Several sequences in ONE llama.cpp context, decoded together: the embedded model's batch engine.

``Llama`` (llama-cpp-python's high-level class) drives one sequence per
context.  Serving several chats at once is faster when their next tokens go
through the model in one ``llama_decode``: the weights are read once per step
for all of them (``bench/bench_local_batching.py``; measured 1.3-1.8x the
tokens/s of one sequence with 2-4 sequences on the 2-core machine).  This
module is the small layer over llama.cpp's C API that does it:

- ``Engine``: one context with ``n_seq_max`` sequences and a per-sequence KV
  cache (``kv_unified`` off, each sequence ``n_ctx`` tokens), one reusable
  ``llama_batch``, ``decode`` of (token, position, sequence, logits?) items,
  the logits row of an item, and per-sequence cache trimming.
- ``Sampler``: one sampler chain per answer, built as ``Llama`` builds its
  own (repeat penalty over the last 64 tokens, then greedy, or top-k, typical,
  top-p, min-p, temperature and a seeded draw), so a sequence samples from its
  own row of a shared batch.

Measured (a probe on this machine, 150 greedy steps): with a per-sequence cache
a sequence's logits are bit-identical decoded alone or beside 1-3 others whose
number changes as they come and go, so batching never changes a greedy answer.
What does change logits is how a sequence's *own* tokens were grouped (a prompt
in chunks vs one token at a time), which is why ``local.py`` decodes a prompt
chunk alone and only single tokens together (``docs/local-serving.md``).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agents.errors import ProviderError
from agents.providers import llama_compat

if TYPE_CHECKING:
    from llama_cpp import Llama

#: Llama's default for the repeat penalty's window (``last_n_tokens_size``).
PENALTY_LAST_N = 64
#: llama.cpp's "pick a random seed" value.
RANDOM_SEED = 0xFFFFFFFF


class Engine:
    """One llama.cpp context on ``llm``'s weights with ``sequences`` independent KV caches of ``n_ctx`` tokens."""

    def __init__(self, llm: Llama, *, sequences: int, n_ctx: int, n_batch: int, n_threads: int) -> None:
        import llama_cpp

        self._api = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * sequences
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = sequences
        params.kv_unified = False  # a cache per sequence: neighbours never change a sequence's logits
        # Flash attention splits a single token's attention over the cache between the threads once it
        # holds 256 tokens, so the thread count (which ThreadTuner changes as the load changes) would change
        # a greedy answer; the plain attention is the same bit for bit with any count, at the same speed.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llama_compat.model_handle(llm), params)
        if not self.ctx:
            raise ProviderError("llama.cpp could not create the local model's context.", provider="local")
        self._memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_batch = n_batch
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, sequences)
        self.n_vocab = llm.n_vocab()
        self.sequences = sequences

    def decode(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence, logits wanted)`` items."""
        if not 0 < len(items) <= self.n_batch:
            raise ValueError(f"a batch holds 1 to {self.n_batch} tokens, not {len(items)}")
        batch = self._batch
        batch.n_tokens = len(items)
        for i, (token, pos, seq, logits) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq
        status = self._api.llama_decode(self.ctx, batch)
        if status != 0:
            raise ProviderError(f"llama.cpp could not decode a batch (status {status}).", provider="local")

    def logits(self, row: int) -> Any:
        """The logits of the ``row``-th item of the last decode that asked for them (a numpy view: read it now)."""
        import numpy as np

        return np.ctypeslib.as_array(self._api.llama_get_logits_ith(self.ctx, row), shape=(self.n_vocab,))

    def forget(self, seq: int, keep: int) -> None:
        """Drop sequence ``seq``'s cache from position ``keep`` on."""
        self._api.llama_memory_seq_rm(self._memory, seq, keep, -1)

    def save(self, seq: int) -> bytes:
        """Sequence ``seq``'s cache as bytes (its K and V values, bit for bit), to ``restore`` later."""
        size = self._api.llama_state_seq_get_size(self.ctx, seq)
        buffer = (ctypes.c_uint8 * size)()
        written = self._api.llama_state_seq_get_data(self.ctx, buffer, size, seq)
        if written != size:
            raise ProviderError("llama.cpp could not save a sequence's cache.", provider="local")
        return bytes(buffer)

    def restore(self, seq: int, state: bytes) -> None:
        """Put a ``save``d cache back as sequence ``seq`` (whose own cache is dropped first)."""
        self.forget(seq, 0)
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if self._api.llama_state_seq_set_data(self.ctx, buffer, len(state), seq) != len(state):
            self.forget(seq, 0)
            raise ProviderError("llama.cpp could not restore a sequence's cache.", provider="local")

    def set_threads(self, n: int) -> None:
        self._api.llama_set_n_threads(self.ctx, n, n)

    def close(self) -> None:
        if self.ctx:
            self._api.llama_batch_free(self._batch)
            self._api.llama_free(self.ctx)
            self.ctx = None


class Sampler:
    """One answer's sampler chain, as ``Llama`` builds it, sampling from that answer's row of a batch."""

    def __init__(
        self,
        engine: Engine,
        *,
        temperature: float,
        top_k: int,
        top_p: float,
        min_p: float,
        repeat_penalty: float,
        seed: int | None,
    ) -> None:
        import llama_cpp

        self._api = llama_cpp
        self._chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = self._add
        add(llama_cpp.llama_sampler_init_penalties(engine.n_vocab, PENALTY_LAST_N, repeat_penalty, 0.0, 0.0))
        if temperature == 0:
            add(llama_cpp.llama_sampler_init_greedy())
        else:
            add(llama_cpp.llama_sampler_init_top_k(top_k))
            add(llama_cpp.llama_sampler_init_typical(1.0, 1))
            add(llama_cpp.llama_sampler_init_top_p(top_p, 1))
            add(llama_cpp.llama_sampler_init_min_p(min_p, 1))
            add(llama_cpp.llama_sampler_init_temp(temperature))
            add(llama_cpp.llama_sampler_init_dist(RANDOM_SEED if seed is None else ctypes.c_uint32(seed).value))

    def _add(self, sampler: Any) -> None:
        self._api.llama_sampler_chain_add(self._chain, sampler)

    def accept(self, token: int) -> None:
        """Count ``token`` as already said (the repeat penalty sees it): a continuation's prefix."""
        self._api.llama_sampler_accept(self._chain, token)

    def sample(self, engine: Engine, row: int) -> int:
        """The next token from ``row`` of the last decode (llama.cpp accepts it into the chain itself)."""
        return int(self._api.llama_sampler_sample(self._chain, engine.ctx, row))

    def close(self) -> None:
        if self._chain is not None:
            self._api.llama_sampler_free(self._chain)
            self._chain = None
