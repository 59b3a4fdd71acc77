"""Font discovery: validation, naming, deduplication and deterministic selection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from groupsup_fonts import discover_fonts
from groupsup_fonts.discovery import check_face, face_name

import groupsup as gs


@pytest.mark.parametrize("name", ["cmsy10.ttf", "cmex10.ttf", "STIXSizOneSymReg.ttf",
                                  "LastResortHE-Regular.ttf"])
def test_symbol_and_math_fonts_are_rejected(mpl_dir: Path, name: str) -> None:
    verdict = check_face(mpl_dir / name)
    assert isinstance(verdict, str) and "symbol or math font" in verdict


def test_font_without_latin_letters_is_rejected(mpl_dir: Path) -> None:
    verdict = check_face(mpl_dir / "DejaVuSansDisplay.ttf")
    assert isinstance(verdict, str) and "no glyphs for 52 of the 52 letters" in verdict


def test_tofu_fonts_are_rejected_by_rendering(tmp_path: Path, build_font) -> None:
    # Both map every letter in their cmap, so only the rendering checks can catch them.
    tofu = build_font(tmp_path / "tofu.ttf", "Tofu Test", tofu=True)
    assert "missing-glyph box" in check_face(tofu)
    same = build_font(tmp_path / "same.ttf", "Same Test", tofu=False)
    assert "only 1 of the 52 letters render differently" in check_face(same)


def test_valid_face_is_named_by_family_and_style(mpl_dir: Path) -> None:
    assert check_face(mpl_dir / "DejaVuSerif-Bold.ttf") == ("dejavuserifbold", "dejavuserif")
    assert check_face(mpl_dir / "DejaVuSans.ttf") == ("dejavusans", "dejavusans")
    assert face_name("Liberation Sans", "Bold Italic") == "liberationsansbolditalic"
    assert face_name("TeX Gyre Heros", "Regular") == "texgyreheros"


def test_identical_files_are_kept_once(mpl_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.ttf"
    shutil.copy(mpl_dir / "DejaVuSans.ttf", copy)
    catalog = discover_fonts([mpl_dir / "DejaVuSans.ttf", copy], system=False,
                             matplotlib=False)
    assert catalog.names == ("dejavusans",)
    assert [r.path for r in catalog.rejected] == [copy]
    assert "same file content" in catalog.rejected[0].reason


def test_explicit_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(gs.DataError, match=r"nothing\.ttf"):
        discover_fonts([tmp_path / "nothing.ttf"], system=False, matplotlib=False)


def test_selection_is_deterministic_and_diverse(catalog) -> None:
    assert catalog.names == ("cmtt10", "dejavusans", "dejavuserifbold")
    # One face per family first: dejavuserifbold is the only dejavuserif face, so it counts.
    assert [f.name for f in catalog.select(2)] == ["cmtt10", "dejavusans"]
    assert [f.name for f in catalog.select(["dejavuserifbold", "cmtt10"])] == \
        ["cmtt10", "dejavuserifbold"]
    with pytest.raises(gs.DataError, match="did you mean 'dejavusans'"):
        catalog.select(["dejavusan"])
    with pytest.raises(gs.ConfigError, match="4 fonts"):
        catalog.select(4)


def test_matplotlib_alone_gives_a_usable_set() -> None:
    catalog = discover_fonts(system=False)
    assert len(catalog.faces) >= 17
    assert {"dejavusans", "dejavuserif", "stixgeneral", "cmr10"} <= set(catalog.names)
    assert not {"cmsy10", "cmex10", "cmmi10"} & set(catalog.names)
    assert all(face.source == "matplotlib" for face in catalog.faces)
