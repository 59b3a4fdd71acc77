"""examples/fonts/make_nongrid.py: Fonts with combinations removed and shifted instances, read
back through the generic folder dataset with a held-out split of the present combinations."""

import csv
from pathlib import Path

import numpy as np
import pytest
from scripts import load_script as load_script_at

import groupsup as gs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "fonts" / "make_nongrid.py"
SMALL = ("dataset.options.letters=A-C", "dataset.options.fonts=2",
         'dataset.options.font_colors=["red","blue"]',
         'dataset.options.back_colors=["green","yellow"]')


def load_script():
    return load_script_at(SCRIPT)


def test_shift_moves_the_image_and_replicates_the_border():
    image = np.zeros((5, 5, 3), dtype=np.uint8)
    image[2, 2] = 255
    moved = load_script().shift(image, 1, -2)
    assert moved[3, 0].tolist() == [255, 255, 255] and moved.sum() == 3 * 255
    assert (load_script().shift(image, 0, 0) == image).all()


def test_nongrid_fonts_through_the_folder_dataset(tmp_path):
    module = load_script()
    out = tmp_path / "nongrid"
    # 3 letters x 3 sizes x 2 x 2 colours x 2 fonts = 72 combinations; 60% kept, twice each
    n = module.make_nongrid(out, overrides=SMALL, seed=3)
    assert n == 2 * round(0.6 * 72)
    with (out / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n and list(rows[0]) == module.COLUMNS
    combos = {tuple(r[a] for a in module.ATTRIBUTES) for r in rows}
    assert len(combos) == round(0.6 * 72)                     # not a grid: 40% missing
    with pytest.raises(SystemExit, match="already holds a dataset"):
        module.make_nongrid(out, overrides=SMALL)
    config = gs.load_config(ROOT / "examples" / "fonts" / "nongrid.toml",
                            [f"dataset.options.root={out}", "train.out=" + str(tmp_path / "r")])
    resolved = gs.resolve(config)
    data = resolved.dataset
    assert len(data) == n and set(data.schema.names) == set(module.ATTRIBUTES)
    # a combination's instances are shifted copies; the split holds whole combinations
    first = next(i for i, r in enumerate(rows) if r["path"].endswith("_0.png"))
    assert rows[first + 1]["path"].endswith("_1.png")
    assert data.load_uint8([first, first + 1]).shape == (2, 32, 32, 3)
    shifted = [(data.load_uint8([i]) != data.load_uint8([i + 1])).any()
               for i in range(0, n, 2)]
    assert sum(shifted) > n // 4             # most pairs moved differently (1 in 25 alike)
    held = {tuple(row) for row in resolved.split.held_out.tolist()}
    assert held and not {tuple(r) for r in data.labels[resolved.split.train].tolist()} & held


@pytest.mark.parametrize("exact, shifted, reach", [
    ("examples/fonts/nongrid.toml", "examples/fonts/nongrid-shift.toml", 2),
    ("examples/digits/digits-gsl.toml", "examples/digits/digits-shift.toml", 4),
])
def test_shift_configs_differ_only_in_the_cover_tolerance(exact, shifted, reach):
    exact = gs.load_config(ROOT / exact).to_dict()
    shift = gs.load_config(ROOT / shifted).to_dict()
    for config in (exact, shift):
        config.pop("name")
        config["train"].pop("out")
    assert exact["loss"]["terms"] is None and exact["loss"]["recipe"] == "gsl"
    terms = shift["loss"].pop("terms")
    assert [t["term"] for t in terms] == ["recon", "swap", "cover"]   # the terms of gsl
    assert terms[2]["options"] == {"shift_tolerance": reach}
    exact["loss"].pop("terms")
    assert exact == shift


def config_pair(first: str, second: str, added: str | None = None) -> tuple[dict, dict]:
    """Two example configs as dicts, without the keys that name a run (name, train.out); with
    *added*, the second's last loss term must be that term at weight 1, and is left out."""
    configs = [gs.load_config(ROOT / path).to_dict() for path in (first, second)]
    for config in configs:
        config.pop("name")
        config["train"].pop("out")
    if added is not None:
        last = configs[1]["loss"]["terms"].pop()
        assert last["term"] == added and last["weight"] == 1.0
    return configs[0], configs[1]


@pytest.mark.parametrize("shifted, invariant", [
    ("examples/fonts/nongrid-shift.toml", "examples/fonts/nongrid-invariance.toml"),
    ("examples/digits/digits-shift.toml", "examples/digits/digits-invariance.toml"),
])
def test_invariance_configs_add_only_the_invariance_term(shifted, invariant):
    shift, inv = config_pair(shifted, invariant, added="invariance")
    assert shift == inv


def cover_tolerance(path: str) -> int:
    return 2 if "fonts" in path else 4  # the most an instance is shifted, in px


@pytest.mark.parametrize("invariant, warped", [
    ("examples/fonts/nongrid-invariance.toml", "examples/fonts/nongrid-warp.toml"),
    ("examples/digits/digits-invariance.toml", "examples/digits/digits.toml"),
])
def test_shift_block_configs_add_the_block_and_an_exact_cover(invariant, warped):
    inv, warp = config_pair(invariant, warped)
    assert warp["schema"]["free"] == 2 and warp["model"].pop("free_warp") == "shift"
    assert inv["model"].pop("free_warp") is None
    warp["schema"]["free"] = inv["schema"]["free"]
    if "digits" in warped:  # the recommended digits recipe also takes the demo's step settings
        assert warp["train"].pop("groups_per_step") == 4 and inv["train"].pop("groups_per_step")
        assert (warp["optim"].pop("schedule"), warp["optim"].pop("schedule_by")) == ("wsd",
                                                                                     "time")
        inv["optim"].pop("schedule"), inv["optim"].pop("schedule_by")
        # ... a modulated decoder, and 500 s so that its longer-trained judge fits in 10 min
        assert warp["model"]["options"].pop("modulation") is True
        assert (warp["train"].pop("time_budget"), inv["train"].pop("time_budget")) == (500, 540)
    cover = next(t for t in inv["loss"]["terms"] if t["term"] == "cover")
    assert cover.pop("options") == {"shift_tolerance": cover_tolerance(invariant)}
    assert warp == inv


def test_the_nongrid_recipe_is_the_digits_recipe_on_the_nongrid_data():
    """examples/fonts/nongrid-recipe.toml: digits.toml with nongrid-warp.toml's dataset section
    (docs/results.md says so)."""
    recipe, digits = config_pair("examples/fonts/nongrid-recipe.toml",
                                 "examples/digits/digits.toml")
    nongrid = gs.load_config(ROOT / "examples/fonts/nongrid-warp.toml").to_dict()
    assert recipe.pop("dataset") == nongrid["dataset"]
    digits.pop("dataset")
    assert recipe == digits


@pytest.mark.parametrize("invariant, free", [
    ("examples/fonts/nongrid-invariance.toml", "examples/fonts/nongrid-free.toml"),
    ("examples/digits/digits-invariance.toml", "examples/digits/digits-free.toml"),
])
def test_unlabelled_block_configs_add_the_block_independence_and_free_mix(invariant, free):
    inv, with_free = config_pair(invariant, free, added="independence")
    assert with_free["schema"].pop("free") == 8 and inv["schema"].pop("free") is None
    for term in with_free["loss"]["terms"][1:3]:  # swap and cover mix half their decodes
        assert term["options"].pop("free_mix") == 0.5
        if not term["options"]:
            del term["options"]
    assert inv == with_free


def test_the_unlabelled_font_config_drops_only_the_font_column():
    config = gs.load_config(ROOT / "examples/fonts/unlabelled-font.toml")
    assert set(config.dataset.options["attributes"]) == {"letter", "size", "font_color",
                                                         "back_color"}
    assert config.schema_.free == 8
    assert [t["term"] for t in config.loss.terms] == ["recon", "swap", "cover", "invariance",
                                                       "independence"]
