"""Plugins and examples use only groupsup's public API (docs/architecture.md, "Public API").

Public is what ``groupsup.__all__`` exports, plus the names in ``__all__`` of the public
submodules below. Allowed: ``import groupsup as gs`` then ``gs.X``; ``from groupsup import X``;
the same for a public submodule. Plugin tests are not checked: they may test internals.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = ("groupsup", "groupsup.evaluate", "groupsup.explore", "groupsup.fileio",
                  "groupsup.machine", "groupsup.export")


def _exports(module: str) -> set[str]:
    return set(importlib.import_module(module).__all__)


def sources() -> list[Path]:
    return sorted([*ROOT.glob("plugins/*/groupsup_*/**/*.py"), *ROOT.glob("examples/**/*.py")])


def private_uses(path: Path) -> list[str]:
    """``line: what`` for every use of groupsup outside its public API in *path*."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> public module it is bound to

    def ours(module: str) -> bool:
        return module == "groupsup" or module.startswith("groupsup.")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not ours(alias.name):
                    continue
                if alias.name not in PUBLIC_MODULES:
                    found.append(f"{node.lineno}: import {alias.name}")
                elif alias.asname:
                    aliases[alias.asname] = alias.name
                else:  # `import groupsup.evaluate` binds `groupsup`
                    aliases["groupsup"] = "groupsup"
        elif isinstance(node, ast.ImportFrom) and node.module and ours(node.module):
            if node.module not in PUBLIC_MODULES:
                found.append(f"{node.lineno}: from {node.module} import ...")
                continue
            for alias in node.names:
                if alias.name in PUBLIC_MODULES[1:] and node.module == "groupsup":
                    aliases[alias.asname or alias.name] = f"groupsup.{alias.name}"
                elif alias.name not in _exports(node.module):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = aliases.get(node.value.id)
            if module is None:
                continue
            if f"{module}.{node.attr}" in PUBLIC_MODULES:
                continue
            if node.attr not in _exports(module):
                found.append(f"{node.lineno}: {node.value.id}.{node.attr} ({module})")
    return found


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_and_examples_import_only_public_api(path):
    assert not private_uses(path), f"{path.relative_to(ROOT)}: {private_uses(path)}"


def test_every_export_exists():
    for module in PUBLIC_MODULES:
        mod = importlib.import_module(module)
        missing = [name for name in mod.__all__ if not hasattr(mod, name)]
        assert not missing, f"{module}.__all__ names what it lacks: {missing}"


def test_the_checker_catches_private_imports(tmp_path):
    path = tmp_path / "plugin.py"
    path.write_text("import groupsup as gs\nimport groupsup.evaluate as ev\n"
                    "from groupsup.train.trainer import load_dataset\n"
                    "from groupsup import Trainer, get_host, plugins\n"
                    "gs.train_classifier\ngs.Trainer\nev.mig\nev.judge\n")
    assert private_uses(path) == ["3: from groupsup.train.trainer import ...",
                                  "4: from groupsup import plugins",
                                  "5: gs.train_classifier (groupsup)",
                                  "8: ev.judge (groupsup.evaluate)"]


def test_the_public_api_is_documented():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc.split("## Public API", 1)[1].split("\n## ", 1)[0]
    for name in [*_exports("groupsup"), *PUBLIC_MODULES[1:]]:
        assert f"`{name}`" in section, f"{name} is not listed in docs/architecture.md"
