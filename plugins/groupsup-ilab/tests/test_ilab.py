"""The ``ilab`` dataset on small trees with iLab-20M's exact naming conventions."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from groupsup_ilab import PAPER_ROTATIONS, parse_name
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.train.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ilab" / "paper.toml"

# identity -> the backgrounds it was photographed on (not a full grid, like the real data)
OBJECTS = {("boat", "i0001"): ["b0001", "b0002"], ("boat", "i0002"): ["b0002", "b0003"],
           ("car", "i0001"): ["b0001", "b0003"], ("car", "i0004"): ["b0001", "b0002"],
           ("tank", "i0001"): ["b0003"]}


def make_tree(root, cameras=("c00",), rotations=(*PAPER_ROTATIONS, "r05"), size=8):
    """One tiny JPG per (object, background, camera, rotation) in pose folders."""
    for c in cameras:
        for r in rotations:
            folder = root / f"{c}_{r}"
            folder.mkdir(parents=True)
            for k, ((category, instance), backgrounds) in enumerate(OBJECTS.items()):
                for b in backgrounds:
                    colour = (40 * k, 10 * int(b[1:]), 20 * int(r[1:]))
                    Image.new("RGB", (size, size), colour).save(
                        folder / f"{category}-{instance}-{b}-{c}-{r}-l0-f2.jpg")
            (folder / "notes.txt").write_text("not an image")
    return root


def build(**options):
    return gs.get_host().datasets.get("ilab").build(options)


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "ilab")


def test_registered_and_listed(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["ilab"]["distribution"] == "groupsup-ilab"
    assert {a: v["latent"] for a, v in rows["ilab"]["attributes"].items()} == {
        "identity": 60, "background": 20, "pose": 20}
    assert "c<NN>_r<NN>" in rows["ilab"]["expects"]


def test_paper_defaults_read_six_poses_of_camera_c00(tree):
    data = build(root=str(tree), image_size=16)
    assert len(data) == 9 * 6  # 9 object-background pairs x 6 rotations (r05 left out)
    assert data.image_shape == (3, 16, 16)
    assert data.schema["pose"].values == PAPER_ROTATIONS
    assert data.schema["background"].values == ("b0001", "b0002", "b0003")
    # instance numbers repeat across categories: identity is the (category, instance) pair
    assert data.schema["identity"].values == ("boat-i0001", "boat-i0002", "car-i0001",
                                              "car-i0004", "tank-i0001")
    assert data.schema.latent_size == 100


def test_labels_match_the_file_names_and_pixels(tree):
    data = build(root=str(tree), image_size=None)
    assert data.image_shape == (3, 8, 8)
    record = data.records([0])[0]
    assert record == {"identity": "boat-i0001", "background": "b0001", "pose": "r01"}
    pixel = data.load_uint8([0])[0, 4, 4].astype(int)
    assert np.abs(pixel - [0, 10, 20]).max() <= 3  # JPEG


def test_filters_and_several_cameras(tmp_path):
    root = make_tree(tmp_path / "ilab", cameras=("c00", "c01"), rotations=("r01", "r02"))
    data = build(root=str(root), cameras=["c00", "c01"], rotations=["r02"], categories=["car"])
    assert len(data) == 2 * 2 * 2
    assert data.schema["pose"].values == ("c00_r02", "c01_r02")
    assert {r["identity"] for r in data.records()} == {"car-i0001", "car-i0004"}


def test_admissibility_shows_which_examples_can_be_centres(tree):
    data = build(root=str(tree), image_size=8)
    observed = {tuple(row) for row in data.labels.tolist()}
    assert len(observed) < np.prod(data.schema.cardinalities)  # not a full grid
    report = gs.MultiGraph(data).admissibility()
    # tank-i0001 was shot on one background only: no partner shares its identity and differs
    # in background and pose, so its 6 images cannot centre a strict (exact) group ...
    assert report["identity"].without_exact == 6
    assert report.admissible("exact") == len(data) - 6
    # ... but every image can centre the paper config's relaxed groups.
    assert report.is_admissible("relaxed")


@pytest.mark.parametrize(("name", "reason"), [
    ("boat-i0001-x0001-c00-r01-l0-f2", "field 3 (background) 'x0001' is not a background id"),
    ("boat-0001-b0001-c00-r01", "field 2 (instance) '0001' is not an instance id iNNNN"),
    ("boat-i0001-b0001-c00", "has 4 '-'-separated field(s), expected at least 5"),
    ("boat-i0001-b0001-c00-rx1", "field 5 (rotation) 'rx1' is not a rotation id"),
    ("boat_x-i0001-b0001-c00-r01", "field 1 (category) 'boat_x' is not a category name"),
    ("boat-i0001--c00-r01-l0", "field 3 is empty"),
])
def test_malformed_names_say_which_field_and_why(name, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_name(name)


def test_parsed_fields():
    parsed = parse_name("f1car-i0012-b0089-c00-r06-l3-f1")
    assert (parsed.identity, parsed.background, parsed.pose_folder, parsed.rest) == (
        "f1car-i0012", "b0089", "c00_r06", ("l3", "f1"))


@pytest.mark.parametrize(("folder", "name", "reason"), [
    ("c00_r03", "boat-i0001-x0001-c00-r03-l0-f2.jpg",
     "field 3 (background) 'x0001' is not a background id bNNNN"),
    ("c00_r01", "car-i0001-b0001-c00-r02-l0-f2.jpg",
     "camera and rotation c00_r02 in the name do not match its folder c00_r01"),
])
def test_a_bad_file_in_the_tree_is_named(tree, folder, name, reason):
    bad = tree / folder / name
    Image.new("RGB", (8, 8)).save(bad)
    with pytest.raises(gs.DataError, match=re.escape(f"{bad}: {reason}")):
        build(root=str(tree))


def test_every_bad_file_of_a_pose_folder_is_counted(tree):
    """The whole folder is parsed first: one error names the first bad file, counts the rest."""
    for k in range(3):
        Image.new("RGB", (8, 8)).save(tree / "c00_r02" / f"boat-i000{k}-x0001-c00-r02-l0-f2.jpg")
    with pytest.raises(gs.DataError, match=re.escape(
            f"{tree / 'c00_r02' / 'boat-i0000-x0001-c00-r02-l0-f2.jpg'}: field 3 (background) "
            "'x0001' is not a background id bNNNN (and 2 more bad files)")):
        build(root=str(tree))


def test_missing_or_malformed_trees(tmp_path, tree):
    with pytest.raises(gs.DataError, match=re.escape(f"{tmp_path / 'none'}: iLab-20M folder "
                                                     "not found; expected <root>/c<NN>_r<NN>/")):
        build(root=str(tmp_path / "none"))
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "boat").mkdir()
    with pytest.raises(gs.DataError, match=r"flat: no pose folders like c00_r01 \(found "
                                           r"\['boat'\]\)"):
        build(root=str(tmp_path / "flat"))
    with pytest.raises(gs.DataError, match=r"pose folders \['c00_r08'\] are missing"):
        build(root=str(tree), rotations=["r01", "r08"])
    with pytest.raises(gs.DataError, match=r"categories \['bot'\] have no images in the chosen "
                                           r"poses \(did you mean 'boat'\?\)"):
        build(root=str(tree), categories=["boat", "bot"])


def test_options_are_validated(tree):
    with pytest.raises(gs.ConfigError, match="rotation 'rot1' is not of the form rNN"):
        build(root=str(tree), rotations=["rot1"])
    with pytest.raises(gs.ConfigError, match="unknown key 'pose'; valid keys: root"):
        build(root=str(tree), pose="r01")
    with pytest.raises(gs.ConfigError, match="camera is listed twice"):
        build(root=str(tree), cameras=["c00", "c00"])


def test_smoke_training_of_the_paper_config_on_a_generated_tree(tree, tmp_path):
    """The paper config trains end to end (CPU backbone, 2 steps) on a generated tree."""
    config = load_config(EXAMPLE, [
        f"dataset.options.root={tree}", "dataset.options.image_size=8",
        "model.backbone=conv-small", "model.options={}", "train.steps=2",
        "train.groups_per_step=2", "train.progress=false", "train.device=cpu",
        f"train.out={tmp_path / 'run'}"])
    result = gs.Trainer(config).fit()
    assert result.step == 2 and (result.checkpoint / "model.safetensors").is_file()
