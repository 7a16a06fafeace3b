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


if __name__ == "__main__":
    main()
