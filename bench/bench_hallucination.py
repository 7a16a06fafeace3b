"""Hallucination check benchmark (issue 18): how well each score tells right answers from wrong ones, and its cost.

The embedded model (SmolLM2-135M) answers "What is the capital of X? Answer
with the city name only." greedily for every country of
``bench/data/capitals.tsv`` (GeoNames and countryinfo, see its header),
through the app's own ``LocalProvider`` with log-probabilities on: the tokens
scored are those of the ``Scored`` pieces the runner scores, so the figures are
the check's own.  ``--raw`` answers through a raw llama-cpp-python loop instead
(log-softmax of the raw logits, as the provider computes it), which the
per-token cost figures need.

Printed:

1. right / wrong counts (an answer is right when it names a listed capital
   outside its echo of the question's country name; ``is_right``);
2. AUROC of every score, with a bootstrap 95 % interval, against 0.5;
3. the default score (``agents.confidence.answer_confidence``) against the
   plain mean token log-probability in the same run: both AUROCs, a paired
   bootstrap interval of the difference, and both on each half of the
   questions (the default was chosen on the even half);
4. how many right and wrong answers ``DEFAULT_THRESHOLD`` flags;
5. the self-check (``agents.selfcheck``, on the app's ``LocalProvider``):
   AUROC of its agreement and its extra tokens per answer;
6. with ``--raw``, cost: the time to compute the log-probabilities from the
   logits and the scores, against the decode time per token.  The app's own
   tokens/s and TTFT with ``hallucination=flag`` against without are printed by
   ``bench/bench_confidence_cost.py``.

    .venv/bin/python bench/bench_hallucination.py [--limit N] [--selfcheck N] [--samples 3] [--save F | --load F]

Runs in a few minutes on an idle 2-core machine (``--selfcheck 0`` skips part 5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.confidence import DEFAULT_THRESHOLD, answer_confidence, sentence_confidences, words  # noqa: E402
from agents.providers import llama_compat  # noqa: E402
from agents.providers.base import ChatMessage, GenerationParams, TokenLogprob  # noqa: E402
from agents.providers.local import locate_model  # noqa: E402
from agents.selfcheck import DEFAULT_SAMPLES, DEFAULT_TEMPERATURE, self_check  # noqa: E402
from agents.selfcheck import DEFAULT_THRESHOLD as SELFCHECK_THRESHOLD  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "capitals.tsv"
QUESTION = "What is the capital of {}? Answer with the city name only."
MAX_TOKENS = 32
TOP = 5
TARGET_AUROC = 0.85
TARGET_SPEED_RATIO = 0.95
#: The self-check's temperature was chosen on the first this many questions (``agents.selfcheck``).
CHOSEN_ON = 56


@dataclass(frozen=True)
class Question:
    """One country and every capital its sources list."""

    iso: str
    country: str
    accepted: tuple[str, ...]


@dataclass
class Answer:
    """The model's greedy answer to one question, token by token."""

    question: Question
    tokens: list[TokenLogprob]
    right: bool = False

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)


