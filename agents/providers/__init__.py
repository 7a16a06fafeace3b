"""Model providers.  Each module here registers itself (``agents.providers.registry``)."""

from agents.providers.base import ChatMessage, GenerationParams, Provider
from agents.providers.registry import ProviderSpec, create, get, names, register

__all__ = ["ChatMessage", "GenerationParams", "Provider", "ProviderSpec", "create", "get", "names", "register"]
