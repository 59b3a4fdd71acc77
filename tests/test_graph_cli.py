"""``groupsup graph``: stores, registered datasets, folders; JSON and GraphML export."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from conftest import Styled, toy_images, toy_labels
from PIL import Image

import groupsup as gs
from groupsup.cli import main


@pytest.fixture
def store(toy_dataset, tmp_path):
    return toy_dataset.write_store(tmp_path / "toy-store")


def test_store_summary_and_json(store, capsys):
    assert main(["graph", str(store)]) == 0
    out = capsys.readouterr().out
    assert "toy: 24 examples, 3 attributes" in out
    assert "exact: 24 of 24 examples have a partner for every attribute (admissible)" in out
    assert main(["graph", str(store), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size"] == 24
    assert report["edges"] == {"shape": 2 * 66, "color": 3 * 28, "position": 2 * 66}
    assert report["admissibility"]["attributes"]["color"]["without_exact"] == 0


def test_registered_dataset_with_options_and_export(store, tmp_path, capsys):
    out_file = tmp_path / "sub.graphml"
    code = main(["graph", "store", "--option", f"path={store}", "--option", "mmap=false",
                 "--export", str(out_file), "--nodes", "6", "--seed", "2", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    explicit = nx.read_graphml(out_file)
    assert explicit.number_of_nodes() == report["export"]["nodes"] == 6
    assert explicit.number_of_edges() == report["export"]["edges"]
    assert main(["graph", str(store), "--export", str(out_file), "--max-edges", "10"]) == 1
    assert "has 348 edges" in capsys.readouterr().err


def test_folder_with_pattern(tmp_path, capsys):
    for shape in ("square", "plus"):
        for color in ("red", "blue", "green"):
            path = tmp_path / "imgs" / f"{shape}_{color}.png"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    assert main(["graph", str(tmp_path / "imgs"), "--pattern", "{shape}_{color}.png",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["attributes"] == {"shape": 2, "color": 3}
    assert report["admissibility"]["is_admissible"]["exact"] is True


def test_errors(tmp_path, capsys):
    assert main(["graph", "no-such-dataset"]) == 1
    assert "neither a registered dataset" in capsys.readouterr().err
    assert main(["graph", str(tmp_path)]) == 1
    assert "needs --pattern or --manifest" in capsys.readouterr().err
    assert main(["graph", str(tmp_path), "--nodes", "3"]) == 1
    assert "--nodes selects the subset for --export" in capsys.readouterr().err


def test_folder_manifest_with_empty_cells_reports_coverage(tmp_path, capsys):
    root = tmp_path / "imgs"
    root.mkdir()
    rows = ["path,shape,color"]
    for i, (shape, color) in enumerate([("a", "r"), ("b", ""), ("a", "g"), ("", "r")]):
        Image.new("RGB", (4, 4)).save(root / f"{i}.png")
        rows.append(f"{i}.png,{shape},{color}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["graph", str(root), "--manifest", "labels.csv"]) == 0
    assert "coverage (known / total): shape 3/4 (75%), color 3/4 (75%)" in capsys.readouterr().out
    assert main(["graph", str(root), "--manifest", "labels.csv", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["coverage"]["shape"] == {"known": 3, "total": 4}
    assert report["admissibility"]["attributes"]["color"]["known"] == 3


def test_a_store_whose_schema_declares_an_unlabelled_block_says_so(tmp_path, capsys):
    labels = toy_labels()[:, :2]
    data = gs.GroupDataset.from_arrays(Styled, toy_images(toy_labels()), labels, name="styled")
    store = data.write_store(tmp_path / "styled")
    assert main(["graph", str(store)]) == 0
    assert "unlabelled block 'style' (3 dims)" in capsys.readouterr().out
    assert main(["graph", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["free"]["latent"] == 3
