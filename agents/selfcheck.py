"""Self-check: ask the same provider again, and measure how well the new answers agree with the first.

A model that knows a fact tends to say it again when sampled; one that makes
it up tends to say something different each time (the idea of SelfCheckGPT
and of NeMo Guardrails' self-check rail).  After an answer has ended,
``self_check`` samples ``samples`` more answers to the same messages at a
temperature above 0 and scores their agreement with the original in [0, 1];
low agreement flags the answer.

Similarity (``similarity``) is the token F1 of SQuAD's answer evaluation: both
texts are normalised (accents and case folded, punctuation and the articles
a/an/the dropped) and compared as bags of words.  Words of the user's question
are left out first: "The capital of Andorra is Montserrat" and "The capital of
Andorra is La Coruna" repeat the question and disagree on everything else.
It needs no extra model, and on short answers it is what a reader would call
agreement ("Paris." and "It is Paris" agree on "paris"; "Lyon" does not).

It never runs on the streaming path: the caller starts it once the answer is
done (as its own task) and may cancel it at any time; the sample streams are
closed then.  Each sample is one request; its tokens are counted from the
provider's ``Scored`` pieces (``None`` when the provider reports none).  A
sample that fails raises: the caller treats a self-check that could not run as
failed, never as a pass.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace

from agents.providers.base import ChatMessage, GenerationParams, Provider, Scored

#: Extra answers sampled per check (SelfCheckGPT's ablations flatten out after a few samples).
DEFAULT_SAMPLES = 3
#: Sampling temperature of the extra answers: an unsure model wanders, a sure one repeats itself.
#: Chosen on the first 56 capital questions with the embedded model: agreement AUROC 0.94 at 0.5,
#: 0.68 at 1.0 (where even right answers drift into rambling that agrees with nothing).  On all 248
#: (``bench/bench_hallucination.py``, samples vary from run to run): 0.79 [0.73, 0.85], for 37 extra
#: tokens per answer; the token confidence (``agents.confidence``) does better there, at no cost.
DEFAULT_TEMPERATURE = 0.5
#: Below this agreement the answer is flagged: the point that best separated right from wrong answers
#: in that run of 248 (Youden's J, chosen on the same run): it flagged 76 % of the wrong answers and
#: 25 % of the right ones.
DEFAULT_THRESHOLD = 0.4

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NOT_WORD = re.compile(r"[^\w\s]")


@dataclass(frozen=True, slots=True)
class SelfCheck:
    """What a self-check found and what it cost."""

    #: Mean similarity of the samples to the answer, in [0, 1]; 1 means every sample said the same.
    agreement: float
    #: The sampled answers, in the order they were requested.
    samples: tuple[str, ...]
    #: Requests made to the provider (one per sample).
    requests: int
    #: Model tokens the samples cost, when the provider reports them (``Scored`` pieces); else ``None``.
    tokens: int | None

    def flagged(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        """True when the samples agree with the answer less than ``threshold``."""
        return self.agreement < threshold


def normalize(text: str) -> list[str]:
    """SQuAD-style answer normalisation: fold accents and case, drop punctuation and articles; the words."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    folded = _NOT_WORD.sub(" ", folded).replace("_", " ")
    return _ARTICLES.sub(" ", folded).split()


def similarity(a: str, b: str, ignore: frozenset[str] = frozenset()) -> float:
    """Token F1 of the normalised texts without the words in ``ignore``, in [0, 1]: 1 for the same words."""
    wa = [w for w in normalize(a) if w not in ignore]
    wb = [w for w in normalize(b) if w not in ignore]
    if not wa or not wb:
        return float(wa == wb)
    common = sum((Counter(wa) & Counter(wb)).values())
    if not common:
        return 0.0
    precision, recall = common / len(wb), common / len(wa)
    return 2 * precision * recall / (precision + recall)


def sample_budget(answer: str) -> int:
    """Tokens allowed per sample: about twice the answer's (4 characters a token), at least 16.

    A sample much longer than the answer cannot agree with it better, and an
    unsure small model at temperature 1 may ramble to its full token limit.
    """
    return max(16, 2 * (len(answer) // 4 + 1))


async def _sample(
    provider: Provider, messages: Sequence[ChatMessage], params: GenerationParams
) -> tuple[str, int | None]:
    parts: list[str] = []
    tokens = 0
    scored = False
    async with aclosing(provider.stream(messages, params)) as stream:
        async for piece in stream:
            if isinstance(piece, Scored):
                parts.append(piece.text)
                tokens += len(piece.tokens)
                scored = True
            elif isinstance(piece, str):
                parts.append(piece)
    return "".join(parts), tokens if scored else None


async def self_check(
    provider: Provider,
    messages: Sequence[ChatMessage],
    answer: str,
    *,
    samples: int = DEFAULT_SAMPLES,
    params: GenerationParams | None = None,
) -> SelfCheck:
    """Sample ``samples`` more answers to ``messages`` and score their agreement with ``answer``.

    ``messages`` are the ones the answer was generated from (without the
    answer); the words of the last user message do not count as agreement.
    ``params`` defaults to ``DEFAULT_TEMPERATURE`` and ``sample_budget(answer)``
    tokens; a temperature of 0 is raised to the default, since greedy samples
    would only repeat the answer.  The samples
    run concurrently; cancelling the call cancels and closes them all.
    """
    if samples < 1:
        raise ValueError("a self-check needs at least one sample")
    base = params or GenerationParams()
    params = replace(
        base,
        temperature=base.temperature if base.temperature else DEFAULT_TEMPERATURE,
        max_tokens=base.max_tokens or sample_budget(answer),
        seed=None,  # the same seed would give the same sample every time
    )
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_sample(provider, messages, params)) for _ in range(samples)]
    except BaseExceptionGroup as failed:
        # One failed sample fails the check (the group cancelled the others): raise the error itself.
        raise failed.exceptions[0] from None
    results = [task.result() for task in tasks]
    texts = tuple(text for text, _ in results)
    counts = [count for _, count in results]
    question = next((m.content for m in reversed(messages) if m.role == "user"), "")
    ignore = frozenset(normalize(question))
    agreement = sum(similarity(answer, text, ignore) for text in texts) / len(texts)
    tokens = None if any(count is None for count in counts) else sum(c for c in counts if c is not None)
    return SelfCheck(agreement=agreement, samples=texts, requests=len(texts), tokens=tokens)
