"""One plugin mechanism for providers, buffering strategies and guardrails.

A plugin is a module that registers itself when imported::

    # agents/providers/mine.py
    from agents.providers.registry import PROVIDERS, ProviderSpec
    PROVIDERS.register(ProviderSpec("mine", ...))

Each kind of plugin has one ``Registry`` that knows the package its plugins
live in.  On first use the registry imports every module of that package, so
adding a plugin touches one new file and no list anywhere else.  The rule for
names is the same for every kind: a name is taken once; registering it again
raises ``DuplicatePlugin`` unless the caller says ``replace=True``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_NAME = re.compile(r"[a-z][a-z0-9_-]*")


class DuplicatePlugin(ValueError):
    """A plugin name was registered twice (a programming error, not a user's)."""


class Registry(Generic[T]):
    """Plugins of one kind, by name, in a stable order (``order``, then registration)."""

    def __init__(self, kind: str, package: str, unknown: Callable[[str, list[str]], Exception]) -> None:
        self.kind = kind
        #: The package whose modules are imported on first use (they register themselves).
        self.package = package
        self._unknown = unknown
        self._items: dict[str, tuple[int, int, T]] = {}
        self._loaded = False
        self._lock = threading.RLock()

    def register(self, name: str, item: T, *, order: int = 100, replace: bool = False) -> T:
        """Add ``item`` under ``name``; a taken name raises ``DuplicatePlugin`` unless ``replace``."""
        if not _NAME.fullmatch(name):
            raise DuplicatePlugin(f"{name!r} is not a valid {self.kind} name (lower-case letters, digits, - and _)")
        with self._lock:
            if name in self._items and not replace:
                raise DuplicatePlugin(f"a {self.kind} named {name!r} is already registered")
            seq = self._items[name][1] if name in self._items else len(self._items)
            self._items[name] = (order, seq, item)
        return item

    def unregister(self, name: str) -> None:
        """Remove ``name`` if present (tests that register a throwaway plugin)."""
        with self._lock:
            self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The plugin registered as ``name``; an unknown name raises the kind's own error."""
        self.load()
        try:
            return self._items[name][2]
        except KeyError:
            raise self._unknown(name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def names(self) -> list[str]:
        """Registered names, in display order."""
        self.load()
        return [name for name, _ in sorted(self._items.items(), key=lambda kv: kv[1][:2])]

    def items(self) -> list[T]:
        """Registered plugins, in display order."""
        return [self._items[name][2] for name in self.names()]

    def load(self) -> None:
        """Import every module of the package once, so each plugin registers itself."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: a plugin module may call names() while it registers
            try:
                pkg = importlib.import_module(self.package)
                for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{info.name}")
            except BaseException:
                self._loaded = False
                raise
