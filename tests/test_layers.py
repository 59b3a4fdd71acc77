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
import textwrap
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
               "groupsup.pretrained", "groupsup.losses")),
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
    path.write_text(textwrap.dedent("""\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from groupsup.train import Trainer
        else:
            from groupsup import errors
        def f():
            from groupsup.model import SwapAutoencoder
        """))
    assert imports_of("groupsup.data.example", path, module_names()) == {
        "groupsup.errors", "groupsup.model"}


@pytest.mark.parametrize(("module", "layer"), [
    ("groupsup", "package"), ("groupsup.runs.evaluate", "pipeline"),
    ("groupsup.evaluate.mig", "metrics"), ("groupsup.train.loader", "training"),
    ("groupsup.version", "ground")])
def test_layer_assignment(module, layer):
    assert LAYERS[layer_of(module)][0] == layer


# ------------------------------------------------------------ the global plugin host
# Below the public facade every component takes a Registries argument; only these modules may
# reach the process-wide plugin host, each for the reason given.
GLOBAL_HOST = frozenset({"get_host", "configure_host", "reset_host", "host_registries"})
HOST_ALLOWED: dict[str, str] = {
    "groupsup": "the facade: build_model, build_recipe and load_model default to the host's "
                "registries",
    "groupsup.cli": "the command line is the top: it configures the host from its config files",
    "groupsup.runs.evaluate": "evaluate_run, a public entry point (gs.evaluate_run) called "
                              "from the top without registries: host_registries",
    "groupsup.explore.loaded": "Explorer(run), the explorer's public entry point, called from "
                               "the top without registries: host_registries",
    "groupsup.train.resolve": "host_registries, the training layer's default for its entry "
                              "points called from the top without registries (gs.resolve, "
                              "gs.build_dataset, gs.Trainer)",
}
# Modules allowed for now, while a change is under way (empty: the list only shrinks).
HOST_ALLOWED_FOR_NOW: dict[str, str] = {}


def _allowed(module: str, allowed: dict[str, str]) -> bool:
    return any(module == m or (m != PACKAGE and module.startswith(m + ".")) for m in allowed)


def global_host_uses(path: Path) -> list[str]:
    """``"line: name"`` for every mention of the process-wide host in the module at *path*:
    an import of, a call of or a reference to one of :data:`GLOBAL_HOST` (annotations
    included: a module that names the host depends on it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names if a.name in GLOBAL_HOST]
        elif isinstance(node, ast.Name):
            names = [node.id] if node.id in GLOBAL_HOST else []
        elif isinstance(node, ast.Attribute):
            names = [node.attr] if node.attr in GLOBAL_HOST else []
        else:
            names = []
        found += [(node.lineno, name) for name in names]
    return [f"{line}: {name}" for line, name in sorted(found)]


def test_nothing_below_the_facade_reaches_for_the_global_plugin_host():
    allowed = {**HOST_ALLOWED, **HOST_ALLOWED_FOR_NOW}
    found = {f"{name} line {use}" for name, path in module_names().items()
             if not _allowed(name, allowed) for use in global_host_uses(path)}
    plugins = sorted([*ROOT.parent.glob("plugins/*/groupsup_*/**/*.py"),
                      *ROOT.parent.glob("examples/**/*.py")])
    found |= {f"{path.relative_to(ROOT.parent)} line {use}" for path in plugins
              for use in global_host_uses(path)}
    assert not found, ("below the facade, take a Registries argument instead of the global "
                       "plugin host (a plugin: the registries its hook receives): "
                       + "; ".join(sorted(found)))


def test_the_host_allow_lists_are_needed():
    """Each allowed module does use the host, so that the lists only shrink."""
    modules = module_names()
    for allowed in (HOST_ALLOWED, HOST_ALLOWED_FOR_NOW):
        for name in allowed:
            paths = [p for m, p in modules.items() if _allowed(m, {name: ""})]
            assert any(global_host_uses(p) for p in paths), f"{name} no longer uses the host"


def test_the_host_check_sees_imports_calls_and_attributes(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from groupsup.plugins import get_host\nimport groupsup as gs\n"
                    "def f(r=None):\n    return r or gs.get_host()\n"
                    "def g():\n    return configure_host(disable=[])\n"
                    "def get_host_like():\n    return 'get_host'\n")
    assert global_host_uses(path) == ["1: get_host", "4: get_host", "6: configure_host"]


# ------------------------------------------------------------ private attributes
# ``x._name`` read where x is not ``self`` or ``cls`` (or ``getattr(x, "_name")``): another
# object's private state, to be replaced by public API. Dunders are public protocol.
# TEMPORARY, emptied when the other branches of issue 28 are merged (the loader's step range
# becomes public API there).
PRIVATE_READS_FOR_NOW: dict[str, str] = {}  # empty: the list only shrinks


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _owner_is_own(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _private_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return (isinstance(node.ctx, ast.Load) and _private(node.attr)
                and not _owner_is_own(node.value))
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
            and _private(node.args[1].value) and not _owner_is_own(node.args[0]))


def private_reads(path: Path) -> list[str]:
    """``"line: expression"`` for every read of another object's private attribute."""
    found = [(node.lineno, ast.unparse(node))
             for node in ast.walk(ast.parse(path.read_text(), str(path))) if _private_read(node)]
    return [f"{line}: {text}" for line, text in sorted(found)]


def test_no_module_reads_another_objects_private_attributes():
    found = {f"{name} line {read}" for name, path in module_names().items()
             if name not in PRIVATE_READS_FOR_NOW for read in private_reads(path)}
    plugins = sorted([*ROOT.parent.glob("plugins/*/groupsup_*/**/*.py"),
                      *ROOT.parent.glob("examples/**/*.py")])
    found |= {f"{path.relative_to(ROOT.parent)} line {read}" for path in plugins
              for read in private_reads(path)}
    assert not found, "reads of another object's private attribute (give it public API): " + (
        "; ".join(sorted(found)))


def test_the_private_allow_list_is_needed():
    modules = module_names()
    stale = [name for name in PRIVATE_READS_FOR_NOW if not private_reads(modules[name])]
    assert not stale, f"no longer reads private attributes, remove: {stale}"


def test_the_private_check_sees_reads_not_own_state(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("class A:\n    def f(self, other):\n        self._x = other._x\n"
                    "        return cls._y, other.__class__, getattr(other, '_z', None)\n")
    assert private_reads(path) == ["3: other._x", "4: getattr(other, '_z', None)"]
