"""Every Python snippet in README.md and docs/*.md runs, so the docs cannot rot.

A snippet preceded by the line ``<!-- no-test: reason -->`` is skipped (for GPU-only or
hour-long commands); each snippet runs in a fresh namespace inside a temporary directory.
"""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPET = re.compile(r"(<!-- no-test[^>]*-->\s*\n)?```python\n(.*?)```", re.S)


def snippets():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in files:
        for i, m in enumerate(SNIPPET.finditer(path.read_text())):
            if m.group(1) is None:
                yield pytest.param(m.group(2), id=f"{path.name}#{i}")


@pytest.mark.parametrize("code", list(snippets()))
def test_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("MPLBACKEND", "Agg")
    exec(compile(code, "<snippet>", "exec"), {"__name__": "__snippet__"})
