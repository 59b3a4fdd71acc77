"""Evaluation on a non-grid dataset: declared held-out splits, the judge and its flags,
leakage, determinism, fresh evaluation folders, runs trained from Python (issue 13)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import toy_config, write_config
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.evaluate.judge import fit_judge
from groupsup.evaluate.leakage import leakage, other_values
from groupsup.graph.splits import build_split, held_out_split
from groupsup.runs.context import eval_dir
from groupsup.runs.evaluate import evaluate_run
from groupsup.runs.options import EvalOptions
from groupsup.train.resolve import build_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

INKS = {"red": (230, 30, 30), "green": (30, 200, 30), "blue": (40, 40, 230),
        "yellow": (230, 220, 30)}
BACKS = {"dark": 30, "light": 200}


class Shapes(gs.Schema):
    shape = gs.Attribute(values=["square", "plus", "bar"], latent=3)
    ink = gs.Attribute(values=list(INKS), latent=3)
    back = gs.Attribute(values=list(BACKS), latent=2)


def draw(labels: np.ndarray, size: int = 16, seed: int = 0) -> np.ndarray:
    """uint8 (N, size, size, 3): a shape in an ink on a background, jittered by a pixel and
    noised, so that two images of one combination differ (instance variation)."""
    rng = np.random.default_rng(seed)
    inks = np.array(list(INKS.values()), dtype=np.int16)
    images = np.empty((len(labels), size, size, 3), dtype=np.int16)
    yy, xx = np.mgrid[0:size, 0:size]
    for i, (shape, ink, back) in enumerate(labels.tolist()):
        images[i] = list(BACKS.values())[back]
        cy, cx = size // 2 + rng.integers(-1, 2), size // 2 + rng.integers(-1, 2)
        dy, dx = abs(yy - cy), abs(xx - cx)
        mask = [(dy <= 3) & (dx <= 3), ((dy <= 4) & (dx <= 1)) | ((dx <= 4) & (dy <= 1)),
                (dy <= 1) & (dx <= 4)][shape]
        images[i][mask] = inks[ink]
    images += rng.integers(-12, 13, images.shape)
    return np.clip(images, 0, 255).astype(np.uint8)


def non_grid_labels(copies: int = 4, seed: int = 0) -> np.ndarray:
    """Labels of 20 of the 24 combinations (four missing at random), ``copies`` each."""
    grid = np.stack(np.meshgrid(range(3), range(4), range(2), indexing="ij"), -1).reshape(-1, 3)
    keep = np.random.default_rng(seed).permutation(len(grid))[:20]
    keep = keep[~np.isin(keep, [0, 9])]  # keep (square, red, dark) and (plus, red, light)
    return np.repeat(grid[np.sort(np.concatenate([keep, [0, 9]]))], copies, axis=0)


@pytest.fixture(scope="module")
def shapes() -> gs.GroupDataset:
    labels = non_grid_labels()
    return gs.GroupDataset.from_arrays(Shapes, draw(labels), labels, name="shapes")


HELD_OUT = [{"shape": "plus", "ink": "red"}, {"ink": "blue", "back": "light"}]
TINY = {"max_examples": 16, "classifier_steps": 4, "leakage_examples": 8,
        "coprediction_examples": 64}


def shapes_config(store, out) -> dict:
    return toy_config(store, out, name="shapes", seed=2, optim={"lr": 1e-3},
                      dataset={"split": "held-out", "held_out": HELD_OUT},
                      train={"steps": 3, "log_every": 1, "sample_every": 100})


# ---------------------------------------------------------------------- declared splits
def test_held_out_split_holds_out_every_match_of_partial_combinations(shapes):
    split = held_out_split(shapes.labels, Shapes, HELD_OUT)
    labels = shapes.labels
    match = (((labels[:, 0] == 1) & (labels[:, 1] == 0))
             | ((labels[:, 1] == 2) & (labels[:, 2] == 1)))
    assert np.array_equal(split.test, np.flatnonzero(match))
    assert np.array_equal(split.train, np.flatnonzero(~match))
    with pytest.raises(gs.ConfigError, match=r"held_out\[1\]: unknown attribute 'inc'.*'ink'"):
        held_out_split(labels, Shapes, [{"shape": "plus"}, {"inc": "red"}])
    with pytest.raises(gs.ConfigError, match=r"held_out\[0\]: value 'purple' .* 'ink'"):
        held_out_split(labels, Shapes, [{"ink": "purple"}])
    with pytest.raises(gs.GroupsupError, match="would have no training example"):
        held_out_split(labels, Shapes, [{"shape": "plus"}])


def test_manifest_split_column(tmp_path, shapes):
    images = shapes.load_uint8(np.arange(len(shapes)))
    rows = []
    for i, record in enumerate(shapes.records()):
        path = f"{i:03d}.png"
        Image.fromarray(images[i]).save(tmp_path / path)
        rows.append({"path": path, **record, "split": "test" if i % 7 == 3 else "train"})
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    options = {"root": str(tmp_path), "manifest": "manifest.csv",
               "attributes": {"shape": 3, "ink": 3, "back": 2}}
    config = gs.load_config({"dataset": {"name": "folder", "options": options,
                                         "split": "manifest"}})
    data = build_dataset(config)
    split = build_split(data, "manifest", seed=0, dataset_options=options)
    assert np.array_equal(split.test, np.arange(3, len(shapes), 7))
    rows[5]["split"] = "validation"
    with open(tmp_path / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(gs.DataError, match="row 6 holds 'validation'"):  # rows count from 1
        build_split(data, "manifest", seed=0, dataset_options=options)


# ---------------------------------------------------------------------- the judge
def test_a_judge_trained_on_a_biased_split_is_flagged(shapes):
    """Training sees the shape only with one ink each, so a judge trained on the training
    split reads the shape from the ink and fails on the real held-out images."""
    labels = np.repeat(np.stack(np.meshgrid(range(3), range(3), range(2), indexing="ij"),
                                -1).reshape(-1, 3), 6, axis=0)
    data = gs.GroupDataset.from_arrays(Shapes, draw(labels, seed=1), labels, name="biased")
    test = np.flatnonzero(labels[:, 0] != labels[:, 1])  # shape i only with ink i in training
    train = np.setdiff1d(np.arange(len(labels)), test)
    biased = fit_judge(data, train=train, test=test, judge_data="train", steps=30, seed=0)
    assert "shape" in biased.unreliable
    assert biased.to_dict()["unreliable"] == biased.unreliable
    assert biased.accuracy[0] < 0.2  # it reads the ink where the shape is asked
    honest = fit_judge(data, train=train, test=test, judge_data="all", steps=30, seed=0)
    assert honest.held_out_accuracy is not None
    assert honest.held_out_accuracy[0] > biased.accuracy[0]


def test_cross_validated_judge_scores_every_pool_image_once(shapes):
    judge = fit_judge(shapes, train=np.arange(len(shapes)), test=None, folds=3, steps=2,
                      seed=0)
    assert judge.config["scored"] == len(shapes) and judge.config["trainings"] == 4
    assert not judge.config["budget_hit"]


# ---------------------------------------------------------------------- leakage
def test_leakage_counts_only_pairs_that_differ():
    base = np.array([[0, 0], [0, 1], [1, 1], [1, 0]])
    providers = np.array([[[1, 0], [1, 1], [0, 0], [0, 1]],      # block a: a changes always
                          [[0, 1], [1, 0], [1, 0], [0, 1]]])     # block b: b changes always
    predicted = np.array([[[1, 0], [1, 1], [0, 1], [0, 1]],      # a follows; b leaks once
                          [[0, 1], [0, 0], [1, 1], [1, 1]]])     # b follows 3/4; a stays
    result = leakage(predicted, base, providers, blocks=["a", "b"], attributes=["a", "b"])
    # block a: b differs for pairs 2 and 3 only; pair 3's reading 1 follows its provider 1
    assert result.counts.tolist() == [[4, 2], [2, 4]]
    assert np.allclose(result.matrix, [[1.0, 0.5], [0.0, 0.75]])
    assert result.diagonal_mean == pytest.approx(0.875)
    assert result.off_diagonal_mean == pytest.approx(0.25)


def test_leakage_providers_make_combinations_the_data_holds():
    """A font colour swapped into a base must not equal the base's background (Fonts never
    draws a letter in its own background colour: the judge would read an empty image); where
    no value makes a combination the data holds, any other value is taken and counted."""
    colours = 4
    held = {(f, b) for f in range(colours) for b in range(colours) if f != b}
    rows = np.array(sorted(held) * 25)
    values, unseen = other_values(rows, 0, np.arange(colours), held, np.random.default_rng(0))
    assert unseen == 0
    assert (values != rows[:, 0]).all() and (values != rows[:, 1]).all()
    assert set(values.tolist()) == set(range(colours))  # every other value is drawn
    lone = {(0, 0), (1, 1)}  # only the diagonal exists: no other value of attribute 0 does
    values, unseen = other_values(np.array([[0, 0], [1, 1]]), 0, np.arange(2), lone,
                                  np.random.default_rng(0))
    assert unseen == 2 and values.tolist() == [1, 0]
    result = leakage(np.zeros((1, 2, 2)), np.zeros((2, 2)), np.ones((1, 2, 2)),
                     blocks=["a"], attributes=["a", "b"], unseen=[2])
    assert result.to_dict()["unseen_combination_pairs"] == [2]


# ---------------------------------------------------------------------- end to end
def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("out", "timing")}


def test_non_grid_held_out_run_from_the_cli_is_deterministic(tmp_path, shapes, capsys):
    store = shapes.write_store(tmp_path / "store")
    cfg = write_config(tmp_path / "shapes.json", shapes_config(store, tmp_path / "run"))
    assert main(["train", str(cfg)]) == 0
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["description"].startswith("held-out: shape=plus, ink=red")
    args = ["evaluate", str(tmp_path / "run"), "--classifier-steps", "4", "--max-examples",
            "16", "--leakage-examples", "8"]
    assert main(args) == 0 and main(args) == 0
    first, second = (json.loads((tmp_path / "run" / "eval" / n / "metrics.json").read_text())
                     for n in ("001", "002"))
    assert comparable(first) == comparable(second)
    assert first["synthesis"]["held_out"] and first["dataset"]["test"] == len(split["test"])
    # four jittered, noised images per combination: PSNR has an instance-variation ceiling
    assert first["synthesis"]["instance_reference_n"] == 16
    assert 10 < first["synthesis"]["instance_reference_psnr"] < 40
    leak = first["leakage"]
    assert leak["blocks"] == leak["attributes"] == ["shape", "ink", "back"]
    assert np.array(leak["matrix"], dtype=float).shape == (3, 3)
    # 20 of 24 combinations: most bases have another value making a held combination
    assert len(leak["unseen_combination_pairs"]) == 3
    assert sum(leak["unseen_combination_pairs"]) < 3 * 8 // 2
    assert first["classifier"]["config"]["steps"] == 4
    # a 4-step judge cannot read the shape yet: it is flagged in every place it is used
    assert "shape" in first["classifier"]["unreliable"]
    assert first["swap_accuracy"]["unreliable"] == first["classifier"]["unreliable"]
    assert first["leakage"]["unreliable_attributes"] == first["classifier"]["unreliable"]
    out = capsys.readouterr().out
    assert "UNRELIABLE judge for 'shape'" in out
    head = first["headline"]["text"]
    assert head.index("swap accuracy") < head.index("leakage") < head.index("SSIM") \
        < head.index("PSNR")
    md = (tmp_path / "run" / "eval" / "002" / "report.md").read_text()
    assert "![leakage](leakage.png)" in md and "judge is unreliable for" in md
    assert (tmp_path / "run" / "eval" / "002" / "leakage.png").stat().st_size > 1000
    assert main([*args, "--out", str(tmp_path / "run" / "eval" / "001")]) == 1
    assert "already holds an evaluation" in capsys.readouterr().err


def test_python_run_evaluated_from_python_and_the_cli(tmp_path, shapes, capsys):
    model = gs.build_model("conv-small", Shapes, shapes.image_shape,
                               {"width": 8, "max_width": 16})
    result = gs.train(model, shapes, steps=2, groups_per_step=2, out=tmp_path / "run",
                      split="held-out", held_out=HELD_OUT, progress=False, threads=1,
                      sample_every=100)
    with pytest.raises(gs.ConfigError, match=r"built in Python .* --dataset NAME"):
        evaluate_run(result, progress=False)
    metrics = gs.evaluate_run(result, dataset=shapes, options=EvalOptions(**TINY),
                              progress=False, report=False)
    assert metrics["dataset"]["test"] == len(held_out_split(shapes.labels, Shapes,
                                                            HELD_OUT).test)
    store = shapes.write_store(tmp_path / "store")
    assert main(["evaluate", str(tmp_path / "run"), "--dataset", "store", "--set",
                 f"dataset.options.path={store}", "--classifier-steps", "4",
                 "--max-examples", "16", "--leakage-examples", "8"]) == 0
    again = json.loads((tmp_path / "run" / "eval" / "002" / "metrics.json").read_text())
    assert again["swap_accuracy"]["accuracy"] == metrics["swap_accuracy"]["accuracy"]
    other = gs.GroupDataset.from_arrays(Shapes, shapes.load_uint8(np.arange(10)),
                                        shapes.labels[:10], name="other")
    with pytest.raises(gs.DataError, match="dataset it was trained on"):
        evaluate_run(result, dataset=other, options=EvalOptions(**TINY), progress=False)


def test_eval_dir_counts_up(tmp_path):
    assert eval_dir(tmp_path, None).name == "001"
    assert eval_dir(tmp_path, None).name == "002"


def test_synthesis_measures_are_reported_for_the_datasets_they_name(tmp_path, shapes):
    """A ``SynthesisMeasure`` registered for the run's dataset and one for every dataset see
    the syntheses, their ground truth and the requested labels, and land in metrics.json and
    the report; one registered for another dataset does not run."""
    model = gs.build_model("conv-small", Shapes, shapes.image_shape,
                               {"width": 8, "max_width": 16})
    result = gs.train(model, shapes, steps=1, groups_per_step=2, out=tmp_path / "run",
                      split="held-out", held_out=HELD_OUT, progress=False, threads=1,
                      sample_every=100)
    seen = {}

    def dark_share(synth, truth, labels, dataset):
        seen.update(synth=tuple(synth.shape), truth=tuple(truth.shape), labels=labels.shape,
                    dataset=dataset.name)
        return {"share": float((synth < 0).float().mean()), "n": len(labels)}

    host = gs.get_host()
    registries = gs.RegistrySet()
    for kind in ("datasets", "backbones", "losses", "recipes", "strategies", "evaluations"):
        for entry in getattr(host, kind):
            getattr(registries, kind).add(entry)
    registries.register("datasets", "shapes-here", host.datasets.get("store"))
    registries.register("evaluations", "dark",
                        gs.SynthesisMeasure(dark_share, datasets=("shapes-here",)))
    registries.register("evaluations", "count",
                        gs.SynthesisMeasure(lambda s, t, labels, d: {"n": len(labels)}))
    registries.register("evaluations", "elsewhere",
                        gs.SynthesisMeasure(lambda *a: {"ran": True}, datasets=("fonts",)))
    metrics = gs.evaluate_run(result, dataset=shapes, registries=registries,
                              overrides=["dataset.name=shapes-here"],
                              options=EvalOptions(**TINY), progress=False)
    n = metrics["synthesis"]["n"]
    assert seen == {"synth": (n, 3, 16, 16), "truth": (n, 3, 16, 16), "labels": (n, 3),
                    "dataset": "shapes"}
    assert metrics["synthesis"]["dark"]["n"] == n and metrics["synthesis"]["count"] == {"n": n}
    assert metrics["evaluation"]["synthesis_metrics"] == ["count", "dark"]
    assert "elsewhere" not in metrics["synthesis"]
    written = json.loads((Path(metrics["out"]) / "metrics.json").read_text())
    assert written["synthesis"]["dark"]["share"] == metrics["synthesis"]["dark"]["share"]
    assert "| dark: share |" in (Path(metrics["out"]) / "report.md").read_text()
