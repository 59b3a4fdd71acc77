"""A new relation kind, ``"triplet"``: the strategy that fills it, the loss term that reads it
and a recipe using the term. No change to groupsup's core is needed.

    GROUPSUP_PLUGINS=examples/plugins/triplet_relation.py groupsup train my.toml \
        --set strategy.name=triplets --set strategy.options={} --set loss.recipe=triplet

A triplet is (anchor, positive, negative) for one attribute j: the positive shares the anchor's
value of j, the negative does not. The term pulls latent block j of the anchor towards the
positive's and away from the negative's, a metric-learning signal per attribute that needs no
decoder call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs

KIND = "triplet"

# Rejection sampling of negatives: each try redraws the negatives that still share the
# anchor's value; the odds of a miss are at most 1/2 per try (every attribute has >= 2 values).
NEGATIVE_TRIES = 64


class Triplets(gs.Strategy):
    """Per group, ``per_attribute`` triplets for every attribute: relation ``"triplet"`` with
    positions ``anchor``, ``positive``, ``negative`` ``(T,)`` and attributes ``attribute`` ``(T,)``.
    """

    name = "triplets"  # used in option errors: "strategy 'triplets': unknown option ..."

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        per_attribute: int = Field(1, ge=1, description="triplets per attribute per group")

    def __init__(self, graph: gs.MultiGraph, config: BaseModel | dict[str, Any] | None = None):
        super().__init__(graph, config)
        # Fail when the run is built, naming the attribute, not at the first step.
        edges = graph.edge_counts()
        for j, name in enumerate(graph.names):
            present = int((graph.value_counts[j] > 0).sum())
            if present < 2 or edges[name] == 0:
                raise gs.ConfigError(f"strategy 'triplets': attribute {name!r} needs two values "
                                     f"and two examples sharing one; it has {present} value(s) "
                                     f"and {edges[name]} edge(s)")

    @property
    def provides(self) -> frozenset[str]:
        return frozenset({KIND})

    def sample(self, groups: int, rng: np.random.Generator) -> gs.GroupBatch:
        """``groups * per_attribute * A`` triplets; examples ``(3T,)`` laid out anchor,
        positive, negative per triplet, so triplet t sits at positions ``3t, 3t + 1, 3t + 2``."""
        g, n = self.graph, groups * self.config.per_attribute
        attribute = np.repeat(np.arange(g.num_attributes), n)
        anchor, positive, negative = [], [], []
        for j in range(g.num_attributes):
            edges = g.random_edges(j, n, rng)  # (n, 2): pairs sharing attribute j's value
            anchor.append(edges[:, 0])
            positive.append(edges[:, 1])
            negative.append(self._negatives(edges[:, 0], j, rng))
        examples = np.stack([np.concatenate(anchor), np.concatenate(positive),
                             np.concatenate(negative)], axis=1).reshape(-1)
        rows = np.arange(len(examples)).reshape(-1, 3)
        relation = gs.Relation({"anchor": rows[:, 0], "positive": rows[:, 1],
                                "negative": rows[:, 2]}, {"attribute": attribute})
        return gs.GroupBatch(examples, {KIND: relation}, groups=groups)

    def _negatives(self, anchors: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` ids whose value of attribute j differs from each anchor's."""
        labels = self.graph.labels[:, j]
        out = rng.integers(0, len(self.graph), size=len(anchors))
        for _ in range(NEGATIVE_TRIES):
            same = labels[out] == labels[anchors]
            if not same.any():
                return out
            out[same] = rng.integers(0, len(self.graph), size=int(same.sum()))
        raise gs.GroupsupError(f"strategy 'triplets': no negative found for attribute "
                               f"{self.graph.names[j]!r} in {NEGATIVE_TRIES} tries")


class BlockTripletConfig(gs.TermConfig):
    margin: float = Field(1.0, gt=0, description="how much farther the negative must be")


class BlockTriplet(gs.LossTerm):
    """``mean(relu(|a_j - p_j|^2 - |a_j - n_j|^2 + margin))`` over the step's triplets, where
    ``a_j`` is latent block j of the anchor's code and j the triplet's attribute."""

    name = "block-triplet"
    requires = frozenset({KIND})  # the recipe checks that the strategy provides it
    compares = "codes"  # a penalty on codes: the recipe's image distance does not apply
    Config = BlockTripletConfig

    def run(self, step: gs.StepContext) -> torch.Tensor:
        """No decode or encode request, so a plain method returning the scalar."""
        t = step.relation(KIND)  # {field: int64 tensor (T,)} on z's device
        losses = []
        for j, block in enumerate(step.partition.split(step.z).values()):  # block: (M, w_j)
            rows = t["attribute"] == j
            a, p, n = (block[t[k][rows]] for k in ("anchor", "positive", "negative"))
            gap = (a - p).pow(2).sum(1) - (a - n).pow(2).sum(1) + self.config.margin
            losses.append(torch.relu(gap))
        return torch.cat(losses).mean()


@gs.hookimpl
def register_strategies(register) -> None:
    register("triplets", Triplets, description="anchor/positive/negative triplets per attribute")


@gs.hookimpl
def register_losses(register) -> None:
    register("block-triplet", BlockTriplet, description="triplet margin loss on latent blocks")


@gs.hookimpl
def register_recipes(register) -> None:
    register("triplet", [gs.LossSpec(term="recon"),
                         gs.LossSpec(term="block-triplet", weight=0.1)],
             description="reconstruction plus a block triplet margin")
