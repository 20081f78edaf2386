"""The package layout holds: no import cycles, layers import one way, modules stay small."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("receiver", "storage", "sandbox")
MAX_LINES = 400


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports at import time (TYPE_CHECKING blocks aside)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in _runtime_nodes(tree.body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        # A module's own packages are imported before it whatever it says: not an edge.
        found |= {
            target
            for target in targets
            if target in known and target != name and not name.startswith(target + ".")
        }
    return found


def _runtime_nodes(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        if isinstance(node, ast.If | ast.Try):
            inner = [*node.body, *node.orelse]
            if isinstance(node, ast.Try):
                inner += [n for handler in node.handlers for n in handler.body]
            yield from _runtime_nodes(inner)


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_storage_never_imports_the_receiver_and_the_sandbox_imports_neither() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if (name.startswith("storage") and target.startswith("receiver"))
        or (name.startswith("sandbox") and target.startswith(("receiver", "storage")))
    ]
    assert wrong == []


def test_no_module_in_receiver_or_storage_passes_the_size_limit() -> None:
    oversized = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for name, path in _modules()
        if name.startswith(("receiver", "storage"))
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert oversized == [], f"split these modules (at most {MAX_LINES} lines each)"
