"""Every examples/<dataset>/{paper,released}.toml trains a few steps on a generated fixture
(CPU backbone, 8-16 px) and is evaluated end to end: its split holds out combinations whose
values all stay in training, so zero-shot synthesis has training providers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import groupsup as gs
from groupsup.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIGS = sorted(ROOT.glob("examples/*/paper.toml"))
TINY_EVAL = gs.EvalOptions(max_examples=6, classifier_steps=2, leakage_examples=4,
                           coprediction_examples=24, code_metrics=(), sheet_rows=2)


def _rafd(root: Path) -> list[str]:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for person in ("01", "02", "03"):
        for pose in ("000", "090", "180"):
            for expression in ("happy", "neutral", "surprised"):
                pixels = rng.integers(0, 256, (24, 16, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(
                    root / f"Rafd{pose}_{person}_Caucasian_male_{expression}_frontal.png")
    return [f"dataset.options.root={root}", "dataset.options.image_size=16",
            "dataset.options.expressions=['happy','neutral','surprised']",
            "dataset.options.poses=['000','090','180']"]


def _ilab(root: Path) -> list[str]:
    objects = {("boat", "i0001"): ["b0001", "b0002"], ("boat", "i0002"): ["b0002", "b0003"],
               ("car", "i0001"): ["b0001", "b0003"], ("tank", "i0001"): ["b0003"]}
    for r in ("r01", "r02", "r03"):
        folder = root / f"c00_{r}"
        folder.mkdir(parents=True)
        for k, ((category, instance), backgrounds) in enumerate(objects.items()):
            for b in backgrounds:
                Image.new("RGB", (8, 8), (50 * k, 60 * int(b[1:]), 70 * int(r[1:]))).save(
                    folder / f"{category}-{instance}-{b}-c00-{r}-l0-f2.jpg")
    return [f"dataset.options.root={root}", "dataset.options.image_size=16",
            "dataset.options.rotations=['r01','r02','r03']"]


def _fonts(root: Path) -> list[str]:
    return ["dataset.options.store=null", f"dataset.options.cache_dir={root}",
            "dataset.options.image_size=16", "dataset.options.letters=A-E",
            "dataset.options.font_colors=['red','green','blue']",
            "dataset.options.back_colors=['red','green','blue']",
            "dataset.options.fonts=['dejavusans','dejavuserifbold']",
            "dataset.options.system_fonts=false", "dataset.options.workers=1",
            "dataset.options.progress=false", "train.amp=off", "train.channels_last=false"]


def _dsprites(root: Path) -> list[str]:
    return ["dataset.options.source=generate", "dataset.split=random-combinations",
            "dataset.options.subset={shape=3, scale=2, orientation=2, pos_x=2, pos_y=2}",
            "model.options={output='logits', width=4, max_width=8}"]


FIXTURES = {"rafd": _rafd, "ilab": _ilab, "fonts": _fonts, "dsprites": _dsprites}
CONFIGS = sorted(p for name in FIXTURES for p in ROOT.glob(f"examples/{name}/*.toml")
                 if p.stem in ("paper", "released"))


def test_every_paper_config_is_covered():
    assert {p.parent.name for p in PAPER_CONFIGS} <= set(FIXTURES)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_trains_and_evaluates_on_its_fixture(path, tmp_path):
    overrides = FIXTURES[path.parent.name](tmp_path / "data")
    config = load_config(path, [
        "model.backbone=conv-small", "model.options={width=4, max_width=8}", *overrides,
        "train.steps=2", "train.groups_per_step=2", "train.progress=false",
        "train.device=cpu", "train.log_every=1", f"train.out={tmp_path / 'run'}"])
    result = gs.Trainer(config).fit()
    assert result.step == 2
    if path.parent.name != "dsprites":  # dSprites' paper split is none; the test sets one
        assert config.dataset.split != "none"
    metrics = gs.evaluate_run(result.run_dir, options=TINY_EVAL, progress=False, report=False)
    assert metrics["synthesis"]["held_out"] and metrics["synthesis"]["novel_values"] == {}
    assert np.isfinite(metrics["synthesis"]["ssim"])


def test_novel_identity_protocol_evaluates_with_test_providers(tmp_path):
    """RaFD's `identity` split (test people never seen): evaluate draws their identity
    providers from other test images and records how many targets needed them."""
    overrides = _rafd(tmp_path / "data")
    config = load_config(ROOT / "examples/rafd/paper.toml", [
        "model.backbone=conv-small", "model.options={width=4, max_width=8}", *overrides,
        "dataset.split=identity", "dataset.split_options={}", "train.steps=2",
        "train.groups_per_step=2", "train.progress=false", "train.device=cpu",
        f"train.out={tmp_path / 'run'}"])
    result = gs.Trainer(config).fit()
    metrics = gs.evaluate_run(result.run_dir, options=TINY_EVAL, progress=False)
    assert metrics["synthesis"]["novel_values"] == {"identity": 6}
    report = (Path(metrics["out"]) / "report.md").read_text()
    assert "never seen in training (identity: 6 targets)" in report


def test_spare_providers_are_other_test_images():
    from groupsup.runs.zeroshot import draw_providers

    # attribute 0 value 2 only in test (ids 4, 5); attribute 1 values all in training
    labels = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [2, 0], [2, 1]])
    train, test = np.arange(4), np.array([4, 5])
    rng = np.random.default_rng(0)
    with pytest.raises(gs.DataError, match="value code 2 of a test example never occurs"):
        draw_providers(labels, train, labels[test], rng)
    for _ in range(5):
        got = draw_providers(labels, train, labels[test], rng, spare=test, target_ids=test)
        assert got[:, 0].tolist() == [5, 4]  # the other test image, never the target itself
        assert np.isin(got[:, 1], train).all()
        np.testing.assert_array_equal(labels[got[:, 1], 1], labels[test, 1])
    # a value held by the target alone: the target is its own provider (nothing else shows it)
    lonely = np.array([[0, 0], [1, 1], [3, 0], [1, 0]])
    got = draw_providers(lonely, np.arange(2), lonely[[2]], rng, spare=np.array([2, 3]),
                         target_ids=np.array([2]))
    assert got[0, 0] == 2
    with pytest.raises(gs.DataError, match="neither in training nor in another test"):
        draw_providers(lonely, np.arange(2), lonely[[2]], rng, spare=np.array([3]),
                       target_ids=np.array([2]))


def test_the_fonts_protocol_split_counts_and_warns_the_centres_it_leaves_out(tmp_path):
    """Under the protocol split the first letter range trains at one size only, so with strict
    partners and fallback 'off' those letters never centre a group: the report counts them,
    names the values, the trainer warns, and partners.json records it (issue 30)."""
    config = load_config(ROOT / "examples/fonts/paper.toml", [
        "model.backbone=conv-small", "model.options={width=4, max_width=8}",
        *_fonts(tmp_path / "data"), "train.steps=1", "train.groups_per_step=2",
        "train.progress=false", "train.device=cpu", f"train.out={tmp_path / 'run'}"])
    with pytest.warns(UserWarning, match="never centre a group") as caught:
        trainer = gs.Trainer(config)
    report = trainer.report
    assert 0 < report.centres < report.examples == len(trainer.resolved.train_dataset)
    # A trains at one size (no exact letter partner); D with every other font (none for font)
    assert report.never_centre["letter"]["values"] == ["A", "D"]
    message = next(str(w.message) for w in caught if "never centre" in str(w.message))
    assert f"{report.examples - report.centres:,} of {report.examples:,}" in message
    assert "values never centring: A, D" in message and "fallback='relaxed'" in message
    trainer.fit()
    written = json.loads((tmp_path / "run" / "partners.json").read_text())
    assert written["centres"] == report.centres and written["never_centre"]["letter"][
        "values"] == ["A", "D"]
