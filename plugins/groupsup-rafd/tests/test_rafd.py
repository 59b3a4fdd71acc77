"""The ``rafd`` dataset on small trees with RaFD's exact naming convention."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from groupsup_rafd import PAPER_EXPRESSIONS, POSES, CropBox, parse_name
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.train.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rafd" / "paper.toml"

PEOPLE = {"01": ("Caucasian", "female"), "02": ("Moroccan", "male"), "03": ("Kid", "female"),
          "05": ("Caucasian", "male"), "10": ("Moroccan", "female")}
FRAME = (68, 102)  # RaFD's 681x1024 portrait frames, a tenth of the size


def face_name(pose, person, expression, gaze, suffix=".jpg"):
    ethnicity, gender = PEOPLE[person]
    return f"Rafd{pose}_{person}_{ethnicity}_{gender}_{expression}_{gaze}{suffix}"


def make_tree(root, suffix=".jpg"):
    """Every person, camera angle and paper expression with frontal gaze, plus angry faces and
    left-gazing happy faces that the paper's filters leave out."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    views = [(e, "frontal") for e in (*PAPER_EXPRESSIONS, "angry")] + [("happy", "left")]
    for person in PEOPLE:
        for pose in POSES:
            for expression, gaze in views:
                pixels = rng.integers(0, 256, (FRAME[1], FRAME[0], 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / face_name(pose, person, expression, gaze,
                                                              suffix))
    return root


def build(**options):
    return gs.get_host().datasets.get("rafd").build(options)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("rafd") / "RafD")


