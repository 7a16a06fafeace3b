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
import logging
import pkgutil
import re
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)
_NAME = re.compile(r"[a-z][a-z0-9_-]*")
DEFAULT_ORDER = 100


class PluginError(ValueError):
    """A plugin was registered wrongly (a programming error, not a user's)."""


class DuplicatePlugin(PluginError):
    """A plugin name was registered twice."""


class InvalidPluginName(PluginError):
    """A plugin name that cannot be typed in a setting (lower-case letters, digits, - and _)."""


class Registry(Generic[T]):
    """Plugins of one kind, by name, in a stable order (``order``, then registration)."""

    def __init__(self, kind: str, package: str, unknown: Callable[[str, list[str]], Exception]) -> None:
        self.kind = kind
        #: The package whose modules are imported on first use (they register themselves).
        self.package = package
        self._unknown = unknown
        self._items: dict[str, tuple[int, int, T]] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()  # re-entrant: a plugin module registers while ``load`` imports it
        #: Plugin modules that failed to import, with the error (they are skipped, and logged).
        self.broken: dict[str, BaseException] = {}

    def register(self, name: str, item: T, *, order: int | None = None, replace: bool = False) -> T:
        """Add ``item`` under ``name``; a taken name raises ``DuplicatePlugin`` unless ``replace``.

        The built-in plugins are loaded first, so the rule is the same whenever this is called.
        ``order`` places it in lists (lower first); a replacement keeps the old place unless given one.
        """
        if not _NAME.fullmatch(name):
            raise InvalidPluginName(f"{name!r} is not a valid {self.kind} name (lower-case letters, digits, - and _)")
        with self._lock:
            self.load()
            old = self._items.get(name)
            if old is not None and not replace:
                raise DuplicatePlugin(f"a {self.kind} named {name!r} is already registered")
            place = order if order is not None else (old[0] if old is not None else DEFAULT_ORDER)
            self._items[name] = (place, old[1] if old is not None else len(self._items), item)
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
        """Import every module of the package once, so each plugin registers itself.

        Other threads wait until loading is complete; the loading thread itself (a
        plugin module calling ``register`` or ``names`` as it is imported) goes on.
        A module that fails to import is logged and skipped: one broken plugin
        does not take the others down.
        """
        if self._loaded:
            return
        with self._lock:
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                pkg = importlib.import_module(self.package)
                for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                    if info.name.startswith("_"):
                        continue
                    module = f"{self.package}.{info.name}"
                    try:
                        importlib.import_module(module)
                    except Exception as err:
                        self.broken[module] = err
                        log.error("the %s plugin module %s failed to import: %r", self.kind, module, err)
                self._loaded = True
            finally:
                self._loading = False
