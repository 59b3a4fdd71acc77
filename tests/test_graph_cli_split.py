"""``groupsup graph``: --split (the training side), label combinations, manifest --attributes."""

import csv
import json
import textwrap

import numpy as np
import pytest
from PIL import Image

from groupsup.cli import main
from groupsup.graph import random_combinations
from groupsup.plugins import PLUGINS_ENV, reset_host

pytestmark = pytest.mark.usefixtures("fresh_host")


@pytest.fixture
def store(toy_dataset, tmp_path):
    return toy_dataset.write_store(tmp_path / "toy-store")


def test_split_reports_the_training_side(store, toy_dataset, capsys):
    split = random_combinations(toy_dataset.labels, toy_dataset.schema, 0.25, 1)
    assert 0 < len(split.train) < len(toy_dataset)
    assert main(["graph", str(store), "--split", "random-combinations",
                 "--split-option", "fraction=0.25", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size"] == len(split.train)  # the graph is the training side's
    assert report["split"] == {"name": "random-combinations", "seed": 1,
                               "description": split.description, "examples": 24,
                               "train": len(split.train), "test": len(split.test),
                               "held_out_combinations": len(split.held_out)}
    assert report["combinations"]["present"] == len(np.unique(
        toy_dataset.labels[split.train], axis=0))
    assert main(["graph", str(store), "--split", "random-combinations", "--split-option",
                 "fraction=0.25"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"split 'random-combinations' (seed 1): the training side, "
                          f"{len(split.train)} of 24 examples")
    assert "exact:" in out


def test_split_errors_name_the_flag(store, capsys):
    assert main(["graph", str(store), "--split", "protocol"]) == 1
    assert "--split 'protocol': dataset" in capsys.readouterr().err
    assert main(["graph", str(store), "--split", "random-combinations",
                 "--split-option", "fractoin=0.2"]) == 1
    assert "--split-option: unknown keys ['fractoin']" in capsys.readouterr().err
    assert main(["graph", str(store), "--split-option", "fraction=0.2"]) == 1
    assert "--split-option applies to a --split" in capsys.readouterr().err


def test_a_split_the_dataset_names(store, tmp_path, monkeypatch, capsys):
    plugin = tmp_path / "halves.py"
    plugin.write_text(textwrap.dedent(f"""
        import numpy as np
        from pydantic import BaseModel

        import groupsup as gs

        class NoOptions(BaseModel):
            pass

        def first_half(dataset, seed):
            n = len(dataset) // 2
            return gs.Split(np.arange(n), np.arange(n, len(dataset)), dataset.labels[n:n + 1],
                            "first half", dataset.schema.names)

        @gs.hookimpl
        def register_datasets(register):
            register("halves", gs.DatasetSpec(
                schema=None, load=lambda o: gs.GroupDataset.from_store({str(store)!r}),
                options_model=NoOptions, expects="-", splits={{"first-half": first_half}}))
    """))
    monkeypatch.setenv(PLUGINS_ENV, str(plugin))
    reset_host()
    assert main(["graph", "halves", "--split", "first-half", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size"] == 12 and report["split"]["description"] == "first half"


def test_combinations_present_out_of_possible(store, capsys):
    assert main(["graph", str(store)]) == 0
    assert "label combinations: 12 of 12 possible present (100.0%)" in capsys.readouterr().out


@pytest.fixture
def manifest_folder(tmp_path):
    """Digits x colours, one combination missing, an id column that is not a label."""
    rows = []
    for i, (digit, color) in enumerate([(d, c) for d in "012" for c in ("red", "blue")][:-1]):
        name = f"img/{i}.png"
        (tmp_path / "img").mkdir(exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), i * 20, np.uint8)).save(tmp_path / name)
        rows.append({"path": name, "id": f"x{i}", "digit": digit, "color": color})
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "id", "digit", "color"])
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_manifest_attributes_pick_columns(manifest_folder, capsys):
    assert main(["graph", str(manifest_folder), "--manifest", "labels.csv",
                 "--attributes", "digit,color", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["attributes"] == {"digit": 3, "color": 2}
    assert report["combinations"] == {"present": 5, "possible": 6}
    assert main(["graph", str(manifest_folder), "--manifest", "labels.csv",
                 "--attributes", "digit,color"]) == 0
    assert "label combinations: 5 of 6 possible present (83.3%)" in capsys.readouterr().out


def test_manifest_attributes_errors(manifest_folder, capsys):
    base = ["graph", str(manifest_folder)]
    assert main([*base, "--manifest", "labels.csv", "--attributes", "digit,colour"]) == 1
    err = capsys.readouterr().err
    assert "has no attribute column 'colour' (did you mean 'color'?)" in err
    assert main([*base, "--manifest", "labels.csv", "--attributes", "path"]) == 1
    assert "no attribute column 'path'" in capsys.readouterr().err
    assert main([*base, "--pattern", "img/{digit}.png", "--attributes", "digit"]) == 1
    assert "--attributes picks the columns of a --manifest" in capsys.readouterr().err


def test_split_option_values_parse_as_train_set_values_do(store, capsys):
    """One value rule for `train --set`, `--option` and `--split-option`: a TOML literal
    (single-quoted names) reads as the JSON one does."""
    args = ["graph", str(store), "--split", "random-combinations", "--json",
            "--split-option", " fraction = 0.25 "]
    assert main([*args, "--split-option", "attributes=['shape', 'color']"]) == 0
    toml = json.loads(capsys.readouterr().out)["split"]
    assert main([*args, "--split-option", 'attributes=["shape", "color"]']) == 0
    assert json.loads(capsys.readouterr().out)["split"] == toml
