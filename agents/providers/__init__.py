"""Built-in providers, registered by name.  A new provider adds one ``register`` call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.providers.base import ChatMessage, GenerationParams, Provider
from agents.providers.registry import ProviderSpec, create, get, names, register

if TYPE_CHECKING:
    from agents.settings import Settings


def _echo(settings: Settings) -> Provider:
    from agents.providers.echo import EchoProvider

    return EchoProvider(rate=settings.echo_rate)


def _local(settings: Settings) -> Provider:
    from agents.providers.local import LocalProvider

    return LocalProvider()


def _openai(settings: Settings) -> Provider:
    from agents.providers.openai_provider import OpenAIProvider

    return OpenAIProvider(model=settings.model)


def _gemini(settings: Settings) -> Provider:
    from agents.providers.gemini_provider import GeminiProvider

    return GeminiProvider(model=settings.model)


register(ProviderSpec("local", _local, "Local (embedded SmolLM2-135M, no key)", "SmolLM2-135M-Instruct"))
register(ProviderSpec("echo", _echo, "Echo (repeats your message)", "echo"))
register(
    ProviderSpec(
        "openai", _openai, "OpenAI (or an OpenAI-compatible server)", "gpt-4o-mini",
        env_vars=("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    )
)
register(
    ProviderSpec(
        "gemini", _gemini, "Google Gemini", "gemini-2.5-flash", env_vars=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    )
)

__all__ = ["ChatMessage", "GenerationParams", "Provider", "ProviderSpec", "create", "get", "names", "register"]
