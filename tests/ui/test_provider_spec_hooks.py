"""What the UI does for a provider comes from its ``ProviderSpec``, not from provider names written in ``ui/``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from agents.providers import registry
from agents.providers.base import Provider
from agents.providers.echo import EchoProvider
from chat.session import ChatSession
from chat.settings import Settings
from ui import startup
from ui.apply import apply


@dataclass
class Warmed:
    """Records the providers a spec's ``warm`` hook was given."""

    providers: list[Provider] = field(default_factory=list)

    async def __call__(self, provider: Provider) -> None:
        self.providers.append(provider)


@pytest.fixture
def plugged() -> Iterator[Warmed]:
    """A provider plugged in by a spec alone: a fixed model and a warm-up hook, like the embedded one."""
    warmed = Warmed()
    registry.register(
        registry.ProviderSpec(
            "fixedecho",
            lambda model=None, **_: EchoProvider(),
            "Fixed echo (test)",
            "echo-1",
            fixed_model="this test provider runs one model",
            warm=warmed,
        )
    )
    yield warmed
    registry.PROVIDERS.unregister("fixedecho")


def test_a_model_typed_for_any_fixed_model_provider_is_refused_by_its_spec(plugged: Warmed) -> None:
    session = ChatSession(Settings())
    out = apply(session, {"provider": "fixedecho", "model": "gpt-4o"})
    assert session.settings.provider == "fixedecho" and session.settings.model is None
    assert "Model 'gpt-4o': this test provider runs one model." in out.summary()
    assert "model" not in out.applied


def test_a_model_for_a_provider_that_has_a_choice_is_applied(plugged: Warmed) -> None:
    session = ChatSession(Settings())
    out = apply(session, {"provider": "echo", "model": "echo-2"})
    assert session.settings.model == "echo-2" and not out.refused


async def test_a_new_chat_warms_its_provider_through_the_spec(plugged: Warmed) -> None:
    session = ChatSession(Settings(provider="fixedecho"))
    startup.preload(session)
    await asyncio.gather(*startup._background)
    assert plugged.providers == [session.provider()]


async def test_a_provider_without_a_warm_hook_starts_nothing() -> None:
    before = set(startup._background)
    startup.preload(ChatSession(Settings(provider="echo")))
    assert set(startup._background) == before
