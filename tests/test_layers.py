"""The package's layers, declared and enforced: no import cycle between modules, and no import
against the declared order (docs/architecture.md, "Layers").

A module may import modules of its own layer or below. Imports under ``if TYPE_CHECKING:`` are
annotations only and do not count; imports inside functions do (a lazy import is still a
dependency). ``from groupsup.pkg import name`` is an edge to ``groupsup.pkg.name`` when that is
a module, else to ``groupsup.pkg``; the parent packages Python imports on the way are not edges
(every module would otherwise depend on ``groupsup/__init__.py``, which imports everything).
The plugin host loads the built-in plugin modules by dotted name through ``importlib``: that is
not a static import and is no edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

import groupsup

ROOT = Path(groupsup.__file__).parent
PACKAGE = "groupsup"

# Lowest first. A module belongs to the layer of its longest matching entry: an entry is a module
# name, or a package whose modules all belong to it (the top-level package only as itself).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("groupsup.errors", "groupsup.version", "groupsup.fileio", "groupsup.validation",
                "groupsup.machine")),
    ("declarations", ("groupsup.hookspecs", "groupsup.registry", "groupsup.partition",
                      "groupsup.attribute", "groupsup.labels",
                      "groupsup.schema", "groupsup.imaging")),
    ("plugin host", ("groupsup.plugins", "groupsup.plugin_calls")),
    ("data", ("groupsup.data", "groupsup.groups")),
    ("metrics", ("groupsup.evaluate",)),
    ("graph", ("groupsup.graph",)),
    ("model", ("groupsup.backbones", "groupsup.model", "groupsup.persistence",
               "groupsup.losses")),
    ("training", ("groupsup.train",)),
    ("pipeline", ("groupsup.runs", "groupsup.explore", "groupsup.export")),
    ("interface", ("groupsup.cli", "groupsup.__main__")),
    ("package", ("groupsup",)),
]

# Imports against the order that are known and scheduled for removal, as (importer, imported).
# Each must still occur (the test fails on a stale entry), so the list only shrinks.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def module_names() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of *tree* outside the bodies of ``if TYPE_CHECKING:`` (their ``else`` counts)."""
    nodes, stack = [], [tree]
    while stack:
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that module *name* (at *path*) imports at run time."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, one level up per extra dot
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            for alias in node.names:
                child = f"{source}.{alias.name}"
                found.add(child if child in modules else source)
    return {m for m in found if m in modules and m != name}


def import_graph() -> nx.DiGraph:
    modules = module_names()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in imports_of(name, path, modules))
    return graph


def layer_of(module: str) -> int:
    best, level = "", -1
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            matches = module == entry or (entry != PACKAGE and module.startswith(entry + "."))
            if matches and len(entry) > len(best):
                best, level = entry, index
    return level


def violations(graph: nx.DiGraph) -> set[tuple[str, str]]:
    return {(a, b) for a, b in graph.edges if layer_of(b) > layer_of(a)}


def test_every_module_has_a_layer():
    unplaced = [m for m in module_names() if layer_of(m) < 0]
    assert not unplaced, f"declare the layer of {unplaced} in LAYERS (and docs/architecture.md)"


def test_no_import_cycles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not cycles, f"import cycles between modules: {cycles}"


def test_no_import_against_the_layer_order():
    found = violations(import_graph())
    new = sorted(found - KNOWN_VIOLATIONS)
    detail = [f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
              for a, b in new]
    assert not new, "imports against the layer order:\n" + "\n".join(detail)


def test_known_violations_still_occur():
    stale = sorted(KNOWN_VIOLATIONS - violations(import_graph()))
    assert not stale, f"fixed, remove from KNOWN_VIOLATIONS: {stale}"


def test_the_layer_test_sees_lazy_imports_and_ignores_type_checking(tmp_path):
    """The graph builder itself: a lazy import counts, a TYPE_CHECKING one does not."""
    path = tmp_path / "mod.py"
    path.write_text("from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n    from groupsup.train import Trainer\n"
                    "else:\n    from groupsup import errors\n"
                    "def f():\n    from groupsup.model import SwapAutoencoder\n")
    modules = module_names()
    found = imports_of("groupsup.data.example", path, modules)
    assert found == {"groupsup.errors", "groupsup.model"}


@pytest.mark.parametrize(("module", "layer"), [
    ("groupsup", "package"), ("groupsup.runs.evaluate", "pipeline"),
    ("groupsup.evaluate.mig", "metrics"), ("groupsup.train.loader", "training"),
    ("groupsup.version", "ground")])
def test_layer_assignment(module, layer):
    assert LAYERS[layer_of(module)][0] == layer
