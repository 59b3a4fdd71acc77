"""The documentation site builds with `mkdocs build --strict` (no broken link, anchor or API
reference) and its API reference covers every public name (issue 31)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import groupsup

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_SUBMODULES = ("groupsup.evaluate", "groupsup.explore", "groupsup.fileio",
                     "groupsup.machine", "groupsup.export")
# named in docs/api.md's prose rather than generated: a pluggy marker and the version string
NOT_GENERATED = {"hookimpl", "__version__"}

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                           "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_every_page_of_docs_is_in_the_site(site):
    for page in (ROOT / "docs").glob("*.md"):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"docs/{page.name} is not built (add it to mkdocs.yml's nav)"


def test_the_api_reference_documents_every_public_name(site):
    html = (site / "api" / "index.html").read_text()
    documented = set(re.findall(r'id="([A-Za-z0-9_.]+)"', html))

    def shown(module: str, name: str) -> bool:
        # a name is documented under the public path, or under its defining module when a
        # module of the same name hides it from the generator (docs/api.md says which)
        obj = getattr(importlib.import_module(module), name)
        defining = getattr(obj, "__module__", module)
        return (f"{module}.{name}" in documented or f"{defining}.{name}" in documented)

    missing = [f"groupsup.{n}" for n in groupsup.__all__
               if n not in NOT_GENERATED and not shown("groupsup", n)]
    for module in PUBLIC_SUBMODULES:
        names = importlib.import_module(module).__all__
        missing += [f"{module}.{n}" for n in names if not shown(module, n)]
    assert not missing, f"not in the API reference: {missing}"


def test_a_broken_link_fails_the_build(tmp_path):
    """--strict is what keeps the site honest: a page with a dead link does not build."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\n[gone](nowhere.md)\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nstrict: true\n")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=tmp_path,
                          capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode != 0 and "nowhere.md" in done.stderr
