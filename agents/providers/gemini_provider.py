"""Google Gemini through ``google-genai`` (not the retired ``google-generativeai``).

Keyed by ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``; ``GEMINI_MODEL`` picks the
model and ``GEMINI_BASE_URL`` points the SDK at another endpoint (a proxy, or
the tests' loopback server).  The SDK's retries are off and its HTTP client is
our own httpx client, so errors come from one transport and the runner decides
about retries.  A safety block ends the answer with ``ContentBlocked``, keeping
the text so far.

Log-probabilities (the hallucination check): with ``params.logprobs`` the
request sets ``response_logprobs`` and ``logprobs``; a chunk's
``logprobs_result.chosen_candidates`` make it a ``Scored`` piece.  Only some
models return them: a model that refuses the option (a 400) gets the request
again without it and is not asked again by this provider, and its answers
cannot be checked.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from agents.errors import (
    AuthError,
    ConnectionLost,
    ContentBlocked,
    MissingKey,
    ProviderError,
    ProviderTimeout,
    ServerError,
)
from agents.providers.base import ChatMessage, GenerationParams, Piece, Scored, TokenLogprob
from agents.providers.registry import ProviderSpec, register
from agents.providers.remote import (
    PerLoop,
    StreamState,
    checked_base_url,
    continuation_messages,
    error_for_status,
    mask_url_credentials_in_logs,
    parse_retry_after,
    redact,
    shared,
    shared_while_used,
)

if TYPE_CHECKING:
    import httpx
    from google.genai import Client, types

ENV_KEYS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
ENV_MODEL = "GEMINI_MODEL"
ENV_BASE_URL = "GEMINI_BASE_URL"
DEFAULT_MODEL = "gemini-2.5-flash"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0

#: Alternatives per token asked for with ``response_logprobs``.
TOP_LOGPROBS = 5
_LABEL = "Gemini"
_KEY_HINT = " or ".join(ENV_KEYS)
BLOCKED_MESSAGE = "The answer was blocked by Gemini's safety filter"
#: Finish reasons that mean a filter stopped the answer (anything else ends it normally).
_BLOCKING = {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
             "MODEL_ARMOR", "RECITATION", "IMAGE_RECITATION"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def api_key_from_env() -> str | None:
    """The first of ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` that is set."""
    return next((v for v in (os.environ.get(k) for k in ENV_KEYS) if v), None)


def to_contents(messages: Sequence[ChatMessage]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split ``messages`` into Gemini's ``system_instruction`` and ``contents`` (roles user/model).

    Consecutive turns of one role are merged into one content with several
    parts, since Gemini expects the roles to alternate.
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content) or None
    contents: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "model" if m.role == "assistant" else "user"
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].append({"text": m.content})
        else:
            contents.append({"role": role, "parts": [{"text": m.content}]})
    return system, contents


def _enum_name(value: object) -> str:
    """``"SAFETY"`` for ``FinishReason.SAFETY`` or the plain string."""
    return str(getattr(value, "value", value) or "")


def _pinned_timeouts(timeout: httpx.Timeout) -> httpx.AsyncBaseTransport:
    """An httpx transport that applies ``timeout`` to every request.

    The SDK overrides the client's timeout per request (with none at all unless
    it also sends a server-side deadline), so our connect/read timeouts are
    pinned here, below the SDK.
    """
    import httpx

    class PinnedTimeouts(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            request.extensions = {**request.extensions, "timeout": timeout.as_dict()}
            return await super().handle_async_request(request)

    return PinnedTimeouts()


class GeminiProvider:
    """Streams ``generate_content_stream`` from the Gemini API."""

    name = "gemini"
    #: A continuation is a new request carrying the partial answer; the model may repeat a little at the seam.
    exact_continuation = False

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        private: bool = False,
    ) -> None:
        """``private``: the key is one user's: the client is this provider's own (see ``OpenAIProvider``)."""
        self._model = model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL
        self._api_key = api_key or api_key_from_env()
        self._base_url = checked_base_url(base_url or os.environ.get(ENV_BASE_URL) or None, ENV_BASE_URL)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        config = (self._api_key, self._base_url, connect_timeout, read_timeout)
        self._key_hint = 'the "Gemini API key" you entered in the settings panel' if private else _KEY_HINT
        build = partial(_build_client, *config)
        pool = (self.name, *config)
        self._clients: PerLoop[tuple[Client, httpx.AsyncClient]] = (
            shared_while_used(self, pool, build, _close_client) if private else shared(pool, build, _close_client)
        )
        #: The model answered a request with log-probabilities with a 400: do not ask again.
        self.logprobs_refused = False

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        """Close this event loop's client, which every provider with this configuration shares."""
        await self._clients.aclose()

    def request(
        self, messages: Sequence[ChatMessage], params: GenerationParams, continue_from: str = ""
    ) -> dict[str, Any]:
        """The keyword arguments of ``generate_content_stream`` for this answer (or its continuation)."""
        system, contents = to_contents(continuation_messages(messages, continue_from))
        config: dict[str, Any] = {}
        if system:
            config["system_instruction"] = system
        if params.temperature is not None:
            config["temperature"] = params.temperature
        if params.max_tokens is not None:
            config["max_output_tokens"] = params.max_tokens
        if params.seed is not None:
            config["seed"] = params.seed
        if params.logprobs and not self.logprobs_refused:
            config["response_logprobs"] = True
            config["logprobs"] = TOP_LOGPROBS
        return {"model": params.model or self._model, "contents": contents, "config": config}

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[Piece, None]:
        """Yield the answer's text as Gemini streams it; only new text after ``continue_from``.

        ``MAX_TOKENS`` ends the stream with ``Finish("length")``, as OpenAI's ``length`` does.
        """
        import httpx
        from google.genai import errors as genai_errors
        from google.genai import types

        body = self.request(messages, params, continue_from)
        model = body["model"]
        state = StreamState(self.name, _LABEL)
        try:
            client, _ = await self._clients.get()

            async def open_stream(body: dict[str, Any]) -> tuple[Any, list[Any]]:
                """The SDK's stream and its first chunk (a refused option is an error at the first read)."""
                chunks = await client.aio.models.generate_content_stream(
                    model=model, contents=body["contents"], config=types.GenerateContentConfig(**body["config"])
                )
                try:
                    return chunks, [await anext(chunks)]
                except StopAsyncIteration:
                    return chunks, []

            try:
                chunks, first = await open_stream(body)
            except genai_errors.ClientError as err:
                if err.code != 400 or "response_logprobs" not in body["config"]:
                    raise
                # The model gives no log-probabilities: the answer matters more than its score.
                self.logprobs_refused = True
                chunks, first = await open_stream(self.request(messages, params, continue_from))
            try:
                async for chunk in _after(first, chunks):
                    state.chunks += 1
                    if chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason:
                        raise self._blocked(_enum_name(chunk.prompt_feedback.block_reason), state.partial)
                    texts = _texts(chunk)
                    tokens = _logprobs(chunk) if texts else None
                    if tokens is not None:
                        yield Scored(state.deliver("".join(texts)), tokens)
                    else:
                        for text in texts:
                            yield state.deliver(text)
                    reason = _finish_reason(chunk)
                    if reason in _BLOCKING:
                        raise self._blocked(reason, state.partial)
                    if reason and reason not in {"FINISH_REASON_UNSPECIFIED", "CONTINUATION"}:
                        state.end(cut_off=reason == "MAX_TOKENS")
            finally:
                # Stop or an error: release the HTTP response now, not when the SDK's generator is collected.
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()
        except (genai_errors.APIError, genai_errors.UnknownApiResponseError, httpx.HTTPError) as err:
            raise self._map(err, model, state.partial) from _cause(err)
        if (finish := state.ending()) is not None:
            yield finish

    def _blocked(self, reason: str, partial: str) -> ContentBlocked:
        why = f" ({reason})" if reason else ""
        kept = "; the text so far is kept." if partial else "."
        return ContentBlocked(f"{BLOCKED_MESSAGE}{why}{kept}", provider=self.name, partial=partial)

    def _map(self, err: Exception, model: str, partial: str) -> ProviderError:
        """The project error for a ``google-genai`` or transport error."""
        import httpx
        from google.genai import errors as genai_errors

        secrets = (self._api_key,)
        if isinstance(err, httpx.TimeoutException):
            return ProviderTimeout(f"{_LABEL} timed out.", provider=self.name, partial=partial)
        if isinstance(err, httpx.HTTPError):
            reason = redact(str(err), secrets) or type(err).__name__
            return ConnectionLost(f"The connection to {_LABEL} was lost: {reason}", provider=self.name, partial=partial)
        if isinstance(err, genai_errors.UnknownApiResponseError):
            return ServerError(f"{_LABEL} sent a malformed stream.", provider=self.name, partial=partial)
        assert isinstance(err, genai_errors.APIError)
        status = err.code if isinstance(err.code, int) else 0
        raw = json.dumps(err.details, default=str) if err.details is not None else ""
        if "API_KEY_INVALID" in raw or status in (401, 403):
            # Gemini answers a bad key with 400 INVALID_ARGUMENT; the body is left out on purpose.
            message = f"{_LABEL} rejected the API key: check {self._key_hint}."
            return AuthError(message, provider=self.name, partial=partial)
        detail = redact(str(err.message or err.status or ""), secrets)
        if not status:
            return ServerError(f"{_LABEL} failed mid-answer: {detail}", provider=self.name, partial=partial)
        headers = getattr(err.response, "headers", None)
        retry_after = parse_retry_after(dict(headers)) if headers is not None else None
        if retry_after is None and status == 429:
            retry_after = _retry_delay(err.details)
        return error_for_status(
            status, detail, provider=self.name, label=_LABEL, model=model, key_hint=self._key_hint,
            partial=partial, retry_after=retry_after,
        )


def _build_client(
    api_key: str | None, base_url: str | None, connect_timeout: float, read_timeout: float
) -> tuple[Client, httpx.AsyncClient]:
    """A client for one configuration, on our own httpx client with pinned timeouts."""
    import httpx
    from google import genai
    from google.genai import types

    mask_url_credentials_in_logs()  # the HTTP client logs every request's URL, credentials and all
    if not api_key:
        raise MissingKey(GeminiProvider.name, ENV_KEYS)
    transport = _pinned_timeouts(httpx.Timeout(read_timeout, connect=connect_timeout))
    http = httpx.AsyncClient(transport=transport)
    # Our own client: the SDK then skips aiohttp and its implicit connection retries.
    options = types.HttpOptions(base_url=base_url, httpx_async_client=http)
    return genai.Client(api_key=api_key, vertexai=False, http_options=options), http


async def _close_client(pair: tuple[Client, httpx.AsyncClient]) -> None:
    client, http = pair
    await client.aio.aclose()
    client.close()
    await http.aclose()


def _texts(chunk: types.GenerateContentResponse) -> list[str]:
    """The answer text in ``chunk``'s first candidate, skipping thought summaries."""
    if not chunk.candidates:
        return []
    content = chunk.candidates[0].content
    if content is None or not content.parts:
        return []
    return [p.text for p in content.parts if p.text and not p.thought]


async def _after(first: list[Any], rest: Any) -> AsyncGenerator[Any, None]:
    """The chunks already read, then the rest of the stream."""
    for chunk in first:
        yield chunk
    async for chunk in rest:
        yield chunk


def _logprobs(chunk: types.GenerateContentResponse) -> tuple[TokenLogprob, ...] | None:
    """The chosen tokens' log-probabilities in ``chunk``'s first candidate; ``None`` if it has none."""
    result = chunk.candidates[0].logprobs_result if chunk.candidates else None
    chosen = result.chosen_candidates if result is not None else None
    if not chosen:
        return None
    tops = result.top_candidates or [] if result is not None else []
    out: list[TokenLogprob] = []
    for i, candidate in enumerate(chosen):
        if candidate.log_probability is None:
            return None
        best = tops[i].candidates or [] if i < len(tops) else []
        ranked = sorted((c.log_probability for c in best if c.log_probability is not None), reverse=True)
        out.append(TokenLogprob(candidate.token or "", candidate.log_probability, tuple(ranked[:TOP_LOGPROBS])))
    return tuple(out)


def _finish_reason(chunk: types.GenerateContentResponse) -> str:
    if not chunk.candidates or chunk.candidates[0].finish_reason is None:
        return ""
    return _enum_name(chunk.candidates[0].finish_reason)


def _retry_delay(details: object) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail (``"retryDelay": "37s"``), if any."""
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details") if isinstance(error, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _cause(err: Exception) -> Exception | None:
    """Keep the SDK error as the cause, except for auth errors, whose body may echo the key."""
    from google.genai import errors as genai_errors

    if isinstance(err, genai_errors.APIError):
        raw = json.dumps(err.details, default=str) if err.details is not None else ""
        if "API_KEY_INVALID" in raw or err.code in (401, 403):
            return None
    return err


def _build(model: str | None = None, *, keys: Mapping[str, str] | None = None, **_: object) -> GeminiProvider:
    """``keys``: a user's own ``GEMINI_API_KEY`` (one session's), used instead of the server's."""
    own = keys or {}
    api_key = next((own[k] for k in ENV_KEYS if own.get(k)), None)
    return GeminiProvider(model=model, api_key=api_key, private=api_key is not None)


register(ProviderSpec("gemini", _build, "Google Gemini", DEFAULT_MODEL, env_vars=ENV_KEYS, order=3, logprobs="maybe"))