def test_registered_and_listed(capsys):
    assert main(["datasets", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["rafd"]["distribution"] == "groupsup-rafd"
    assert {a: v["latent"] for a, v in rows["rafd"]["attributes"].items()} == {
        "identity": 60, "expression": 20, "pose": 20}
    assert "identity" in gs.get_host().datasets.get("rafd").splits


def test_paper_filters_by_default(tree):
    data = build(root=str(tree))
    assert len(data) == 5 * 5 * 5  # people x camera angles x the paper's expressions, frontal
    assert data.image_shape == (3, 128, 128)
    assert data.schema["expression"].values == tuple(sorted(PAPER_EXPRESSIONS))
    assert data.schema["pose"].values == POSES
    assert data.schema["identity"].values == tuple(PEOPLE)
    assert data.load([0]).shape == (1, 3, 128, 128)
    assert gs.MultiGraph(data).admissibility().is_admissible("exact")  # RaFD is a full grid


def test_filters(tree):
    data = build(root=str(tree), poses=["090"], expressions=["happy", "angry"],
                 gazes=["frontal", "left"], image_size=8)
    assert len(data) == 5 * 3  # per person: angry frontal, happy frontal, happy left
    assert {r["pose"] for r in data.records()} == {"090"}


def test_crop_is_the_configured_box_of_each_frame(tmp_path):
    root = make_tree(tmp_path / "png", suffix=".png")  # lossless, to compare pixels exactly
    frame = root / face_name("045", "03", "neutral", "frontal", ".png")
    data = build(root=str(root), image_size=None, poses=["045"], expressions=["neutral"])
    index = [r["identity"] for r in data.records()].index("03")
    left, top, right, bottom = CropBox().box(*FRAME)
    expected = np.asarray(Image.open(frame))[top:bottom, left:right]
    assert data.image_shape == (3, right - left, right - left)
    np.testing.assert_array_equal(data.load_uint8([index])[0], expected)
    moved = build(root=str(root), image_size=None, poses=["045"], expressions=["neutral"],
                  crop={"centre_x": 0.4, "centre_y": 0.3, "side": 0.5})
    assert moved.image_shape == (3, 34, 34)
    uncropped = build(root=str(root), image_size=None, poses=["045"], expressions=["neutral"],
                      crop=False)
    np.testing.assert_array_equal(uncropped.load_uint8([index])[0], np.asarray(Image.open(frame)))


def test_default_box_on_a_raw_frame():
    assert CropBox().box(681, 1024) == (68, 158, 613, 703)


def test_a_box_outside_the_frame_names_the_file(tree):
    data = build(root=str(tree), crop={"centre_y": 0.1, "side": 0.9})
    with pytest.raises(gs.DataError, match=r"Rafd000_01_Caucasian_female_contemptuous_frontal"
                                           r"\.jpg: crop box \(4, -20, 65, 41\) .* does not fit "
                                           r"the 68x102 frame"):
        data.load([0])


@pytest.mark.parametrize(("name", "reason"), [
    ("Rafd090_01_Caucasian_female_happy", "has 5 '_'-separated field(s), expected 6"),
    ("Rafd90_01_Caucasian_female_happy_frontal", "field 1 'Rafd90' is not 'Rafd' and a 3-digit"),
    ("Rafd030_01_Caucasian_female_happy_frontal", "field 1 (camera angle) '030' is not one of"),
    ("Rafd090_x1_Caucasian_female_happy_frontal", "field 2 (model id) 'x1' is not a number"),
    ("Rafd090_01_Caucasian_woman_happy_frontal", "field 4 (gender) 'woman' is not one of"),
    ("Rafd090_01_Caucasian_female_smiling_frontal", "field 5 (expression) 'smiling' is not one"),
    ("Rafd090_01_Caucasian_female_happy_up", "field 6 (gaze) 'up' is not one of"),
])
def test_malformed_names_say_which_field_and_why(name, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_name(name)


def test_parsed_fields():
    face = parse_name("Rafd135_72_Moroccan_male_contemptuous_left")
    assert (face.pose, face.identity, face.ethnicity, face.gender, face.expression,
            face.gaze) == ("135", "72", "Moroccan", "male", "contemptuous", "left")


def test_a_malformed_file_in_the_tree_is_named(tmp_path):
    root = tmp_path / "rafd"
    root.mkdir()
    Image.new("RGB", FRAME).save(root / face_name("090", "01", "happy", "frontal"))
    bad = root / "Rafd090_01_Caucasian_female_happy_front.jpg"
    Image.new("RGB", FRAME).save(bad)
    with pytest.raises(gs.DataError, match=re.escape(f"{bad}: field 6 (gaze) 'front' is not")):
        build(root=str(root))
    # every file is parsed first: one error names the first bad file and counts the others
    Image.new("RGB", FRAME).save(root / "Rafd090_02_Moroccan_male_happy_front.jpg")
    with pytest.raises(gs.DataError, match=r"'front' is not .*\(and 1 more bad file\)$"):
        build(root=str(root))


def test_missing_or_empty_trees_and_filters_that_match_nothing(tmp_path, tree):
    with pytest.raises(gs.DataError, match=re.escape(f"{tmp_path / 'none'}: RaFD folder not "
                                                     "found; expected <root>/Rafd<POSE>_")):
        build(root=str(tmp_path / "none"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("")
    with pytest.raises(gs.DataError, match="empty: no image files"):
        build(root=str(tmp_path / "empty"))
    with pytest.raises(gs.DataError, match=r"none of 175 images has an expression in \['sad'\]"):
        build(root=str(tree), expressions=["sad"])


def test_identity_split_trains_on_the_larger_side(tree):
    data = build(root=str(tree), image_size=8)
    make = gs.get_host().datasets.get("rafd").splits["identity"]
    split = make(data, 1)
    people = data.labels[:, 0]
    assert len(np.unique(people[split.test])) == 1  # 20% of 5 people
    assert len(split.train) == 4 * len(split.test)
    assert not set(people[split.test]) & set(people[split.train])
    for j in (1, 2):  # every expression and pose keeps training examples
        assert len(np.unique(data.labels[split.train, j])) == data.schema.cardinalities[j]
    again = make(data, 1)
    np.testing.assert_array_equal(split.test, again.test)
    assert len({tuple(make(data, seed).test[:1]) for seed in range(8)}) > 1


def test_options_are_validated(tree):
    with pytest.raises(gs.ConfigError, match="suprised"):
        build(root=str(tree), expressions=["happy", "suprised"])
    with pytest.raises(gs.ConfigError, match="a pose is listed twice"):
        build(root=str(tree), poses=["090", "090"])
    with pytest.raises(gs.ConfigError, match="unknown key 'gaze' \\(did you mean 'gazes'\\?\\)"):
        build(root=str(tree), gaze="frontal")
    with pytest.raises(gs.ConfigError, match="side"):
        build(root=str(tree), crop={"side": 0})


def test_smoke_training_of_the_paper_config_on_a_generated_tree(tree, tmp_path):
    """The paper config (identity split, cycle pairs, paper recipe) trains end to end on a
    generated tree (CPU backbone, 2 steps)."""
    config = load_config(EXAMPLE, [
        f"dataset.options.root={tree}", "dataset.options.image_size=8",
        "model.backbone=conv-small", "model.options={}", "train.steps=2",
        "train.groups_per_step=2", "train.progress=false", "train.device=cpu",
        f"train.out={tmp_path / 'run'}"])
    trainer = gs.Trainer(config)
    result = trainer.fit()
    assert result.step == 2 and "cycle" in result.last
    assert (result.run_dir / "split.json").is_file()