def load_questions(path: Path = DATA) -> list[Question]:
    """The question set: tab-separated ISO code, country, capitals joined by '|'; '#' lines are its header."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        iso, country, accepted = line.split("\t")
        out.append(Question(iso, country, tuple(accepted.split("|"))))
    return out


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " " + re.sub(r"[^a-z0-9]+", " ", folded.casefold()).strip() + " "


def _spans(needle: str, hay: str) -> list[tuple[int, int]]:
    out = []
    at = hay.find(needle)
    while at >= 0:
        out.append((at, at + len(needle)))
        at = hay.find(needle, at + 1)
    return out


def is_right(answer: str, question: Question) -> bool:
    """True when ``answer`` names one of the accepted capitals, accents, case and punctuation aside.

    A capital found only inside the answer's echo of the country's name does
    not count ("The capital of Guinea-Bissau is Porto-Bisso" does not name
    Bissau; "Sao Tome and Principe is the capital of ..." does not name Sao
    Tome).  Where the capital is the country's name (Djibouti), the answer must
    say it once more than its echo, or be that name alone.
    """
    text, country = _norm(answer), _norm(question.country)
    echoes = _spans(country, text)
    for capital in question.accepted:
        name = _norm(capital)
        if not name.strip():
            continue
        found = _spans(name, text)
        if name == country:
            if len(found) >= 2 or text == name:
                return True
        elif any(not any(s <= a and b <= e for s, e in echoes) for a, b in found):
            return True
    return False


# -- the model ---------------------------------------------------------------


class Model:
    """The embedded GGUF through raw llama-cpp-python: greedy decoding with log-probs from the raw logits."""

    def __init__(self, threads: int) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llm = Llama(
            model_path=str(locate_model()), n_ctx=512, n_threads=threads, n_threads_batch=threads, verbose=False
        )
        bos = llama_compat.token_text(self.llm, self.llm.token_bos()) if self.llm.token_bos() != -1 else ""
        eos = llama_compat.token_text(self.llm, self.llm.token_eos())
        self.format = Jinja2ChatFormatter(
            template=self.llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos
        )
        self.vocab = llama_compat.vocab(self.llm)
        self.n_vocab = self.llm.n_vocab()
        #: Seconds spent decoding, and computing log-probs + top-5 from the logits, per generated token.
        self.decode_times: list[float] = []
        self.logprob_times: list[float] = []

    def _logits(self) -> np.ndarray:
        from llama_cpp import llama_get_logits_ith

        return np.ctypeslib.as_array(llama_get_logits_ith(self.llm._ctx.ctx, -1), shape=(self.n_vocab,))

    def answer(self, question: Question) -> Answer:
        from llama_cpp import llama_vocab_is_eog

        prompt = self.format(messages=[{"role": "user", "content": QUESTION.format(question.country)}]).prompt
        self.llm.reset()
        self.llm.eval(self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        tokens: list[TokenLogprob] = []
        pending = b""
        for _ in range(MAX_TOKENS):
            started = time.perf_counter()
            raw = self._logits()
            token = int(raw.argmax())  # greedy: the sampling the app does at temperature 0
            picked = time.perf_counter()
            logits = raw.astype(np.float64)  # from here on, the work the check adds
            top_logit = logits[token]
            log_norm = top_logit + math.log(float(np.exp(logits - top_logit).sum()))
            top = np.partition(logits, -TOP)[-TOP:]
            scored = TokenLogprob(
                "", float(top_logit - log_norm), tuple(sorted((float(x - log_norm) for x in top), reverse=True))
            )
            self.logprob_times.append(time.perf_counter() - picked)
            if llama_vocab_is_eog(self.vocab, token):
                break
            pending += self.llm.detokenize([token])
            try:
                text, pending = pending.decode("utf-8"), b""
            except UnicodeDecodeError:
                text = ""  # a token that splits a character: its text comes with the next one
            tokens.append(TokenLogprob(text, scored.logprob, scored.top))
            self.llm.eval([token])
            self.decode_times.append(time.perf_counter() - started - (self.logprob_times[-1]))
        return Answer(question, tokens)


async def app_answers(questions: Sequence[Question]) -> list[Answer]:
    """Every question answered through the app's own ``LocalProvider`` (greedy, log-probs on): the product's figures.

    The tokens are those of the ``Scored`` pieces the runner scores, so the AUROC printed is the check's own.
    """
    from agents.providers.base import ChatMessage, GenerationParams, Scored
    from agents.providers.local import LocalProvider

    provider = LocalProvider()
    params = GenerationParams(temperature=0.0, max_tokens=MAX_TOKENS, logprobs=True)
    answers = []
    for question in questions:
        tokens: list[TokenLogprob] = []
        async for piece in provider.stream([ChatMessage("user", QUESTION.format(question.country))], params):
            if isinstance(piece, Scored):
                tokens.extend(piece.tokens)  # their texts spell the piece (a held-back token's is empty)
            elif isinstance(piece, str) and piece:
                raise SystemExit("the local provider gave text without log-probabilities")
        answers.append(Answer(question, tokens))
    return answers


# -- statistics --------------------------------------------------------------


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random right answer scores above a random wrong one (ties count half)."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    ranks = (upper - (counts - 1) / 2)[inverse]  # average rank of each tie group, from 1
    n_right = int(labels.sum())
    n_wrong = len(labels) - n_right
    if not n_right or not n_wrong:
        return float("nan")
    return float((ranks[labels].sum() - n_right * (n_right + 1) / 2) / (n_right * n_wrong))


def bootstrap(statistic: Callable[[np.ndarray], float], n: int, reps: int, seed: int = 0) -> tuple[float, float]:
    """A 95 % percentile interval of ``statistic`` over resamples of the ``n`` questions."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(reps)]
    finite = [v for v in values if not math.isnan(v)]
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def _margin(t: TokenLogprob) -> float:
    return t.top[0] - t.top[1] if len(t.top) > 1 else 0.0


