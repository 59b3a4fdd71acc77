"""examples/weak/weak_supervision.py: the masking and relation conditions it trains on, pinned
against an explicit networkx construction, and a --quick run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from conftest import Toy, toy_images, toy_labels
from scripts import load_script as load_script_at

import groupsup as gs
from groupsup.plugins import reset_host

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "weak" / "weak_supervision.py"


@pytest.fixture(scope="module")
def weak():
    return load_script_at(SCRIPT, "weak_supervision")


@pytest.fixture(scope="module")
def toy() -> gs.GroupDataset:
    labels = toy_labels()
    return gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 1.0])
def test_each_column_keeps_exactly_the_fraction_known(weak, toy, fraction):
    masked = weak.mask_labels(toy.labels, fraction, np.random.default_rng(3))
    n = len(toy.labels)
    known = masked != gs.UNKNOWN
    assert known.sum(axis=0).tolist() == [round(fraction * n)] * toy.labels.shape[1]
    assert np.array_equal(masked[known], toy.labels[known])  # known values are the true ones
    if 0 < fraction < 1:  # drawn independently per attribute, not whole rows
        assert not np.array_equal(known[:, 0], known[:, 1])


def test_a_fraction_outside_zero_one_is_refused(weak, toy):
    with pytest.raises(gs.ConfigError, match=r"labels fraction 1\.5"):
        weak.mask_labels(toy.labels, 1.5, np.random.default_rng(0))


def test_relations_join_only_equal_values_and_their_classes_refine_them(weak, toy):
    """Each edge links two examples of one value; the classes ``from_networkx`` resolves are
    exactly the connected components of those edges (networkx's own, as the reference), so
    every class lies inside one true value."""
    attribute = Toy.names[0]
    graph = weak.relation_graph(toy, attribute, 1, np.random.default_rng(5))
    j = 0
    assert graph.number_of_edges() >= len(toy) // 2
    for a, b, key in graph.edges(keys=True):
        assert key == attribute and toy.labels[a, j] == toy.labels[b, j] and a != b
    assert min(d for _, d in graph.degree()) >= 1  # every example has a partner
    data, about = weak.training_set(toy, f"relations={attribute}", 1, seed=5)
    classes = data.labels[:, j]
    reference = list(nx.connected_components(nx.Graph(graph)))
    assert about["classes"] == len(reference) == len(np.unique(classes))
    for component in reference:
        members = sorted(component)
        assert len(set(classes[members].tolist())) == 1  # one class per component
        assert len(set(toy.labels[members, j].tolist())) == 1  # inside one true value
    assert about["classes"] >= about["true_values"] == len(Toy[attribute].values)
    others = [k for k in range(len(Toy.names)) if k != j]  # the rest keep their labels
    assert data.records()[0] == {**toy.records()[0], attribute: data.records()[0][attribute]}
    assert np.array_equal(data.labels[:, others] >= 0, np.ones((len(toy), len(others)), bool))


def test_a_bad_condition_names_itself(weak, toy):
    with pytest.raises(gs.ConfigError, match=r"'relations=nope'.*no attribute 'nope'"):
        weak.training_set(toy, "relations=nope", 1, seed=0)
    with pytest.raises(gs.ConfigError, match="'labels=half'"):
        weak.training_set(toy, "labels=half", 1, seed=0)


def test_quick_run_trains_and_evaluates_every_condition(weak, tmp_path):
    """Two conditions on a 16 px Fonts-mini: one judge reads both; rows and table written."""
    reset_host()
    document = weak.main(["--quick", "--budget", "2", "--conditions", "labels=50",
                          "relations=font", "--out", str(tmp_path / "weak")])
    reset_host()
    rows = document["rows"]
    assert [r["condition"] for r in rows] == ["labels=50", "relations=font"]
    assert rows[0]["known"]["font"] == round(0.5 * rows[1]["known"]["letter"])
    assert rows[1]["classes"] >= rows[1]["true_values"] == 3
    for row in rows:
        assert row["steps"] > 0 and set(row["swap_accuracy"]) == {
            "letter", "size", "font_color", "back_color", "font"}
        assert 0 <= row["leakage_mean"] <= row["leakage_max"] <= 1
    saved = json.loads((tmp_path / "weak" / "weak.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    table = (tmp_path / "weak" / "weak.md").read_text()
    assert "| labels=50 |" in table and "for 3 values" in table
