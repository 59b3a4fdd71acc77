"""networkx views of a MultiGraph: an explicit multigraph over a node subset, and the
attribute-value co-occurrence graph. For analysis, drawing and cross-checks; never for
training-time sampling."""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from groupsup.data.relations import SCHEMA_KEY
from groupsup.errors import GroupsupError

if TYPE_CHECKING:
    from groupsup.graph.multigraph import MultiGraph


def subgraph_edge_counts(graph: MultiGraph, nodes: np.ndarray) -> dict[str, int]:
    """Edges per attribute of the subgraph induced by *nodes* (unique ids)."""
    out = {}
    for j, name in enumerate(graph.names):
        column = graph.labels[nodes, j]
        c = np.bincount(column[column >= 0], minlength=graph.cardinalities[j])
        out[name] = int((c * (c - 1) // 2).sum())
    return out


def to_networkx(graph: MultiGraph, nodes: Any = None, max_edges: int = 2_000_000
                ) -> nx.MultiGraph:
    """Explicit ``networkx.MultiGraph``: nodes are example ids with their known label values as
    node attributes (an unknown value is left out); one edge per shared attribute, keyed by the
    attribute's name; ``graph["groupsup_schema"]`` holds the schema as JSON, so that
    ``MultiGraph.from_networkx`` rebuilds the same graph."""
    ids = (np.arange(len(graph)) if nodes is None
           else np.unique(graph.check_ids(nodes, "node")))
    edges = subgraph_edge_counts(graph, ids)
    total = sum(edges.values())
    if total > max_edges:
        per = ", ".join(f"{n} {e:,}" for n, e in edges.items())
        raise GroupsupError(f"the multigraph on {len(ids):,} nodes has {total:,} edges ({per}), "
                            f"more than max_edges={max_edges:,}; pass fewer nodes or raise "
                            "max_edges")
    out = nx.MultiGraph()
    out.graph[SCHEMA_KEY] = graph.schema.to_json(indent=None)
    vocabularies = [a.values for a in graph.schema.attributes]
    rows = graph.labels[ids]
    out.add_nodes_from(
        (int(i), {n: vocab[c] for n, vocab, c in zip(graph.names, vocabularies, row) if c >= 0})
        for i, row in zip(ids.tolist(), rows.tolist()))
    for j, name in enumerate(graph.names):
        order = np.argsort(rows[:, j], kind="stable")
        order = order[rows[order, j] >= 0]  # unknown values join no clique
        starts = np.unique(rows[order, j], return_index=True)[1]
        bounds = [*starts.tolist(), len(order)]
        for a, b in itertools.pairwise(bounds):  # one clique per value present
            if b - a < 2:
                continue
            members = ids[order[a:b]]
            first, second = np.triu_indices(b - a, k=1)
            out.add_edges_from(zip(members[first].tolist(), members[second].tolist(),
                                   [name] * len(first)))
    return out


def value_cooccurrence_graph(graph: MultiGraph) -> nx.Graph:
    """``networkx.Graph`` over ``(attribute, value)`` nodes (node attribute ``count``: examples
    holding the value); an edge joins values of two attributes that occur together, with
    ``weight`` = how many examples hold both."""
    out = nx.Graph()
    vocabularies = [a.values for a in graph.schema.attributes]
    for j, name in enumerate(graph.names):
        for v in np.flatnonzero(graph.value_counts[j]):
            out.add_node((name, vocabularies[j][v]), attribute=name,
                         count=int(graph.value_counts[j][v]))
    for a in range(graph.num_attributes):
        for b in range(a + 1, graph.num_attributes):
            kb = graph.cardinalities[b]
            both = (graph.labels[:, a] >= 0) & (graph.labels[:, b] >= 0)
            joint = np.bincount(graph.labels[both, a] * kb + graph.labels[both, b],
                                minlength=graph.cardinalities[a] * kb)
            for key in np.flatnonzero(joint).tolist():
                va, vb = divmod(key, kb)
                out.add_edge((graph.names[a], vocabularies[a][va]),
                             (graph.names[b], vocabularies[b][vb]), weight=int(joint[key]))
    return out


def write_graphml(graph: MultiGraph, path: str | os.PathLike, nodes: Any = None,
                  max_edges: int = 2_000_000) -> dict[str, int]:
    """Write :func:`to_networkx` of *nodes* as GraphML; returns its node and edge counts."""
    explicit = to_networkx(graph, nodes, max_edges)
    try:
        nx.write_graphml(explicit, os.fspath(path))
    except OSError as err:
        raise GroupsupError(f"{path}: cannot write GraphML ({err})") from None
    return {"nodes": explicit.number_of_nodes(), "edges": explicit.number_of_edges()}
