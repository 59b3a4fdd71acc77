"""GroupBatch relations are open: a plugin adds a relation kind, a strategy filling it and a loss
term reading it, and trains, with no change to groupsup's core."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import groupsup as gs
from groupsup.plugins import reset_host

# the plugin author's guide's relation example (docs/plugins.md): a strategy filling the new
# kind "triplet", a loss term reading it and a recipe, in one local plugin file
TRIPLET_PLUGIN = Path(__file__).resolve().parents[1] / "examples/plugins/triplet_relation.py"


@pytest.fixture
def triplet_plugin(monkeypatch):
    monkeypatch.setenv("GROUPSUP_PLUGINS", str(TRIPLET_PLUGIN))
    reset_host()
    yield
    reset_host()


def test_a_plugin_relation_kind_trains_end_to_end(triplet_plugin, toy_dataset, tmp_path,
                                                  one_thread):
    model = gs.build_model("conv-small", toy_dataset.schema, toy_dataset.image_shape,
                               {"width": 8, "max_width": 16})
    result = gs.train(model, toy_dataset, strategy="triplets", losses=["recon", "block-triplet"],
                      steps=3, groups_per_step=2, out=tmp_path / "run", progress=False)
    assert result.step == 3
    assert {"recon", "block-triplet"} <= set(result.last)
    with pytest.raises(gs.ConfigError, match=r"'swap' needs \['swap'\].*provides only "
                                             r"\['triplet'\]"):
        gs.train(model, toy_dataset, strategy="triplets", losses=["recon", "swap"], steps=1,
                 out=tmp_path / "run2", progress=False)


def _batch(offset: int = 0) -> gs.GroupBatch:
    triplet = gs.Relation({"anchor": [0, 1], "positive": [2, 3]}, {"attribute": [0, 2]})
    return gs.GroupBatch(np.arange(4) + offset, {"triplet": triplet},
                         swap_pairs=[[0, 1]], swap_attribute=[1], groups=1)


def test_concat_shifts_positions_of_every_kind_and_keeps_attributes():
    merged = gs.GroupBatch.concat([_batch(), _batch(10)])
    assert merged.groups == 2 and merged.examples.tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
    triplet = merged.relation("triplet")
    assert triplet["anchor"].tolist() == [0, 1, 4, 5]
    assert triplet["attribute"].tolist() == [0, 2, 0, 2]
    assert merged.swap_pairs.tolist() == [[0, 1], [4, 5]]
    assert merged.cover_target.shape == (0,) and not merged.has("cover")


def test_batches_pickle_for_loader_workers():
    batch = pickle.loads(pickle.dumps(_batch()))
    assert batch.relation("triplet")["positive"].tolist() == [2, 3]
    with pytest.raises(AttributeError):
        batch.groups = 3


@pytest.mark.parametrize(("relation", "message"), [
    (gs.Relation({"anchor": [0, 9]}), r"'bad': positions field 'anchor' holds values outside "
                                      r"0\.\.3"),
    (gs.Relation({"anchor": [0]}, {"attribute": [5]}), r"attributes field 'attribute' holds "
                                                       r"values outside 0\.\.2"),
    (gs.Relation({"anchor": [0, 1]}, {"attribute": [0]}), r"field 'attribute' has shape \(1,\), "
                                                          r"expected first dimension 2"),
])
def test_validate_names_the_relation_and_field(relation, message):
    with pytest.raises(gs.GroupsupError, match=message):
        gs.GroupBatch(np.arange(4), {"bad": relation}).validate(3)


def test_keyword_fields_are_the_builtin_kinds():
    with pytest.raises(gs.GroupsupError, match=r"'swap' needs .* missing \['swap_attribute'\]"):
        gs.GroupBatch(np.arange(2), swap_pairs=[[0, 1]])
    with pytest.raises(gs.GroupsupError, match=r"unknown field\(s\) \['triplets'\]"):
        gs.GroupBatch(np.arange(2), triplets=[[0, 1]])
    with pytest.raises(gs.GroupsupError, match="holds no 'cover' relation"):
        gs.GroupBatch(np.arange(2)).relation("cover")
