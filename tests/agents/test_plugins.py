"""The one plugin registry: same duplicate rule before and after loading, thread-safe, one broken plugin isolated."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import buffering
from agents.plugins import DuplicatePlugin, InvalidPluginName
from agents.providers import registry as providers


@pytest.fixture
def package(tmp_path: Path) -> Iterator[str]:
    """A throwaway plugin package: two good modules, one that fails to import, one private."""
    name = f"plugpkg_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / name
    root.mkdir()
    init = "from agents.plugins import Registry\nREG = Registry('thing', __name__, KeyError)\n"
    (root / "__init__.py").write_text(init)
    (root / "alpha.py").write_text(f"from {name} import REG\nREG.register('alpha', 'A', order=2)\n")
    (root / "beta.py").write_text(f"from {name} import REG\nREG.register('beta', 'B', order=1)\n")
    (root / "broken.py").write_text("import a_module_that_is_not_installed_xyz\n")
    (root / "_private.py").write_text("raise RuntimeError('never imported')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield name
    finally:
        sys.path.remove(str(tmp_path))
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[mod]


def test_modules_register_themselves_in_order_and_a_broken_one_is_skipped(package: str) -> None:
    reg = __import__(package).REG
    assert reg.names() == ["beta", "alpha"]
    assert reg.get("alpha") == "A"
    assert list(reg.broken) == [f"{package}.broken"]


def test_a_taken_name_is_refused_before_and_after_loading(package: str) -> None:
    reg = __import__(package).REG
    with pytest.raises(DuplicatePlugin):
        reg.register("alpha", "again")  # the first call loads the package, then applies the rule
    assert reg.get("alpha") == "A"
    reg.register("alpha", "new", replace=True)
    assert reg.get("alpha") == "new" and reg.names() == ["beta", "alpha"]  # a replacement keeps its place


def test_built_in_names_are_refused() -> None:
    with pytest.raises(DuplicatePlugin):
        providers.PROVIDERS.register("echo", object())  # type: ignore[arg-type]
    assert providers.get("echo").label.startswith("Echo")
    with pytest.raises(DuplicatePlugin):
        buffering.register("token", object)  # type: ignore[arg-type]
    assert buffering.parse("sentence").base == "sentence"  # the registry still works afterwards
    with pytest.raises(InvalidPluginName):
        buffering.register("time", object)  # type: ignore[arg-type]
    with pytest.raises(InvalidPluginName):
        providers.PROVIDERS.register("Bad Name", object())  # type: ignore[arg-type]


def test_threads_that_race_the_first_load_all_see_every_plugin(package: str) -> None:
    reg = __import__(package).REG
    barrier = threading.Barrier(4)
    seen: list[list[str]] = []

    def look() -> None:
        barrier.wait()
        seen.append(reg.names())

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [["beta", "alpha"]] * 4
