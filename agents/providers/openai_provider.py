"""OpenAI, or any OpenAI-compatible server (vLLM, llama.cpp server, Ollama), through the official SDK.

Configured from the environment: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and
``OPENAI_MODEL``.  With only a base URL (a local server that needs no key) a
placeholder key is sent.  The SDK's own retries are off: the runner decides
whether to retry, and resumes mid-answer with ``continue_from``.

Log-probabilities (the hallucination check): only when ``params.logprobs`` asks
for them is the request sent with ``logprobs``/``top_logprobs``, so a server
that does not know the option is never bothered while the check is off.  A
server that refuses it (a 400) gets the request again without it, and is not
asked again by this provider: the answer arrives, as plain text, and the check
reports it cannot be checked.  Chunks that carry ``logprobs.content`` become
``Scored`` pieces.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agents.errors import (
    AuthError,
    BadRequest,
    ConnectionLost,
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
    from openai import AsyncOpenAI

ENV_KEY = "OPENAI_API_KEY"
ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_MODEL = "OPENAI_MODEL"
DEFAULT_MODEL = "gpt-4o-mini"
#: A rejected key of a user's own: where they entered it.
USER_KEY_HINT = 'the "OpenAI API key" you entered in the settings panel'
#: Sent when only a base URL is set: the SDK insists on a key, local servers ignore it.
PLACEHOLDER_KEY = "no-key-needed"
#: Alternatives per token asked for with ``logprobs`` (OpenAI allows up to 20).
TOP_LOGPROBS = 5
#: The headers a request to a user's own base URL may carry: the SDK's own (``x-stainless-*`` too), nothing
#: from the server's environment (``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``, ``OPENAI_CUSTOM_HEADERS``).
_USER_URL_HEADERS = frozenset({"host", "accept", "accept-encoding", "connection", "content-type", "content-length",
                               "user-agent", "authorization"})  # fmt: skip
#: Seconds to connect, and to wait for each piece of the stream.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0

_LABEL = "OpenAI"


class OpenAIProvider:
    """Streams chat completions from OpenAI or an OpenAI-compatible server."""

    name = "openai"
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
        user_url: bool = False,
        private: bool = False,
    ) -> None:
        """``user_url``: ``base_url`` is one a user entered (see ``_build_client``).

        ``private``: the key or base URL is one user's, so the client is this
        provider's own, closed when the provider is dropped (by the loop's
        async-generator finalizer), instead of living in the process-wide pool
        with the key in it after the session has gone.
        """
        self._model = model or os.environ.get(ENV_MODEL) or DEFAULT_MODEL
        self._base_url = checked_base_url(base_url or os.environ.get(ENV_BASE_URL) or None, ENV_BASE_URL)
        self._api_key = api_key or os.environ.get(ENV_KEY) or (PLACEHOLDER_KEY if self._base_url else None)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        config = (self._api_key, self._base_url, connect_timeout, read_timeout, user_url)
        #: What a rejected key's message tells the user to check.
        self._key_hint = USER_KEY_HINT if private else ENV_KEY
        build = partial(_build_client, *config)
        pool = (self.name, *config)
        self._clients: PerLoop[AsyncOpenAI] = (
            shared_while_used(self, pool, build, _close_client) if private else shared(pool, build, _close_client)
        )
        #: The server answered a request with ``logprobs`` with a 400: do not ask again.
        self.logprobs_refused = False

    @property
    def model(self) -> str:
        return self._model

    @property
    def _official(self) -> bool:
        return self._base_url is None or urlsplit(self._base_url).hostname == "api.openai.com"

    @property
    def base_url(self) -> str | None:
        """The server's base URL (``None``: OpenAI's own)."""
        return self._base_url

    async def aclose(self) -> None:
        """Close this event loop's client, which every provider with this configuration shares."""
        await self._clients.aclose()

    def request(
        self, messages: Sequence[ChatMessage], params: GenerationParams, continue_from: str = ""
    ) -> dict[str, Any]:
        """The keyword arguments of ``chat.completions.create`` for this answer (or its continuation)."""
        turns = continuation_messages(messages, continue_from)
        body: dict[str, Any] = {
            "model": params.model or self._model,
            "messages": [{"role": m.role, "content": m.content} for m in turns],
            "stream": True,
        }
        if params.temperature is not None:
            body["temperature"] = params.temperature
        if params.max_tokens is not None:
            # OpenAI's newer models refuse max_tokens; compatible servers may not know the new name.
            body["max_completion_tokens" if self._official else "max_tokens"] = params.max_tokens
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs and not self.logprobs_refused:
            body["logprobs"] = True
            body["top_logprobs"] = TOP_LOGPROBS
        return body

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        continue_from: str = "",
    ) -> AsyncGenerator[Piece, None]:
        """Yield the answer's text as the server streams it; only new text after ``continue_from``.

        ``finish_reason: length`` ends the stream with ``Finish("length")``.
        """
        import openai

        body = self.request(messages, params, continue_from)
        model = body["model"]
        state = StreamState(self.name, _LABEL)
        media = ""
        try:
            client = await self._clients.get()
            try:
                response = await client.chat.completions.create(**body)
            except openai.BadRequestError:
                if "logprobs" not in body:
                    raise
                # The server refuses log-probabilities: the answer matters more than its score.
                self.logprobs_refused = True
                body = self.request(messages, params, continue_from)
                response = await client.chat.completions.create(**body)
            media = response.response.headers.get("content-type", "").split(";")[0].strip()[:60]
            async with response:
                try:
                    async for chunk in response:
                        state.chunks += 1
                        text, reason, tokens = _first_choice(chunk)
                        if text:
                            state.deliver(text)
                            yield text if tokens is None else Scored(text, tokens)
                        if reason == "content_filter":
                            raise state.blocked("The answer was stopped by OpenAI's content filter")
                        if reason is not None:
                            state.end(cut_off=reason == "length")
                except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, or a chunk of the wrong shape
                    # A 200 whose body is not a chat stream: like Gemini's, retryable (a proxy's error page).
                    raise state.malformed() from err
        except openai.OpenAIError as err:
            raise self._map(err, model, state.partial) from _cause(err)
        if not state.finished and not state.chunks and "event-stream" not in media:
            # A 200 with an HTML or JSON body (a proxy's page): nothing of it was a chat stream.
            raise state.malformed(f"{media or 'no content type'} instead of an event stream")
        if (finish := state.ending()) is not None:
            yield finish

    def _map(self, err: Exception, model: str, partial: str) -> ProviderError:
        """The project error for an ``openai`` SDK error."""
        import openai

        secrets = (self._api_key,)
        if isinstance(err, openai.APITimeoutError):
            return ProviderTimeout(f"{_LABEL} timed out.", provider=self.name, partial=partial)
        if isinstance(err, openai.APIConnectionError):
            where = _host(self._base_url) if self._base_url else "api.openai.com"
            cause = err.__cause__ or err.__context__
            reason = f": {redact(str(cause), secrets)}" if cause is not None and str(cause) else "."
            return ConnectionLost(
                f"The connection to {redact(where, secrets)} was lost{reason}", provider=self.name, partial=partial
            )
        if isinstance(err, openai.APIStatusError):
            body = err.body if isinstance(err.body, dict) else {}
            detail = redact(str(body.get("message") or ""), secrets)
            if 300 <= err.status_code < 400:
                # Only a user's base URL gets here (the SDK follows redirects otherwise); where it points is not shown.
                return BadRequest(
                    f"{_LABEL} answered with a redirect ({err.status_code}), which is not followed for a base URL "
                    "entered in the chat: enter the address it redirects to.",
                    provider=self.name,
                    partial=partial,
                )
            if err.status_code == 429 and body.get("code") == "insufficient_quota":
                # Retrying cannot help: the account is out of credit.
                return AuthError(
                    f"{_LABEL} says the account's quota is used up (429): check your plan and billing.",
                    provider=self.name,
                    partial=partial,
                )
            return error_for_status(
                err.status_code,
                detail,
                provider=self.name,
                label=_LABEL,
                model=model,
                key_hint=self._key_hint,
                partial=partial,
                retry_after=parse_retry_after(err.response.headers),
            )
        if isinstance(err, openai.APIError):
            # An error event inside the stream: the server failed mid-answer.
            body = err.body if isinstance(err.body, dict) else {}
            code = str(body.get("code") or body.get("type") or "")
            detail = redact(str(body.get("message") or err.message), secrets)
            if "rate_limit" in code:
                return error_for_status(429, detail, provider=self.name, label=_LABEL, model=model,
                                        key_hint=self._key_hint, partial=partial)
            return ServerError(f"{_LABEL} failed mid-answer: {detail}", provider=self.name, partial=partial)
        return ProviderError(
            f"{_LABEL} failed: {type(err).__name__}: {redact(str(err), secrets)}", provider=self.name, partial=partial
        )


