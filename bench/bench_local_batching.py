"""Would batched decoding pay on this machine, and would it keep greedy answers exact? (issue 14)

Two measurements with raw llama-cpp-python, to choose between decoding several
answers in one llama.cpp batch and taking turns token by token:

1. Cost of one decode of k tokens (k = 1, 2, 4, 8) after a 64-token prompt:
   ``k * t(1) / t(k)`` is the most aggregate speed-up a k-answer batch could give.
   (k tokens of one sequence stand in for one token each of k sequences: the
   matrix products, which dominate, are the same size.)
2. Whether the cache a sequence leaves depends on the batch shape: the same 48
   tokens evaluated one at a time or as one batch, then the logits of the same
   next token compared bit for bit.  If they differ, a greedy answer decoded in a
   batch with others could differ from the same answer decoded alone.
3. Real multi-sequence batching (issue 14, item 3): ``SEQS`` sequences in ONE
   llama.cpp context, one ``llama_batch`` per step carrying one token of each
   sequence (its own ``seq_id``), with a per-sequence KV cache (``kv_unified``
   off) and with a unified one, against ``SEQS`` separate contexts decoded in
   turns (what the app does) and against one sequence alone; aggregate tokens/s
   of each, in the same run.  Then whether a sequence's logits depend on what
   else is in its batch (same tokens, decoded alone or beside three others).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.providers.local import DEFAULT_N_CTX, default_threads, locate_model  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "15"))
TEXT = "The lighthouse keeper climbed the stairs every evening to light the lamp before the storm. " * 20


def decode_ms(llm: object, prompt: list[int], extra: list[int]) -> float:
    llm.n_tokens = len(prompt)  # type: ignore[attr-defined]
    start = time.perf_counter()
    llm.eval(extra)  # type: ignore[attr-defined]
    return (time.perf_counter() - start) * 1000


def last_logits(llm: object, chunks: list[list[int]]) -> np.ndarray:
    llm.reset()  # type: ignore[attr-defined]
    for chunk in chunks:
        llm.eval(chunk)  # type: ignore[attr-defined]
    ctx = llm._ctx  # type: ignore[attr-defined]
    return np.ctypeslib.as_array(ctx.get_logits(), shape=(llm.n_vocab(),)).copy()  # type: ignore[attr-defined]


def main() -> None:
    from llama_cpp import Llama

    threads = default_threads()
    llm = Llama(model_path=str(locate_model()), n_ctx=DEFAULT_N_CTX, n_threads=threads,
                n_threads_batch=threads, verbose=False)  # fmt: skip
    tokens = llm.tokenize(TEXT.encode())
    prompt = tokens[:64]
    llm.reset()
    llm.eval(prompt)
    print(f"{threads} threads, {REPS} reps per size, median ms per decode")
    base = 0.0
    for k in (1, 2, 4, 8):
        runs = [decode_ms(llm, prompt, tokens[64 : 64 + k]) for _ in range(REPS)]
        med = statistics.median(runs)
        base = base or med
        print(f"  batch of {k}: {med:6.2f} ms  -> at most {k * base / med:4.2f}x the tokens/s of one answer")

    seq = tokens[:49]
    batched = last_logits(llm, [seq[:48], seq[48:]])
    single = last_logits(llm, [[t] for t in seq[:48]] + [seq[48:]])
    same = np.array_equal(batched, single)
    print(f"cache built one token at a time vs in one batch: identical logits: {same}; "
          f"max difference {np.abs(batched - single).max():.3g}; same argmax: {batched.argmax() == single.argmax()}")


SEQS = int(os.environ.get("BENCH_SEQS", "4"))
STEPS = int(os.environ.get("BENCH_STEPS", "48"))


class Context:
    """A raw llama.cpp context on ``llm``'s weights, with room for ``seqs`` sequences, and one reusable batch."""

    def __init__(self, llm: object, seqs: int, *, unified: bool, threads: int) -> None:
        import llama_cpp

        self.api = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = 1024 * seqs
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = seqs
        params.kv_unified = unified
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llm._model.model, params)  # type: ignore[attr-defined]
        assert self.ctx, "llama.cpp could not create the context"
        self.batch = llama_cpp.llama_batch_init(512, 0, seqs)
        self.n_vocab = llm.n_vocab()  # type: ignore[attr-defined]

    def decode(self, items: list[tuple[int, int, int]]) -> None:
        """One ``llama_decode`` of ``(token, position, sequence)`` items; logits for every item."""
        batch = self.batch
        batch.n_tokens = len(items)
        for i, (token, pos, seq) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, True
            batch.seq_id[i][0] = seq
        rc = self.api.llama_decode(self.ctx, batch)
        assert rc == 0, f"llama_decode returned {rc}"

    def logits(self, i: int) -> np.ndarray:
        row = self.api.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(row, shape=(self.n_vocab,)).copy()

    def close(self) -> None:
        self.api.llama_batch_free(self.batch)
        self.api.llama_free(self.ctx)


