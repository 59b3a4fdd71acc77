"""examples/digits end to end on a small version: real handwriting (scikit-learn's digits),
coloured, not a grid, written as an image folder with a CSV manifest; trained and evaluated
through the CLI with the example's own config and its declared held-out digit x ink pairs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scripts import load_script as load_script_at

import groupsup as gs
from groupsup.cli import main

pytest.importorskip("sklearn")
pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits"


def load_generator():
    return load_script_at(EXAMPLE / "make_digits.py")


def test_generator_is_deterministic_and_not_a_grid(tmp_path):
    make = load_generator()
    assert make.main(["--out", str(tmp_path / "a"), "--count", "300", "--size", "16"]) == 0
    assert make.main(["--out", str(tmp_path / "b"), "--count", "300", "--size", "16"]) == 0
    a, b = ((tmp_path / n / "labels.csv").read_text() for n in "ab")
    assert a == b
    rows = list(csv.DictReader(a.splitlines()))
    assert len(rows) == 300 and list(rows[0]) == make.COLUMNS
    assert (tmp_path / "a" / rows[7]["path"]).read_bytes() == \
        (tmp_path / "b" / rows[7]["path"]).read_bytes()
    combos = {(r["digit"], r["ink"], r["back"], r["scale"]) for r in rows}
    assert len(combos) == 240  # 60% of the 400
    assert {(r["digit"], r["ink"]) for r in rows} == {(str(d), i) for d in range(10)
                                                     for i in make.INKS}
    with pytest.raises(SystemExit, match="already holds a dataset"):
        make.main(["--out", str(tmp_path / "a"), "--count", "300", "--size", "16"])


def test_digits_example_trains_and_evaluates_from_the_cli(tmp_path, monkeypatch, capsys):
    make = load_generator()
    data = tmp_path / "data" / "digits"
    make.main(["--out", str(data), "--count", "300", "--size", "16"])
    config = gs.load_config(EXAMPLE / "digits.toml")
    held = [(int(h["digit"]), h["ink"]) for h in config.dataset.held_out]
    assert held == make.HELD_OUT  # the config and the manifest's split column agree
    monkeypatch.chdir(tmp_path)  # the config's root data/digits is relative to the cwd
    assert main(["train", str(EXAMPLE / "digits.toml"), "--set", "train.steps=3",
                 "--set", "train.time_budget=60", "--set", "train.out=run",
                 "--set", "train.progress=false", "--set", "train.threads=1",
                 "--set", "model.options.width=8", "--set", "model.options.max_width=16"]) == 0
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    rows = list(csv.DictReader((data / "labels.csv").open()))
    assert sorted(split["test"]) == [i for i, r in enumerate(rows) if r["split"] == "test"]
    assert main(["evaluate", "run", "--classifier-steps", "4", "--max-examples", "16",
                 "--leakage-examples", "8"]) == 0
    metrics = json.loads((tmp_path / "run" / "eval" / "001" / "metrics.json").read_text())
    names = ["digit", "ink", "back", "scale"]
    leak = metrics["leakage"]  # the unlabelled block's row last (digits.toml declares one)
    assert leak["attributes"] == names and leak["blocks"] == [*names, "free"]
    assert np.array(leak["matrix"], dtype=float).shape == (5, 4)
    assert set(metrics["free_leakage"]) == set(names)
    assert leak["off_diagonal_mean"] is not None
    assert metrics["classifier"]["attributes"] == names
    assert len(metrics["classifier"]["accuracy"]) == 4
    assert len(metrics["classifier"]["held_out_accuracy"]) == 4
    swap = metrics["swap_accuracy"]
    assert len(swap["accuracy"]) == 4 and swap["n"] == 16
    assert swap["judge_accuracy"] == metrics["classifier"]["accuracy"]
    # the syntheses are of the held-out digit x ink pairs, and of nothing else
    synthesis = metrics["synthesis"]
    assert synthesis["held_out"] and synthesis["ssim"] is not None
    inks = sorted(make.INKS)  # the folder dataset's values, discovered and sorted
    asked = {(c["combination"]["digit"], inks[c["combination"]["ink"]])
             for c in synthesis["per_combination"]}
    assert asked and asked <= set(make.HELD_OUT)
    assert "swap accuracy" in metrics["headline"]["text"]
    assert "leakage" in capsys.readouterr().out