def _entropy(t: TokenLogprob) -> float:
    """Entropy of the top-5 distribution, the rest of the mass as one more outcome."""
    probs = [math.exp(x) for x in t.top]
    probs.append(max(1e-12, 1.0 - sum(probs)))
    return -sum(p * math.log(p) for p in probs if p > 0)


def _sentence_min(answer: Answer) -> float:
    spans = sentence_confidences(answer.text, answer.tokens)
    return min(score for _, _, score in spans) if spans else 0.0


def _lowest(k: int) -> Callable[[Answer], float]:
    return lambda a: statistics.fmean(sorted(t.logprob for t in a.tokens)[:k])


#: Every score tried; higher must mean surer.  "default" is the app's answer_confidence.
SCORES: dict[str, Callable[[Answer], float]] = {
    "default: per-word geometric mean": lambda a: answer_confidence(a.tokens) or 0.0,
    "mean token logprob": lambda a: statistics.fmean(t.logprob for t in a.tokens),
    "min token logprob": lambda a: min(t.logprob for t in a.tokens),
    "first token logprob": lambda a: a.tokens[0].logprob,
    "sentence-level min (default per sentence)": _sentence_min,
    "mean of the 3 lowest token logprobs": _lowest(3),
    "mean top-1 vs top-2 margin": lambda a: statistics.fmean(_margin(t) for t in a.tokens),
    "min top-1 vs top-2 margin": lambda a: min(_margin(t) for t in a.tokens),
    "minus mean top-5 entropy": lambda a: -statistics.fmean(_entropy(t) for t in a.tokens),
    "min word logprob": lambda a: min(lp for _, lp in words(a.tokens)),
    "sum / sqrt(n) (length-normalised)": lambda a: sum(t.logprob for t in a.tokens) / math.sqrt(len(a.tokens)),
    "total logprob (grows with length)": lambda a: sum(t.logprob for t in a.tokens),
    "minus length in tokens (reference)": lambda a: -len(a.tokens),
}
DEFAULT = "default: per-word geometric mean"
MEAN = "mean token logprob"


def _figure(value: float, interval: tuple[float, float]) -> str:
    low, high = interval
    verdict = "above 0.5" if low > 0.5 else ("below 0.5" if high < 0.5 else "not distinguishable from 0.5")
    return f"{value:.3f} [{low:.3f}, {high:.3f}] {verdict}"


def report_scores(answers: list[Answer], reps: int) -> None:
    labels = np.array([a.right for a in answers])
    n = len(answers)
    table = {name: np.array([f(a) for a in answers], dtype=float) for name, f in SCORES.items()}
    print(f"\nAUROC (right vs wrong), bootstrap 95 % interval over {reps} resamples of the {n} questions:")
    for name, values in table.items():
        value = auroc(values, labels)
        interval = bootstrap(lambda idx, v=values: auroc(v[idx], labels[idx]), n, reps)
        print(f"  {name:44s} {_figure(value, interval)}")
    default, mean = table[DEFAULT], table[MEAN]
    a_default, a_mean = auroc(default, labels), auroc(mean, labels)
    diff = bootstrap(lambda idx: auroc(default[idx], labels[idx]) - auroc(mean[idx], labels[idx]), n, reps, seed=1)
    print(
        f"\nDefault vs mean token logprob, same run: {a_default:.3f} vs {a_mean:.3f}, difference "
        f"{a_default - a_mean:+.3f} [{diff[0]:+.3f}, {diff[1]:+.3f}]; target AUROC >= {TARGET_AUROC}: "
        f"{'met' if a_default >= TARGET_AUROC else 'NOT met'} (ratio {a_default / TARGET_AUROC:.3f})"
    )
    for half, name in ((0, "even half (where the default was chosen)"), (1, "odd half (held out)")):
        idx = np.arange(n) % 2 == half
        print(f"  {name:42s} default {auroc(default[idx], labels[idx]):.3f}, mean {auroc(mean[idx], labels[idx]):.3f}")
    flags = default < DEFAULT_THRESHOLD
    print(
        f"\nDEFAULT_THRESHOLD {DEFAULT_THRESHOLD}: flags {flags[~labels].mean():.0%} of wrong answers "
        f"({int(flags[~labels].sum())}/{int((~labels).sum())}) and {flags[labels].mean():.0%} of right ones "
        f"({int(flags[labels].sum())}/{int(labels.sum())})"
    )


