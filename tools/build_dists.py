"""Build the sdist and the wheel of groupsup and of every plugin, and check what the wheels hold.

Each project's sdist is built from its source folder through setuptools' own build hooks (PEP
517), then its wheel from that sdist unpacked in a scratch folder, as ``python -m build`` does:
a file the sdist leaves out is missing from the wheel too, and the source tree gets no
``build/`` folder. Nothing is downloaded: the hooks run with this interpreter's setuptools.

Every wheel is then checked: no tests (no ``tests/`` folder, ``test_*.py`` or ``conftest.py``)
and no file besides Python modules except the run-time resources :data:`RESOURCES` names,
which must all be there. The sdists hold no tests either (each project's ``MANIFEST.in`` prunes
them: they run from the repository, whose docs, examples and data they read).

    python tools/build_dists.py --out DIR [PROJECT_FOLDER ...]

builds groupsup and every ``plugins/*/`` project when no folder is given, and exits 1 naming
each wheel and file at fault. ``tools/check_install.sh`` installs what it builds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]

# The files other than Python modules each distribution reads at run time (through
# importlib.resources): the only ones its wheel may hold, and all must be there.
RESOURCES: dict[str, set[str]] = {
    "groupsup": {"groupsup/explore/static/index.html", "groupsup/explore/static/app.js",
                 "groupsup/explore/static/style.css"},
    "groupsup_fonts": {"groupsup_fonts/demo.toml"},
}

_HOOK = "import sys\nfrom setuptools import build_meta\nprint(build_meta.build_{}(sys.argv[1]))"


def projects() -> list[Path]:
    """groupsup's folder and every plugin's (``plugins/*/pyproject.toml``), in that order."""
    return [ROOT, *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]


def _build(kind: str, source: Path, out: Path) -> Path:
    """Run setuptools' ``build_sdist`` or ``build_wheel`` hook in *source*; the file built."""
    done = subprocess.run([sys.executable, "-c", _HOOK.format(kind), str(out)], cwd=source,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the {kind} of {source} failed:\n{done.stdout}"
                           f"{done.stderr}")
    return out / done.stdout.strip().splitlines()[-1]


def build(source: Path, out: Path) -> tuple[Path, Path]:
    """``(sdist, wheel)`` of the project in *source*, written into *out*; the wheel is built
    from the sdist."""
    out.mkdir(parents=True, exist_ok=True)
    sdist = _build("sdist", source, out)
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
        unpacked = Path(scratch) / sdist.name.removesuffix(".tar.gz")
        return sdist, _build("wheel", unpacked, out)


def sdist_problems(sdist: Path) -> list[str]:
    """The tests *sdist* holds (``MANIFEST.in`` prunes them), one line each."""
    with tarfile.open(sdist) as archive:
        names = [m.name for m in archive.getmembers() if m.isfile()]
    return [f"{sdist.name}: {name} is a test" for name in names if _is_test(PurePosixPath(name))]


def _is_test(path: PurePosixPath) -> bool:
    return "tests" in path.parts or path.name.startswith("test_") or path.name == "conftest.py"


def wheel_problems(wheel: Path) -> list[str]:
    """What *wheel* holds that it should not (tests, files that are neither modules nor
    listed resources) and the listed resources it lacks, one line each."""
    names = [n for n in zipfile.ZipFile(wheel).namelist() if not n.endswith("/")]
    problems = []
    for name in names:
        path = PurePosixPath(name)
        if path.parts[0].endswith(".dist-info"):
            continue
        if _is_test(path):
            problems.append(f"{wheel.name}: {name} is a test")
        elif path.suffix != ".py" and name not in RESOURCES.get(path.parts[0], set()):
            problems.append(f"{wheel.name}: {name} is neither a module nor a resource the "
                            "package reads (tools/build_dists.py, RESOURCES)")
    tops = {PurePosixPath(n).parts[0] for n in names}
    for top in tops & RESOURCES.keys():
        problems += [f"{wheel.name}: lacks {name}, which {top} reads at run time"
                     for name in sorted(RESOURCES[top] - set(names))]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the files built")
    parser.add_argument("projects", nargs="*", type=Path,
                        help="project folders (default: groupsup and every plugin)")
    args = parser.parse_args(argv)
    problems = []
    for source in args.projects or projects():
        sdist, wheel = build(source.resolve(), args.out.resolve())
        print(f"built {sdist.name} and {wheel.name}")
        problems += sdist_problems(sdist) + wheel_problems(wheel)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