def aggregate_tok_s(llm: object, prompt: list[int], seqs: int, mode: str, threads: int) -> float:
    """Tokens/s over ``seqs`` sequences after a prompt each: "batch" (one context), "unified", or "turns"."""
    one_context = mode in ("batch", "unified")
    contexts = (
        [Context(llm, seqs, unified=mode == "unified", threads=threads)]
        if one_context
        else [Context(llm, 1, unified=False, threads=threads) for _ in range(seqs)]
    )
    try:
        for s in range(seqs):
            ctx, seq = (contexts[0], s) if one_context else (contexts[s], 0)
            ctx.decode([(t, i, seq) for i, t in enumerate(prompt)])
        start = time.perf_counter()
        for step in range(STEPS):
            token, pos = prompt[step % len(prompt)], len(prompt) + step
            if one_context:
                contexts[0].decode([(token, pos, s) for s in range(seqs)])
            else:
                for ctx in contexts:
                    ctx.decode([(token, pos, 0)])
        return seqs * STEPS / (time.perf_counter() - start)
    finally:
        for ctx in contexts:
            ctx.close()


def neighbours_change_logits(llm: object, prompt: list[int], threads: int) -> tuple[bool, float, bool]:
    """Sequence 0 decoded alone, then the same tokens beside 3 other sequences: identical logits?"""
    runs = []
    for company in (0, 3):
        ctx = Context(llm, 4, unified=False, threads=threads)
        try:
            for s in range(1 + company):
                ctx.decode([(t, i, s) for i, t in enumerate(prompt if s == 0 else prompt[::-1])])
            for step in range(8):
                pos = len(prompt) + step
                ctx.decode([(prompt[step], pos, s) for s in range(1 + company)])
            runs.append(ctx.logits(0))
        finally:
            ctx.close()
    alone, together = runs
    return bool(np.array_equal(alone, together)), float(np.abs(alone - together).max()), bool(
        alone.argmax() == together.argmax()
    )


def sequences_main() -> None:
    from llama_cpp import Llama

    cores = default_threads()
    llm = Llama(model_path=str(locate_model()), n_ctx=256, n_threads=cores, n_threads_batch=cores, verbose=False)
    prompt = llm.tokenize(TEXT.encode())[:64]
    for threads in sorted({1, cores}):
        print(f"{SEQS} sequences x {STEPS} tokens after a 64-token prompt, {threads} thread(s), aggregate tok/s:")
        for rep in range(int(os.environ.get("BENCH_SEQ_REPS", "2"))):
            one = aggregate_tok_s(llm, prompt, 1, "turns", threads)
            turns = aggregate_tok_s(llm, prompt, SEQS, "turns", threads)
            batch = aggregate_tok_s(llm, prompt, SEQS, "batch", threads)
            unified = aggregate_tok_s(llm, prompt, SEQS, "unified", threads)
            print(f"  run {rep + 1}: one sequence {one:5.1f} | {SEQS} contexts in turns {turns:5.1f}"
                  f" ({turns / one:.2f}x) | one context, per-sequence KV {batch:5.1f} ({batch / one:.2f}x)"
                  f" | unified KV {unified:5.1f} ({unified / one:.2f}x)", flush=True)  # fmt: skip
    same, diff, argmax = neighbours_change_logits(llm, prompt, cores)
    print(f"a sequence decoded alone vs beside 3 others: identical logits: {same}; "
          f"max difference {diff:.3g}; same argmax: {argmax}")  # fmt: skip


if __name__ == "__main__":
    if os.environ.get("BENCH_PART", "all") in ("all", "tokens"):
        main()
    if os.environ.get("BENCH_PART", "all") in ("all", "sequences"):
        sequences_main()