def _build_client(
    api_key: str | None, base_url: str | None, connect_timeout: float, read_timeout: float, user_url: bool = False
) -> AsyncOpenAI:
    """A client for one configuration; the SDK's own retries are off (the runner retries).

    A user's base URL (``user_url``) is held to what the operator allowed: its
    redirects are not followed (the SDK follows them by default, so an allowed
    host could send the server to a metadata service or an admin port), and its
    requests carry only the SDK's own headers with the user's key: the SDK adds
    headers from the server's environment (``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``,
    and ``OPENAI_CUSTOM_HEADERS``, whose ``Authorization`` even replaces the key).
    """
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient, Timeout

    mask_url_credentials_in_logs()  # the HTTP client logs every request's URL, credentials and all
    if not api_key:
        raise MissingKey(OpenAIProvider.name, (ENV_KEY, ENV_BASE_URL))
    http_client = None
    if user_url:
        http_client = DefaultAsyncHttpxClient(
            follow_redirects=False, event_hooks={"request": [partial(_own_headers_only, api_key)]}
        )
    return AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=Timeout(read_timeout, connect=connect_timeout),
        http_client=http_client,
    )


async def _own_headers_only(api_key: str, request: Any) -> None:
    """Strip a request to a user's base URL down to the SDK's own headers and the user's key."""
    for name in list(request.headers):
        lower = name.lower()
        if lower not in _USER_URL_HEADERS and not lower.startswith("x-stainless-"):
            del request.headers[name]
    request.headers["Authorization"] = f"Bearer {api_key}"


