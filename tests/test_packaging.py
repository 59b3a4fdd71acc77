"""What users install (issue 31): the sdist and the wheel built from it hold the packages and
the resources they read at run time, and no tests. ``tools/check_install.sh`` (run by ``make
test`` after the suite) installs every wheel into a fresh venv and runs the demo from there."""

import tarfile
import zipfile
from pathlib import Path

from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
build_dists = load_script(ROOT / "tools" / "build_dists.py")


def test_groupsup_and_fonts_wheels_hold_their_modules_and_resources_and_no_tests(tmp_path):
    for source, package in ((ROOT, "groupsup"),
                            (ROOT / "plugins" / "groupsup-fonts", "groupsup_fonts")):
        sdist, wheel = build_dists.build(source, tmp_path)
        assert build_dists.sdist_problems(sdist) == []
        assert build_dists.wheel_problems(wheel) == []
        names = set(zipfile.ZipFile(wheel).namelist())
        assert build_dists.RESOURCES[package] <= names
        modules = {p.relative_to(source).as_posix() for p in (source / package).rglob("*.py")}
        assert modules <= names, sorted(modules - names)
        assert {n.split("/")[0] for n in names} == {package, wheel.name.split("-py3")[0]
                                                     + ".dist-info"}
        with tarfile.open(sdist) as archive:
            assert not any("/tests/" in m.name for m in archive.getmembers())
    assert not (ROOT / "plugins" / "groupsup-fonts" / "build").exists()  # built from the sdist


def test_the_check_names_tests_stray_data_and_missing_resources(tmp_path):
    wheel = tmp_path / "groupsup_fonts-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("groupsup_fonts/__init__.py", "groupsup_fonts/tests/test_x.py",
                     "groupsup_fonts/conftest.py", "groupsup_fonts/big.npz",
                     "groupsup_fonts-0.1.0.dist-info/METADATA"):
            archive.writestr(name, "")
    problems = build_dists.wheel_problems(wheel)
    assert problems == [
        f"{wheel.name}: groupsup_fonts/tests/test_x.py is a test",
        f"{wheel.name}: groupsup_fonts/conftest.py is a test",
        f"{wheel.name}: groupsup_fonts/big.npz is neither a module nor a resource the package "
        "reads (tools/build_dists.py, RESOURCES)",
        f"{wheel.name}: lacks groupsup_fonts/demo.toml, which groupsup_fonts reads at run time",
    ]


def test_make_test_runs_the_install_check_after_a_passing_suite():
    recipe = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "tools/check_install.sh" in recipe
    assert recipe.index("pytest") < recipe.index("tools/check_install.sh")
