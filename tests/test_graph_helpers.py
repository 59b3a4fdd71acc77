"""Shared helpers of the graph tests: random label sets and naive reference implementations.

No tests here; the graph, sampling, strategy and split tests import these.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
from hypothesis import strategies as st

import groupsup as gs


def schema_for(cardinalities: list[int], name: str = "Random") -> type[gs.Schema]:
    """Attributes a0, a1, ... with values 0..k-1 (some may be absent from the labels)."""
    return gs.Schema.define(name, [gs.Attribute(name=f"a{j}", latent=1, values=tuple(range(k)))
                                   for j, k in enumerate(cardinalities)])


@st.composite
def label_sets(draw, max_attributes: int = 4, max_values: int = 4, max_rows: int = 40,
               min_rows: int = 1, unknown: bool = False) -> tuple[np.ndarray, type[gs.Schema]]:
    """Small label matrices: incomplete grids, duplicate rows, singleton and absent values;
    with *unknown*, some values unknown (-1)."""
    cards = draw(st.lists(st.integers(1, max_values), min_size=1, max_size=max_attributes))
    low = -1 if unknown else 0
    rows = draw(st.lists(st.tuples(*[st.integers(low, k - 1) for k in cards]),
                         min_size=min_rows, max_size=max_rows, unique=draw(st.booleans())))
    return np.array(rows, dtype=np.int64).reshape(-1, len(cards)), schema_for(cards)


def grid(cardinalities: list[int]) -> np.ndarray:
    """``(prod K, A)``: every combination once."""
    axes = np.meshgrid(*[np.arange(k) for k in cardinalities], indexing="ij")
    return np.stack(axes, -1).reshape(-1, len(cardinalities))


def naive_multigraph(labels: np.ndarray, names: tuple[str, ...]) -> nx.MultiGraph:
    """The multigraph built edge by edge, the obvious way: an edge j between i and k when both
    know j (an unknown value is -1) and the values agree."""
    out = nx.MultiGraph()
    out.add_nodes_from(range(len(labels)))
    for i in range(len(labels)):
        for k in range(i + 1, len(labels)):
            for j, name in enumerate(names):
                if labels[i, j] >= 0 and labels[i, j] == labels[k, j]:
                    out.add_edge(i, k, key=name)
    return out


def graph_and_naive(data: tuple[np.ndarray, type[gs.Schema]]
                    ) -> tuple[np.ndarray, type[gs.Schema], gs.MultiGraph, nx.MultiGraph]:
    """``(labels, schema, graph, naive)`` of a drawn ``(labels, schema)``: the engine's
    multigraph and :func:`naive_multigraph`."""
    labels, schema = data
    return labels, schema, gs.MultiGraph(labels, schema), naive_multigraph(labels, schema.names)


def edge_multiset(graph: nx.MultiGraph) -> list[tuple[int, int, str]]:
    return sorted((min(u, v), max(u, v), key) for u, v, key in graph.edges(keys=True))


def exact_partner_sets(labels: np.ndarray) -> list[list[np.ndarray]]:
    """``[i][j]``: ids sharing exactly attribute j with i (every other attribute differs)."""
    same = labels[:, None, :] == labels[None, :, :]  # (N, N, A)
    a = labels.shape[1]
    out = []
    for i in range(len(labels)):
        row = []
        for j in range(a):
            others = np.delete(same[i], j, axis=1)
            ok = same[i, :, j] & ~others.any(axis=1)
            ok[i] = False
            row.append(np.flatnonzero(ok))
        out.append(row)
    return out


def no_overlap_sets(labels: np.ndarray) -> list[np.ndarray]:
    differ = (labels[:, None, :] != labels[None, :, :]).all(axis=2)
    return [np.flatnonzero(d) for d in differ]


def chi_square_bound(df: int, z: float = 3.719) -> float:
    """Upper chi-square quantile (Wilson-Hilferty); z = 3.719 is the 1e-4 upper tail."""
    h = 2.0 / (9.0 * df)
    return df * (1.0 - h + z * math.sqrt(h)) ** 3


def chi_square(observed: np.ndarray) -> float:
    """Pearson statistic of counts against the uniform distribution over their cells."""
    expected = observed.sum() / len(observed)
    return float(((observed - expected) ** 2).sum() / expected)
