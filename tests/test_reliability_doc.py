"""docs/reliability.md names a test for every guarantee: each named test must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "reliability.md"
# `tests/x.py::name`, then `::other` for more tests of the same file on that line
REFERENCE = re.compile(r"`((?:tests|plugins)/[\w/.-]+\.py)(?:::(\w+))?`|`::(\w+)`")


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def references() -> list[tuple[str, str | None]]:
    """``(file, test or None)`` for every test reference in the document."""
    out, current = [], None
    for line in DOC.read_text().splitlines():
        if line.startswith(("- ", "#")):  # a new guarantee: its own file first
            current = None
        for file, name, more in REFERENCE.findall(line):
            if file:
                current = file
                out.append((file, name or None))
            else:
                assert current is not None, f"'::{more}' without a file before it: {line}"
                out.append((current, more))
    return out


def test_every_guarantee_names_an_existing_test():
    refs = references()
    assert len(refs) > 40
    missing = []
    for file, name in refs:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name is not None and name not in _functions(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
