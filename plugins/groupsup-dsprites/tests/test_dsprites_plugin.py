"""The ``dsprites`` dataset: registration, the archive loader and its errors, options."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from groupsup_dsprites import FILE_NAME, DSprites, generate

import groupsup as gs
from groupsup.cli import main
from groupsup.train.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "dsprites" / "paper.toml"

SUBSET = {"scale": [0, 5], "orientation": 3, "pos_x": 4, "pos_y": 4}
README = Path(__file__).resolve().parents[1] / "README.md"


def _spec():
    return gs.get_host().datasets.get("dsprites")


def _write_npz(folder, imgs, classes, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    np.savez_compressed(path, imgs=imgs, latents_classes=classes, **extra)
    return path


def _released_like(folder, subset=SUBSET):
    """A small archive in the released format: 0/1 images, classes with the colour column."""
    images, classes = generate(subset)
    with_color = np.concatenate([np.zeros((len(classes), 1), np.int64), classes], axis=1)
    return _write_npz(folder, (images // 255).astype(np.uint8), with_color)


def test_registered_with_its_schema_and_listed_by_the_cli(capsys):
    spec = _spec()
    assert spec.schema.names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert spec.schema.latent_size == 10
    assert main(["datasets", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["dsprites"]["distribution"] == "groupsup-dsprites"
    assert rows["dsprites"]["attributes"]["orientation"] == {"values": 40, "latent": 2}
    assert FILE_NAME in rows["dsprites"]["expects"]


def test_generated_dataset_is_single_channel_and_uses_the_subset_vocabulary():
    data = _spec().build({"source": "generate", "subset": SUBSET})
    assert len(data) == 3 * 2 * 3 * 4 * 4
    assert data.image_shape == (1, 64, 64)
    assert data.schema["orientation"].values == (0, 20, 39)
    assert data.schema["pos_x"].values == (0, 10, 21, 31)
    x = data.load([0, len(data) - 1])
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert data.records([len(data) - 1]) == [
        {"shape": "heart", "scale": 5, "orientation": 39, "pos_x": 31, "pos_y": 31}]


def test_full_schema_without_subset():
    assert DSprites.cardinalities == (3, 6, 40, 32, 32)


def test_archive_loads_like_the_generator(tmp_path):
    _released_like(tmp_path / "dsprites")
    from_file = _spec().build({"root": str(tmp_path / "dsprites"), "subset": SUBSET})
    generated = _spec().build({"source": "generate", "subset": SUBSET})
    assert from_file.schema.same_as(generated.schema)
    whole_vocabulary = _spec().build({"root": str(tmp_path / "dsprites")})
    assert whole_vocabulary.schema.same_as(DSprites)
    assert whole_vocabulary.records() == generated.records()
    np.testing.assert_array_equal(from_file.labels, generated.labels)
    np.testing.assert_array_equal(from_file.load_uint8(np.arange(len(from_file))),
                                  generated.load_uint8(np.arange(len(generated))))
    smaller = _spec().build({"root": str(tmp_path / "dsprites"),
                             "subset": {**SUBSET, "shape": ["ellipse"], "pos_y": [0]}})
    assert len(smaller) == 2 * 3 * 4
    assert {r["shape"] for r in smaller.records()} == {"ellipse"}
    np.testing.assert_array_equal(smaller.load_uint8([5]),
                                  generated.load_uint8([np.flatnonzero(
                                      (generated.labels[:, 0] == 1)
                                      & (generated.labels[:, 4] == 0))[5]]))


def test_missing_archive_says_where_to_get_it(tmp_path):
    with pytest.raises(gs.DataError, match=re.escape(str(tmp_path / FILE_NAME))
                       + r": dSprites archive not found.*source = \"generate\""):
        _spec().build({"root": str(tmp_path)})


def test_archive_with_other_keys_is_refused(tmp_path):
    path = tmp_path / FILE_NAME
    np.savez(path, images=np.zeros((2, 64, 64), np.uint8),
             latents_classes=np.zeros((2, 6), np.int64))
    with pytest.raises(gs.DataError, match=re.escape(str(path)) + r": key 'imgs' is missing "
                       r"\(keys: \['images', 'latents_classes'\]\)"):
        _spec().build({"root": str(tmp_path)})


@pytest.mark.parametrize(("imgs", "classes", "message"), [
    (np.zeros((3, 64, 64), np.uint8), np.zeros((3, 5), np.int64),
     r"latents_classes is int64 \(3, 5\), expected integers \(N, 6\)"),
    (np.zeros((3, 32, 32), np.uint8), np.zeros((3, 6), np.int64),
     r"imgs is uint8 \(3, 32, 32\), expected uint8 \(3, 64, 64\)"),
    (np.zeros((2, 64, 64), np.uint8), np.zeros((3, 6), np.int64),
     r"imgs is uint8 \(2, 64, 64\), expected uint8 \(3, 64, 64\)"),
    (np.full((3, 64, 64), 255, np.uint8), np.zeros((3, 6), np.int64),
     r"imgs holds values other than 0 and 1 \(found 255"),
    (np.zeros((3, 64, 64), np.uint8), np.array([[0, 0, 0, 40, 0, 0]] * 3),
     r"latents_classes row 0: orientation class 40 is outside 0..39"),
])
def test_archive_with_other_shapes_or_values_is_refused(tmp_path, imgs, classes, message):
    _write_npz(tmp_path, imgs, classes)
    with pytest.raises(gs.DataError, match=re.escape(str(tmp_path / FILE_NAME)) + ": " + message):
        _spec().build({"root": str(tmp_path)})


def test_options_are_validated():
    with pytest.raises(gs.ConfigError, match="unknown key 'image_size'"):
        _spec().build({"source": "generate", "image_size": 32})
    with pytest.raises(gs.ConfigError, match=r"'pos_x': count 0 is outside 1..32"):
        _spec().build({"source": "generate", "subset": {"pos_x": 0}})
    with pytest.raises(gs.ConfigError, match="source"):
        _spec().build({"source": "download"})


def test_readme_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_paper_config_builds_the_reference_dsprites_network():
    config = load_config(EXAMPLE)
    backbone = gs.get_host().backbones.get(config.model.backbone)
    net = backbone((1, 64, 64), 10, backbone.Config.model_validate(config.model.options))
    assert net.output == "logits"
    assert sum(p.numel() for p in net.parameters()) / 1e6 == pytest.approx(12.09, abs=0.01)


def test_smoke_training_of_the_paper_config_on_generated_sprites(tmp_path):
    """The paper config (logits output, BCE recipe) trains end to end on generated sprites,
    with the CPU backbone for 2 steps."""
    config = load_config(EXAMPLE, [
        "dataset.options.source=generate",
        "dataset.options.subset={shape=3, scale=2, orientation=2, pos_x=2, pos_y=2}",
        "model.backbone=conv-small", "model.options={output='logits', width=8}",
        "train.steps=2", "train.groups_per_step=2", "train.progress=false",
        "train.device=cpu", f"train.out={tmp_path / 'run'}"])
    result = gs.Trainer(config).fit()
    assert result.step == 2 and result.last["recon"] > 0
    model = gs.load_model(result.run_dir)
    assert model.output == "logits" and model.image_shape == (1, 64, 64)
