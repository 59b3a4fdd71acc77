"""The Python snippets of this plugin's README run (docs/fonts.md runs in tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"README#{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(code: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__snippet__"})


def test_debian_package_list_is_clean() -> None:
    packages = (README.parent / "debian-fonts.txt").read_text().split("\n")
    assert packages[-1] == "" and all(re.fullmatch(r"fonts-[a-z0-9.+-]+", p)
                                      for p in packages[:-1])
