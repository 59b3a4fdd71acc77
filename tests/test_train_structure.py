"""The training layer and the persistence module stay small and keep to their own objects
(issue 28): no class over 200 lines, no function over 60, and no read of another object's
private attribute (``other._x``; ``self._x`` and ``cls._x`` are the object's own)."""

from __future__ import annotations

import ast
from pathlib import Path

import groupsup

ROOT = Path(groupsup.__file__).parent
CHECKED = sorted([*(ROOT / "train").rglob("*.py"), ROOT / "persistence.py"])
LIMITS = {ast.ClassDef: 200, ast.FunctionDef: 60, ast.AsyncFunctionDef: 60}


def nodes(path: Path) -> list[ast.AST]:
    return list(ast.walk(ast.parse(path.read_text(), str(path))))


def test_no_class_over_200_lines_and_no_function_over_60():
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({size} lines)"
            for path in CHECKED for node in nodes(path)
            if type(node) in LIMITS
            and (size := node.end_lineno - node.lineno + 1) > LIMITS[type(node)]]
    assert not long, "split these along their concepts:\n" + "\n".join(long)


def private_reads(path: Path, root: Path = ROOT) -> list[str]:
    return [f"{path.relative_to(root)}:{node.lineno} {ast.unparse(node)}"
            for node in nodes(path)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_no_reach_into_another_objects_private_attributes():
    found = [line for path in CHECKED for line in private_reads(path)]
    assert not found, "use (or add) a public name instead:\n" + "\n".join(found)


def test_the_check_sees_a_reach_in(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f(loader):\n    return loader._step_range(), self_._x, self._own\n")
    assert sorted(private_reads(path, tmp_path)) == ["m.py:2 loader._step_range",
                                                     "m.py:2 self_._x"]
