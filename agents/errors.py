"""The project's error hierarchy.

Every failure that reaches a sink is one of these, so the UI, the CLI and the
SSE endpoint can show one clear line without knowing which SDK raised it.

    ChatError                      base; ``str(err)`` is the one-line message
    ├── ConfigError                bad configuration: the user must change something
    │   ├── MissingKey             a provider's API key is not set (names the env var)
    │   ├── InvalidSetting         a setting value is out of range or unknown
    │   └── UnknownProvider        no provider registered under that name
    ├── InternalError              a bug in this app: the answer ends with it, never silently
    ├── InputError                 the user's message cannot be sent
    │   ├── EmptyInput
    │   └── InputTooLong
    └── ProviderError              the model provider failed
        ├── RetryableError         worth retrying / resuming; carries the partial text
        │   ├── ConnectionLost     the stream broke (socket closed, reset, cut mid-body)
        │   │   └── Stalled        no token within the stall timeout
        │   ├── ProviderTimeout
        │   ├── RateLimited        429; carries retry_after (seconds) when the server sent one
        │   └── ServerError        5xx or "overloaded"
        └── FatalError             retrying cannot help
            ├── AuthError          401/403, bad key
            ├── BadRequest         400/422, prompt too long, invalid parameter
            ├── ModelNotFound      unknown model name
            └── ContentBlocked     the provider's own safety filter refused
"""

from __future__ import annotations


class ChatError(Exception):
    """Base of every error this project raises on purpose."""

    #: A short machine-readable kind, used in stats, logs and metrics.
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ChatError):
    """The configuration is wrong; the user has to change something."""

    kind = "config"


class MissingKey(ConfigError):
    """A provider needs an API key that is not set."""

    kind = "missing_key"

    def __init__(self, provider: str, env_vars: tuple[str, ...]) -> None:
        names = " or ".join(env_vars)
        super().__init__(f"The {provider} provider needs an API key: set {names} in the environment or in .env.")
        self.provider = provider
        self.env_vars = env_vars


class InvalidSetting(ConfigError):
    """A setting has a value outside its allowed range or set."""

    kind = "invalid_setting"

    def __init__(self, name: str, value: object, expected: str) -> None:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"Invalid setting {name}={shown}: expected {expected}.")
        self.name = name
        self.value = value


class UnknownProvider(ConfigError):
    """No provider is registered under the requested name."""

    kind = "unknown_provider"

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"Unknown provider {name!r}: choose one of {', '.join(known)}.")
        self.name = name


class InternalError(ChatError):
    """A bug in this app, not the provider's: the answer ends with it rather than silently."""

    kind = "internal"


class InputError(ChatError):
    """The user's message cannot be sent as it is."""

    kind = "input"


class EmptyInput(InputError):
    """The message is empty (or only whitespace and control characters)."""

    kind = "empty_input"

    def __init__(self) -> None:
        super().__init__("Your message is empty: type something to send.")


class InputTooLong(InputError):
    """The message is longer than the configured limit."""

    kind = "input_too_long"

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"Your message has {length:,} characters; the limit is {limit:,}. "
            "Nothing was sent to the model: shorten it and try again."
        )
        self.length = length
        self.limit = limit


class ProviderError(ChatError):
    """The model provider failed."""

    kind = "provider"

    def __init__(self, message: str, *, provider: str = "", partial: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        #: Text the provider had already delivered in this attempt.
        self.partial = partial


class RetryableError(ProviderError):
    """A failure that a retry, continuing from the partial text, may get past."""

    kind = "retryable"


class ConnectionLost(RetryableError):
    """The stream broke: the connection closed or reset mid-answer."""

    kind = "disconnect"


class Stalled(ConnectionLost):
    """No token arrived within the stall timeout."""

    kind = "stall"


class ProviderTimeout(RetryableError):
    """The request timed out."""

    kind = "timeout"


class RateLimited(RetryableError):
    """The provider answered 429 Too Many Requests."""

    kind = "rate_limit"

    def __init__(
        self, message: str, *, provider: str = "", partial: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider, partial=partial)
        #: Seconds the server asked us to wait, if it said.
        self.retry_after = retry_after


class ServerError(RetryableError):
    """The provider answered 5xx or said it is overloaded."""

    kind = "server_error"

    def __init__(self, message: str, *, provider: str = "", partial: str = "", status: int | None = None) -> None:
        super().__init__(message, provider=provider, partial=partial)
        self.status = status


class FatalError(ProviderError):
    """A failure that retrying cannot fix."""

    kind = "fatal"


class AuthError(FatalError):
    """The API key was rejected."""

    kind = "auth"


class BadRequest(FatalError):
    """The provider rejected the request as malformed or too large."""

    kind = "bad_request"


class ModelNotFound(FatalError):
    """The provider does not know the requested model."""

    kind = "model_not_found"


class ContentBlocked(FatalError):
    """The provider's own safety filter refused to continue."""

    kind = "content_blocked"
