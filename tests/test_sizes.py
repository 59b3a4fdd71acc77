"""Units kept small: no class over 200 lines and no function over 60 lines in groupsup/ (issue
28, "Architecture step 2"). A unit's length runs from its ``def``/``class`` line to its last
line (decorators excluded), so its docstring and comments count; nested functions and methods
are measured on their own as well."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "groupsup"
CLASS_LIMIT = 200
FUNCTION_LIMIT = 60
# Units allowed over their limit while they are being split, as (file, qualified name): the
# length they may reach. The list only shrinks: the test fails when an entry has grown, and
# when it is no longer over the limit (then drop it).
ALLOWED: dict[tuple[str, str], int] = {}  # empty: nothing in groupsup/ is over the limits


def _units(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    """Every class and function of *tree* with its qualified name (``Class.method``,
    ``function.inner``)."""
    found = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            found.append((name, node))
            found.extend(_units(node, f"{name}."))
        else:
            found.extend(_units(node, prefix))
    return found


def over_the_limits() -> dict[tuple[str, str], int]:
    """``{(file, qualified name): lines}`` of every class over :data:`CLASS_LIMIT` lines and
    every function over :data:`FUNCTION_LIMIT` lines in the package."""
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for name, node in _units(ast.parse(path.read_text(), str(path))):
            lines = node.end_lineno - node.lineno + 1
            limit = CLASS_LIMIT if isinstance(node, ast.ClassDef) else FUNCTION_LIMIT
            if lines > limit:
                long[(where, name)] = lines
    return long


def test_the_measure_counts_from_the_definition_to_its_last_line():
    tree = ast.parse("class A:\n    @property\n    def f(self):\n        def g():\n"
                     "            return 1\n        return g\n\n\nx = 1\n")
    lengths = {name: node.end_lineno - node.lineno + 1 for name, node in _units(tree)}
    assert lengths == {"A": 6, "A.f": 4, "A.f.g": 2}


def test_no_class_or_function_over_the_limits():
    long = over_the_limits()
    unexpected = {f"{path}: {name} ({lines} lines)" for (path, name), lines in long.items()
                  if lines > ALLOWED.get((path, name), 0)}
    assert not unexpected, (
        f"split these along their seams (classes at most {CLASS_LIMIT} lines, functions at most "
        f"{FUNCTION_LIMIT}; an allowed unit may not grow): {sorted(unexpected)}")


def test_the_allow_list_holds_only_units_still_over_the_limits():
    long = over_the_limits()
    stale = sorted(f"{path}: {name}" for path, name in ALLOWED if (path, name) not in long)
    assert not stale, f"no longer over the limit (or gone); drop from ALLOWED: {stale}"
