"""Fixtures of the groupsup-fonts tests: a few matplotlib faces and small renders."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from groupsup_fonts import FontCatalog, RenderPlan, discover_fonts, render_folder, render_store
from groupsup_fonts.discovery import matplotlib_font_dir

# Faces from matplotlib's wheel: pinned by constraints.txt, so the same on every machine.
FACES = ("DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "cmtt10.ttf")


@pytest.fixture(scope="session")
def mpl_dir() -> Path:
    folder = matplotlib_font_dir()
    assert folder is not None, "matplotlib's fonts folder is missing"
    return folder


@pytest.fixture(scope="session")
def catalog(mpl_dir: Path) -> FontCatalog:
    """Three valid faces, found only among the named files."""
    return discover_fonts([mpl_dir / name for name in FACES], system=False, matplotlib=False)


@pytest.fixture(scope="session")
def mini_plan(catalog: FontCatalog) -> RenderPlan:
    """4 letters (A, B, a, b) x 3 sizes x 6 colour pairs x 2 fonts = 144 images of 32 px."""
    return RenderPlan(catalog.select(["dejavusans", "dejavuserifbold"]), 32,
                      letters=tuple("ABab"), font_colors=("red", "green", "blue"),
                      back_colors=("red", "green", "blue"))


@pytest.fixture(scope="session")
def mini_tree(mini_plan: RenderPlan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_folder(mini_plan, tmp_path_factory.mktemp("tree") / "fonts",
                         progress=False).path


@pytest.fixture(scope="session")
def mini_store(mini_plan: RenderPlan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_store(mini_plan, tmp_path_factory.mktemp("store") / "fonts",
                        progress=False).path


def _box(inset: int) -> object:
    pen = TTGlyphPen(None)
    pen.moveTo((50 + inset, 0))
    pen.lineTo((50 + inset, 700))
    pen.lineTo((450 - inset, 700))
    pen.lineTo((450 - inset, 0))
    pen.closePath()
    return pen.glyph()


@pytest.fixture(scope="session")
def build_font() -> Callable[..., Path]:
    """A factory of test fonts whose 52 letters all map to one box: see :func:`_build_font`."""
    return _build_font


def _build_font(path: Path, family: str, *, tofu: bool) -> Path:
    """A TrueType font whose 52 letters all map to one box glyph.

    With *tofu* the box is drawn exactly like the missing-glyph box (``.notdef``).
    """
    inset = 0 if tofu else 100
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "box"])
    builder.setupCharacterMap({ord(c): "box" for c in string.ascii_letters})
    builder.setupGlyf({".notdef": _box(0), "box": _box(inset)})
    builder.setupHorizontalMetrics({".notdef": (500, 50), "box": (500, 50 + inset)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path
