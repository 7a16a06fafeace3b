"""The import graph: layers point one way, and no module imports itself round a cycle.

    engine (agents) <- guardrails <- composition (chat) <- store <- sinks (ui, web, cli) <- entry points

Every import counts, at the top of a module or inside a function (a "late"
import is still a dependency).  This is import-linter's "layers" contract,
read straight from the source with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agents", "guardrails", "chat", "store", "ui", "web", "cli")
#: ``store`` (the conversation database) sits between the composition layer and the sinks.
LAYER = {"agents": 0, "guardrails": 1, "chat": 2, "store": 2.5, "ui": 3, "web": 3, "cli": 3, "app": 4}
SINKS = frozenset({"ui", "web", "cli"})


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (a module, else the package holding it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _dynamic(node: ast.AST) -> str | None:
    """The module an ``importlib.import_module("x")`` or ``__import__("x")`` call names literally."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return str(node.args[0].value) if called in {"import_module", "__import__"} else None


def _imports(module: str, path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (name := _dynamic(node)) is not None:
            names = [name]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            # `from pkg import mod` depends on pkg.mod when that is a module, else on pkg
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        out.update(target for name in names if (target := _resolve(name)) and target != module)
    return out


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


#: Entry points sit on top of everything: the program starts there.  Named one by one, so a new
#: ``__main__`` elsewhere cannot slip past the rule.
ENTRY_POINTS = frozenset({"app", "cli.__main__"})


def _layer(module: str) -> float:
    if module in ENTRY_POINTS:
        return LAYER["app"]
    return LAYER[module.split(".")[0]]


def test_the_graph_sees_the_project() -> None:
    assert {"agents.runner", "guardrails.stream", "chat.session", "ui.sink", "web.api", "cli.main", "app"} <= set(GRAPH)
    assert "agents.runner" in GRAPH["chat.session"]  # the reader does see imports


@pytest.mark.parametrize("package", PACKAGES)
def test_no_layer_imports_a_higher_one(package: str) -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert not wrong, "imports that run up the layers:\n" + "\n".join(wrong)


def test_sinks_do_not_import_each_other() -> None:
    def sink(module: str) -> str | None:
        top = module.split(".")[0]
        return top if top in SINKS and _layer(module) == 3 else None

    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in sorted(targets)
        if sink(module) and sink(target) and sink(module) != sink(target)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_checks_can_fail() -> None:
    """The cycle finder and the layer rule catch what they are for (checked on made-up graphs)."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert _layer("agents.runner") < _layer("guardrails.stream") < _layer("chat.session") < _layer("ui.sink")
    assert _layer("chat.session") < _layer("store.database") < _layer("web.api")
    assert _layer("cli.__main__") == _layer("app")
    assert _layer("agents.buffering.__main__") == _layer("agents.runner")
    assert _dynamic(ast.parse('importlib.import_module("chat.session")').body[0].value) == "chat.session"  # type: ignore[attr-defined]
