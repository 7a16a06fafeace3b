"""The provider registry: each provider module registers itself; nothing else lists providers.

A provider plugs in with one new module in ``agents/providers/`` that calls
``PROVIDERS.register(ProviderSpec(...))`` at import time (``agents.plugins``).
Its factory takes what the provider needs, the model name and keyword options
(``rate`` for echo), never a whole session's settings.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agents.errors import MissingKey, UnknownProvider
from agents.plugins import Registry
from agents.providers.base import Provider

#: Builds a provider: ``factory(model, **options)``; ``model=None`` means the provider's default.
Factory = Callable[..., Provider]
#: Gets a provider ready ahead of its first answer (loads the embedded model's weights).
Warm = Callable[[Provider], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How to build a provider, and what it needs."""

    name: str
    factory: Factory
    label: str
    default_model: str
    #: Any one of these env vars makes the provider available; empty means it needs no key.
    env_vars: tuple[str, ...] = ()
    #: Where it sits in lists (the panel, ``--provider`` choices): lower first; ``None``: after the built-ins.
    order: int | None = None
    #: Whether it can report token log-probabilities (the hallucination check); "maybe" where the server or
    #: model decides (OpenAI-compatible servers, Gemini models), the panel then says so.
    logprobs: Literal["yes", "maybe", "no"] = "no"
    #: Why no model can be chosen per chat (it is fixed by configuration); empty when one can.
    fixed_model: str = ""
    #: Run in the background when a chat starts with this provider, so its first answer starts fast.
    warm: Warm | None = None

    def missing_key(self, keys: Mapping[str, str] | None = None) -> MissingKey | None:
        """The error to show when none of the provider's env vars is set, else ``None``.

        ``keys`` are values a user entered for one session, under the same names
        (``OPENAI_API_KEY``); either source makes the provider available.
        """
        if not self.env_vars or any(os.environ.get(var) or (keys or {}).get(var) for var in self.env_vars):
            return None
        return MissingKey(self.name, self.env_vars)


PROVIDERS: Registry[ProviderSpec] = Registry("provider", "agents.providers", UnknownProvider)


def register(spec: ProviderSpec, *, replace: bool = False) -> ProviderSpec:
    """Add a provider under ``spec.name`` (``DuplicatePlugin`` if taken, unless ``replace``)."""
    return PROVIDERS.register(spec.name, spec, order=spec.order, replace=replace)


def names() -> list[str]:
    """Registered provider names, in display order."""
    return PROVIDERS.names()


def get(name: str) -> ProviderSpec:
    """The spec registered under ``name``; raises ``UnknownProvider``."""
    return PROVIDERS.get(name)


def create(name: str, model: str | None = None, *, keys: Mapping[str, str] | None = None, **options: Any) -> Provider:
    """Build provider ``name``, raising ``MissingKey`` if its key is not set.

    ``keys``: one user's own keys (env var name -> value); the provider's
    factory gets those it names as ``keys=`` and decides how they combine with
    the server's.  Other providers never see them.
    """
    spec = get(name)
    if (err := spec.missing_key(keys)) is not None:
        raise err
    own = {var: value for var, value in (keys or {}).items() if var in spec.env_vars and value}
    if own:
        options["keys"] = own
    return spec.factory(model, **options)
