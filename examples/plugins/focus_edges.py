"""A strategy plugin: swap edges for chosen attributes only.

    GROUPSUP_PLUGINS=examples/plugins/focus_edges.py groupsup train my.toml \
        --set strategy.name=focus-edges --set 'strategy.options={attributes = ["colour"]}' \
        --set loss.recipe=gsl-no-cover

on a dataset with a ``colour`` attribute, such as shapes.toml of docs/plugins.md.

Use it when some attributes' labels are unreliable: the swap loss then disentangles only the
attributes you trust, while reconstruction still trains on every image. It fills the built-in
``"swap"`` relation, so the built-in ``swap`` term reads it; it fills no ``"cover"``, so a
recipe with the ``cover`` term (``gsl``) is refused when the run is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs


class FocusEdges(gs.Strategy):
    """Per group, ``edges`` swap pairs for each chosen attribute j, drawn uniformly among the
    pairs of examples that share j's value. Group layout: ``[a_0, b_0, a_1, b_1, ...]``."""

    name = "focus-edges"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        attributes: list[str] = Field(default_factory=list, description="attributes to swap; "
                                      "empty: all")
        edges: int = Field(1, ge=1, description="swap pairs per chosen attribute per group")

    def __init__(self, graph: gs.MultiGraph, config: BaseModel | dict[str, Any] | None = None):
        super().__init__(graph, config)  # validates config into self.config
        names = self.config.attributes or list(graph.names)
        try:  # attribute_index names an unknown attribute, with a did-you-mean
            self.chosen = np.array([graph.attribute_index(n) for n in names], dtype=np.int64)
        except gs.GroupsupError as err:
            raise gs.ConfigError(f"strategy 'focus-edges': option 'attributes': {err}") from None
        edges = graph.edge_counts()
        empty = [n for n in names if edges[n] == 0]
        if empty:
            raise gs.ConfigError(f"strategy 'focus-edges': no two examples share a value of "
                                 f"{empty}; drop them from option 'attributes'")

    @property
    def provides(self) -> frozenset[str]:
        return frozenset({"swap"})

    def sample(self, groups: int, rng: np.random.Generator) -> gs.GroupBatch:
        """``groups * edges * len(chosen)`` pairs; examples ``(2E,)``, pair e at positions
        ``2e, 2e + 1``; swap attribute ``(E,)`` the attribute the pair shares."""
        n = groups * self.config.edges
        pairs = np.concatenate([self.graph.random_edges(int(j), n, rng) for j in self.chosen])
        attribute = np.repeat(self.chosen, n)
        swap = gs.Relation.pairs(np.arange(2 * len(pairs)).reshape(-1, 2), attribute)
        return gs.GroupBatch(pairs.reshape(-1), {"swap": swap}, groups=groups)


@gs.hookimpl
def register_strategies(register) -> None:
    register("focus-edges", FocusEdges, description="swap edges for chosen attributes only")
