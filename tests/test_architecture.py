"""The import graph of reelsearch, read with ``ast``: layers, owners of resources, no cycles.

Layers: ``web`` -> ``search`` -> ``indexer``; inside the indexer ``cli`` -> ``pipeline`` ->
``store`` / ``labels`` / ``words`` / ``models`` / ``media`` (``labels`` may use ``models``, ``words``
``media`` and ``models``), all over the shared
``indexer.errors``, ``indexer.files`` and ``indexer.types``. Only ``indexer.media`` reads video (PyAV); only
``indexer.store`` touches SQLite and FAISS.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("indexer", "search", "web")
#: What each inner package of the indexer may import (besides itself and the shared base).
INDEXER_LAYERS = {
    "media": set(),
    "models": set(),
    "store": set(),
    "labels": {"models"},
    "words": {"media", "models"},
    "pipeline": {"media", "models", "labels", "store", "words"},
    "cli": {"media", "models", "labels", "store", "pipeline", "words"},
}
BASE = {"indexer", "indexer.errors", "indexer.files", "indexer.types"}
#: Third-party modules and the only package allowed to import them.
OWNERS = {"av": "indexer.media", "sqlite3": "indexer.store", "faiss": "indexer.store"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skipped


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``name`` imports when it runs (top level or inside functions), with its line."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` depends on the module itself
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def _internal_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {dep for dep, _line in _imports(name, path) if dep in MODULES and dep != name}
    return graph


def _layer(module: str) -> str:
    """``media``, ``models``... for a module of an inner indexer package, else the module itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "indexer" and len(parts) > 1 and parts[1] in INDEXER_LAYERS else module


def test_the_graph_has_no_cycle() -> None:
    graph, state, cycles = _internal_graph(), {}, []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(trail[trail.index(dep):] + [node, dep]) if dep in trail else f"{node} -> {dep}")
            elif dep not in state:
                visit(dep, trail + [node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "\n".join(cycles)


def test_imports_never_run_back_up_the_layers() -> None:
    upward = []
    rank = {"indexer": 0, "search": 1, "web": 2}
    for name, deps in _internal_graph().items():
        for dep in deps:
            if rank[dep.split(".")[0]] > rank[name.split(".")[0]]:
                upward.append(f"{name} imports {dep}")
            elif name.startswith("indexer.") and dep.startswith("indexer.") and dep not in BASE:
                mine, theirs = _layer(name), _layer(dep)
                if mine in INDEXER_LAYERS and theirs != mine and theirs not in INDEXER_LAYERS[mine]:
                    upward.append(f"{name} imports {dep}")
                if mine not in INDEXER_LAYERS and mine not in BASE:
                    upward.append(f"{name} is outside the indexer's packages")
                if name in BASE and dep not in BASE:
                    upward.append(f"{name} (shared base) imports {dep}")
    assert not upward, "\n".join(sorted(set(upward)))


@pytest.mark.parametrize(("library", "owner"), sorted(OWNERS.items()))
def test_only_the_owner_imports(library: str, owner: str) -> None:
    trespass = [f"{name}:{line}" for name, path in MODULES.items() if not (name + ".").startswith(owner + ".")
                for dep, line in _imports(name, path) if dep == library or dep.startswith(library + ".")]
    assert not trespass, "\n".join(trespass)


def test_only_the_store_runs_sql() -> None:
    """No ``.execute*`` call, and no ``catalog`` back door into the store, outside ``indexer.store``."""
    trespass = []
    for name, path in MODULES.items():
        if name.startswith("indexer.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript", "catalog"):
                trespass.append(f"{name}:{node.lineno} .{node.attr}")
    assert not trespass, "\n".join(trespass)


def test_the_graph_reader_sees_imports() -> None:
    """The checks above mean something: the reader finds known edges of every kind."""
    graph = _internal_graph()
    assert "indexer.models.encoder" in graph["indexer.labels.classify"]
    assert "indexer.store.queries" in graph["indexer.store.curation"]  # `from indexer.store import queries`
    assert "indexer.pipeline.orchestrate" in graph["indexer.cli.index"]  # imported inside a function
    assert any(dep == "av" for dep, _ in _imports("indexer.media.probe", MODULES["indexer.media.probe"]))
    assert "indexer.labels.taxonomy" not in graph["indexer.labels.names"]  # under TYPE_CHECKING only
