"""GroupBatch relations are open: a plugin adds a relation kind, a strategy filling it and a loss
term reading it, and trains, with no change to groupsup's core."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import groupsup as gs
from groupsup.plugins import reset_host

TRIPLET_PLUGIN = '''
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs


class Triplets(gs.Strategy):
    """Anchor, positive sharing attribute j, negative differing in j: relation 'triplet'."""

    name = "triplets"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        per_group: int = Field(2, ge=1)

    @property
    def provides(self):
        return frozenset({"triplet"})

    def sample(self, groups, rng):
        g, n = self.graph, groups * self.config.per_group
        anchor = rng.integers(0, len(g), size=n)
        j = rng.integers(0, g.num_attributes, size=n)
        positive = np.array([g.partners([a], int(k), rng, exact=False)[0]
                             for a, k in zip(anchor, j)])
        negative = rng.integers(0, len(g), size=n)
        examples = np.stack([anchor, positive, negative], axis=1).reshape(-1)
        rows = np.arange(3 * n).reshape(n, 3)
        relation = gs.Relation({"anchor": rows[:, 0], "positive": rows[:, 1],
                                "negative": rows[:, 2]}, {"attribute": j})
        return gs.GroupBatch(examples, {"triplet": relation}, groups=groups)


class BlockTriplet(gs.LossTerm):
    """Margin loss on block j: the anchor's block is closer to the positive's than the
    negative's."""

    name = "block-triplet"
    requires = frozenset({"triplet"})
    compares = "codes"

    def run(self, step):
        t = step.relation("triplet")
        blocks = step.partition.split(step.z)
        losses = []
        for j, block in enumerate(blocks.values()):
            rows = t["attribute"] == j
            a, p, n = (block[t[k][rows]] for k in ("anchor", "positive", "negative"))
            losses.append(torch.relu((a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + 1.0))
        return torch.cat(losses).mean()


@gs.hookimpl
def register_strategies(register):
    register("triplets", Triplets)


@gs.hookimpl
def register_losses(register):
    register("block-triplet", BlockTriplet)
'''


@pytest.fixture
def triplet_plugin(tmp_path, monkeypatch):
    path = tmp_path / "triplet_plugin.py"
    path.write_text(TRIPLET_PLUGIN)
    monkeypatch.setenv("GROUPSUP_PLUGINS", str(path))
    reset_host()
    yield
    reset_host()


def test_a_plugin_relation_kind_trains_end_to_end(triplet_plugin, toy_dataset, tmp_path,
                                                  one_thread):
    model = gs.SwapAutoencoder("conv-small", toy_dataset.schema, toy_dataset.image_shape,
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
