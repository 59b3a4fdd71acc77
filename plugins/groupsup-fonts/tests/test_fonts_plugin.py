"""The plugin's registrations: the fonts dataset, its options, and render-fonts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from groupsup_fonts import FontsOptions, parse_letters
from groupsup_fonts.plugin import DATASET
from pydantic import ValidationError

import groupsup as gs
from groupsup.cli import main


def test_registered_through_the_host() -> None:
    host = gs.get_host()
    assert host.datasets.get("fonts") is DATASET
    assert "render-fonts" in host.commands
    assert set(DATASET.splits) == {"protocol", "random"}
    assert DATASET.schema.names == ("letter", "size", "font_color", "back_color", "font")


def test_loads_a_store_and_a_tree_with_other_latent_sizes(mini_store: Path,
                                                          mini_tree: Path) -> None:
    store = DATASET.build({"store": str(mini_store), "latent": {"font": 40}})
    tree = DATASET.build({"root": str(mini_tree)})
    assert store.schema.latent_size == 120
    assert store.schema["font"].latent == 40 and tree.schema["font"].latent == 20
    assert len(store) == len(tree) == 144


def test_renders_on_the_fly_into_the_cache(tmp_path: Path, mpl_dir: Path) -> None:
    options = {"cache_dir": str(tmp_path), "letters": "A-C", "sizes": ["large"],
               "font_colors": ["red", "blue"], "back_colors": ["red", "blue"],
               "font_dirs": [str(mpl_dir / "DejaVuSans.ttf")], "system_fonts": False,
               "matplotlib_fonts": False, "progress": False}
    first = DATASET.build(options)
    assert len(first) == 3 * 1 * 2 * 1
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1
    again = DATASET.build(options)
    assert np.array_equal(first.load_uint8(np.arange(6)), again.load_uint8(np.arange(6)))


def test_options_are_validated() -> None:
    with pytest.raises(ValidationError, match="not both"):
        FontsOptions(root="a", store="b")
    with pytest.raises(ValidationError):
        FontsOptions(colour="red")
    assert parse_letters("A-C,x,z") == ("A", "B", "C", "x", "z")
    assert parse_letters("lower")[0] == "a" and len(parse_letters("all")) == 52
    with pytest.raises(gs.ConfigError, match="runs backwards"):
        parse_letters("z-a")


def test_render_fonts_command(tmp_path: Path, mpl_dir: Path, capsys) -> None:
    out = tmp_path / "mini"
    argv = ["render-fonts", str(out), "--font-dir", str(mpl_dir / "DejaVuSans.ttf"),
            "--no-system-fonts", "--no-matplotlib-fonts", "--letters", "A,b",
            "--sizes", "small,large", "--font-colors", "red,blue", "--back-colors", "blue,red",
            "--layout", "folder", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "rendered 8 images" in printed and f"manifest: {out / 'manifest.json'}" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["fonts"]["layout"] == "folder"
    assert (out / "b/large/red/blue/dejavusans/b_large_red_blue_dejavusans.png").is_file()
    assert main([*argv[:2], "--fonts", "nosuchfont", "--no-system-fonts", "--quiet"]) == 1
    assert "font 'nosuchfont' is not among" in capsys.readouterr().err