async def _self_checks(
    answers: list[Answer], samples: int, temperature: float, tokenize: Callable[[str], int], log: Path | None
) -> list[tuple[float, int]]:
    from agents.providers.local import LocalProvider

    provider = LocalProvider()
    out = []
    for answer in answers:
        messages = [ChatMessage("user", QUESTION.format(answer.question.country))]
        params = GenerationParams(temperature=temperature)
        result = await self_check(provider, messages, answer.text, samples=samples, params=params)
        # LocalProvider yields plain text until its Scored pieces land: count the samples' tokens here.
        tokens = result.tokens if result.tokens is not None else sum(tokenize(s) for s in result.samples)
        out.append((result.agreement, tokens))
        if log is not None:  # as it goes, so a run cut short still leaves its figures
            row = {"iso": answer.question.iso, "agreement": result.agreement, "tokens": tokens}
            with log.open("a", encoding="utf-8") as file:
                file.write(json.dumps({**row, "samples": result.samples}, ensure_ascii=False) + "\n")
    provider.engine.close()
    return out


def report_self_check(
    answers: list[Answer],
    samples: int,
    temperature: float,
    reps: int,
    tokenize: Callable[[str], int],
    log: Path | None = None,
) -> None:
    started = time.perf_counter()
    results = asyncio.run(_self_checks(answers, samples, temperature, tokenize, log))
    seconds = time.perf_counter() - started
    labels = np.array([a.right for a in answers])
    agreement = np.array([r[0] for r in results])
    confidence = np.array([answer_confidence(a.tokens) or 0.0 for a in answers])
    tokens = [r[1] for r in results]
    n = len(answers)
    print(
        f"\nSelf-check on the first {n} questions ({int(labels.sum())} right), "
        f"{samples} samples at temperature {temperature}:"
    )
    value = auroc(agreement, labels)
    print(f"  agreement AUROC {_figure(value, bootstrap(lambda i: auroc(agreement[i], labels[i]), n, reps))}")
    print(f"  default confidence on the same questions: AUROC {auroc(confidence, labels):.3f}")
    if n > CHOSEN_ON:
        held = np.arange(n) >= CHOSEN_ON
        print(
            f"  after the first {CHOSEN_ON} (where its temperature was chosen): agreement AUROC "
            f"{auroc(agreement[held], labels[held]):.3f}, confidence {auroc(confidence[held], labels[held]):.3f}"
        )
    both = (agreement + confidence) / 2
    print(f"  mean of the two: AUROC {auroc(both, labels):.3f}")
    flags = agreement < SELFCHECK_THRESHOLD
    print(
        f"  agreement < {SELFCHECK_THRESHOLD} flags {flags[~labels].mean():.0%} of wrong, "
        f"{flags[labels].mean():.0%} of right"
    )
    answer_tokens = statistics.fmean(len(a.tokens) for a in answers)
    print(
        f"  cost: {samples} requests and {statistics.fmean(tokens):.1f} extra tokens per answer "
        f"({statistics.fmean(tokens) / answer_tokens:.1f}x the answer's {answer_tokens:.1f}); "
        f"{seconds / n:.2f} s per answer"
    )


