"""The provider registry: a provider plugs in by name, without edits elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.errors import MissingKey, UnknownProvider
from agents.providers.base import Provider

if TYPE_CHECKING:
    from agents.settings import Settings


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How to build a provider, and what it needs."""

    name: str
    #: Builds a provider from a session's settings (model, rate, ...).
    factory: Callable[[Settings], Provider]
    label: str
    default_model: str
    #: Any one of these env vars makes the provider available; empty means it needs no key.
    env_vars: tuple[str, ...] = ()

    def missing_key(self) -> MissingKey | None:
        """The error to show when none of the provider's env vars is set, else ``None``."""
        if not self.env_vars or any(os.environ.get(var) for var in self.env_vars):
            return None
        return MissingKey(self.name, self.env_vars)


_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    """Add (or replace) a provider under ``spec.name``."""
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    """Registered provider names, in registration order."""
    return list(_REGISTRY)


def get(name: str) -> ProviderSpec:
    """The spec registered under ``name``; raises ``UnknownProvider``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownProvider(name, names()) from None


def create(settings: Settings) -> Provider:
    """Build ``settings.provider``, raising ``MissingKey`` if its key is not set."""
    spec = get(settings.provider)
    if (err := spec.missing_key()) is not None:
        raise err
    return spec.factory(settings)