def _first_choice(chunk: Any) -> tuple[str, str | None, tuple[TokenLogprob, ...] | None]:
    """The new text, finish reason and token log-probabilities of choice 0; ``ValueError`` if not a chat chunk.

    The SDK builds chunks without validation, so a server's garbage arrives as
    lists, numbers or fields of the wrong type.
    """
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list):
        raise ValueError(f"a {type(chunk).__name__} where a chat.completion.chunk was expected")
    for choice in choices:
        if getattr(choice, "index", None) != 0:
            continue
        delta = getattr(choice, "delta", None)
        text = getattr(delta, "content", None) if delta is not None else None
        reason = getattr(choice, "finish_reason", None)
        if not isinstance(text, str | None) or not isinstance(reason, str | None):
            raise ValueError("a chunk whose content or finish_reason is not text")
        return text or "", reason, _logprobs(choice)
    return "", None, None


def _logprobs(choice: Any) -> tuple[TokenLogprob, ...] | None:
    """The ``logprobs.content`` of a streamed choice as ``TokenLogprob``s; ``None`` if absent or malformed.

    Malformed figures are not an error: the text still counts, it just cannot be checked.
    """
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not isinstance(content, list) or not content:
        return None
    out: list[TokenLogprob] = []
    for item in content:
        token, logprob = getattr(item, "token", None), getattr(item, "logprob", None)
        if not isinstance(token, str) or not isinstance(logprob, int | float) or logprob != logprob:
            return None
        tops = getattr(item, "top_logprobs", None) or []
        ranked = [t.logprob for t in tops if isinstance(getattr(t, "logprob", None), int | float)]
        out.append(TokenLogprob(token, float(max(logprob, -1e4)), tuple(sorted(ranked, reverse=True))[:TOP_LOGPROBS]))
    return tuple(out)


def _host(url: str) -> str:
    """``host:port`` of ``url``, without any credentials it may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)


async def _close_client(client: AsyncOpenAI) -> None:
    await client.close()


def _cause(err: Exception) -> Exception | None:
    """Keep the SDK error as the cause, except for auth errors, whose text may echo part of the key."""
    import openai

    return None if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError) else err


def _build(model: str | None = None, *, keys: Mapping[str, str] | None = None, **_: object) -> OpenAIProvider:
    """``keys``: a user's own ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` (one session's), over the server's.

    A user's base URL never gets the server's key: that would hand the
    operator's key to whatever server the user named.  Without a key of the
    user's own it is sent the placeholder.
    """
    own = keys or {}
    base_url = own.get(ENV_BASE_URL) or None
    api_key = own.get(ENV_KEY) or (PLACEHOLDER_KEY if base_url else None)
    return OpenAIProvider(
        model=model, api_key=api_key, base_url=base_url, user_url=base_url is not None, private=bool(own)
    )


register(
    ProviderSpec(
        "openai", _build, "OpenAI (or an OpenAI-compatible server)", DEFAULT_MODEL,
        env_vars=(ENV_KEY, ENV_BASE_URL), order=2, logprobs="maybe",
    )
)  # fmt: skip
