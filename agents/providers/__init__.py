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


register(ProviderSpec("local", _local, "Local (embedded SmolLM2-135M, no key)", "SmolLM2-135M-Instruct"))
register(ProviderSpec("echo", _echo, "Echo (repeats your message)", "echo"))

__all__ = ["ChatMessage", "GenerationParams", "Provider", "ProviderSpec", "create", "get", "names", "register"]