def report_cost(model: Model, answers: list[Answer]) -> None:
    decode = statistics.median(model.decode_times)
    logprob = statistics.median(model.logprob_times)
    scoring = []
    for answer in answers:
        started = time.perf_counter()
        answer_confidence(answer.tokens)
        sentence_confidences(answer.text, answer.tokens)
        scoring.append((time.perf_counter() - started) / max(1, len(answer.tokens)))
    score = statistics.median(scoring)
    ratio = decode / (decode + logprob + score)
    # A long answer: the answers' tokens one after another, scored whole (sentences split by pysbd).
    long_tokens = [t for a in answers for t in (*a.tokens, TokenLogprob(" ", 0.0))][:500]
    long_text = "".join(t.text for t in long_tokens)
    started = time.perf_counter()
    spans = sentence_confidences(long_text, long_tokens)
    long_ms = (time.perf_counter() - started) * 1e3
    print(
        f"\nCost per token (medians over {len(model.decode_times)} tokens, on the raw logits):\n"
        f"  decode {decode * 1e3:.2f} ms; log-softmax + top-{TOP} from the logits {logprob * 1e3:.3f} ms; "
        f"scores (answer + sentences) {score * 1e3:.3f} ms\n"
        f"  tokens/s with the check / without: {ratio:.3f} (target >= {TARGET_SPEED_RATIO}: "
        f"{'met' if ratio >= TARGET_SPEED_RATIO else 'NOT met'}); TTFT added: {(logprob + score) * 1e3:.3f} ms "
        f"(one token's log-probs; the first token's decode is unchanged)\n"
        f"  a {len(long_tokens)}-token text of {len(spans)} sentences scored whole: {long_ms:.1f} ms "
        f"({long_ms / max(1, len(long_tokens)) / (decode * 1e3):.1%} of its decode time)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    parser.add_argument("--selfcheck", type=int, default=-1, help="self-check the first N answers (-1: all, 0: none)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="of the self-check's samples")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (1 is fastest on a busy machine)")
    parser.add_argument("--save", type=Path, help="write the answers and their log-probs as JSON lines")
    parser.add_argument(
        "--raw", action="store_true",
        help="answer through raw llama-cpp-python instead of the app's LocalProvider (the cost figures need it)",
    )
    parser.add_argument("--load", type=Path, help="answers written by --save: no greedy run, no cost figures")
    parser.add_argument("--save-selfcheck", type=Path, help="append each self-check's result as a JSON line")
    args = parser.parse_args(argv)

    questions = load_questions()
    if args.limit:
        questions = questions[: args.limit]
    model = Model(args.threads)
    started = time.perf_counter()
    if args.load:
        by_iso = {q.iso: q for q in questions}
        rows = [json.loads(line) for line in args.load.read_text(encoding="utf-8").splitlines()]
        answers = [
            Answer(by_iso[r["iso"]], [TokenLogprob(t, lp, tuple(top)) for t, lp, top in r["tokens"]])
            for r in rows
            if r["iso"] in by_iso
        ]
    elif args.raw:
        answers = [model.answer(q) for q in questions]
    else:
        answers = asyncio.run(app_answers(questions))
    answers = [a for a in answers if a.tokens]
    for answer in answers:
        answer.right = is_right(answer.text, answer.question)
    right = sum(a.right for a in answers)
    how = f"loaded from {args.load}" if args.load else f"answered in {time.perf_counter() - started:.0f} s"
    print(f"{len(answers)} questions {how}: {right} right, {len(answers) - right} wrong ({DATA.name})")
    if args.save:
        with args.save.open("w", encoding="utf-8") as out:
            for a in answers:
                row: dict[str, Any] = {"iso": a.question.iso, "right": a.right, "text": a.text}
                row["tokens"] = [[t.text, t.logprob, list(t.top)] for t in a.tokens]
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    report_scores(answers, args.reps)
    if args.raw:
        report_cost(model, answers)
    elif not args.load:
        print("\n(cost: run with --raw for the per-token figures, and bench/bench_confidence_cost.py for the app's "
              "tokens/s and TTFT with hallucination=flag against without)")
    limit = len(answers) if args.selfcheck < 0 else args.selfcheck
    if limit:
        count = lambda text: len(model.llm.tokenize(text.encode("utf-8"), add_bos=False))  # noqa: E731
        report_self_check(answers[:limit], args.samples, args.temperature, args.reps, count, args.save_selfcheck)
    return 0


if __name__ == "__main__":
    sys.exit(main())
