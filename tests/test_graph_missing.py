"""Unknown label values (-1) against an explicit networkx construction.

The rule pinned here: two examples share attribute j when both know its value and the values
are equal. An example with an unknown value of j joins no clique of j, is never a partner for
j, and never blocks an exact partner for another attribute.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_helpers import (
    edge_multiset,
    graph_and_naive,
    label_sets,
    naive_multigraph,
    schema_for,
)

import groupsup as gs
from groupsup.graph import admissibility as adm
from groupsup.graph.strategies import CentreCover

SETTINGS = settings(max_examples=60, deadline=None)


def shared_sets(graph: nx.MultiGraph, n: int) -> dict[tuple[int, int], set[str]]:
    out: dict[tuple[int, int], set[str]] = {}
    for u, v, key in graph.edges(keys=True):
        out.setdefault((u, v), set()).add(key)
        out.setdefault((v, u), set()).add(key)
    return out


@SETTINGS
@given(label_sets(max_rows=30, unknown=True))
def test_unknown_values_join_no_clique_and_partners_follow_the_explicit_graph(data):
    labels, schema, graph, explicit = graph_and_naive(data)
    assert edge_multiset(graph.to_networkx()) == edge_multiset(explicit)
    assert graph.num_edges == explicit.number_of_edges()
    shared = shared_sets(explicit, len(labels))
    a = len(schema.names)
    exact = np.zeros(labels.shape, dtype=np.int64)
    free = np.zeros(len(labels), dtype=np.int64)
    for i in range(len(labels)):
        for k in range(len(labels)):
            if k == i:
                continue
            s = shared.get((i, k), set())
            if not s:
                free[i] += 1
            if len(s) == 1:
                exact[i, schema.names.index(next(iter(s)))] += 1
        for j, name in enumerate(schema.names):
            expected = sorted(k for _, k, key in explicit.edges(i, keys=True) if key == name)
            assert graph.neighbours(i, name).tolist() == expected
            assert graph.degree(i)[j] == len(expected)
    np.testing.assert_array_equal(graph.exact_partner_counts(), exact)
    np.testing.assert_array_equal(graph.no_overlap_counts(), free)
    known = labels >= 0
    columns = [np.where(known[:, j], labels[:, j], k) for j, k in enumerate(schema.cardinalities)]
    for path in (adm._dense_counts, adm._grouped_counts):
        e, f = path(columns, schema.cardinalities, known)
        np.testing.assert_array_equal(np.stack(e, axis=1), exact)
        np.testing.assert_array_equal(f, free)
    assert graph.coverage() == {n: (int(known[:, j].sum()), len(labels))
                                for j, n in enumerate(schema.names)}
    if a:
        i, k = 0, len(labels) - 1
        assert set(graph.shared_attributes(i, k)) == (shared.get((i, k), set()) if i != k
                                                      else set(graph.shared_attributes(i, i)))


@SETTINGS
@given(label_sets(max_rows=30, unknown=True), st.integers(0, 2**32 - 1))
def test_samplers_draw_only_valid_partners_with_unknown_values(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    explicit = shared_sets(naive_multigraph(labels, schema.names), len(labels))
    rng = np.random.default_rng(seed)
    centres = np.arange(len(labels)).repeat(3)
    for name in schema.names:
        for exact in (True, False):
            drawn = graph.partners(centres, name, rng, exact=exact)
            has = graph.has_partner(name, exact)[centres]
            assert ((drawn >= 0) == has).all()
            for c, p in zip(centres[has].tolist(), drawn[has].tolist()):
                s = explicit.get((c, p), set())
                assert name in s and (not exact or s == {name})
    if graph.no_overlap_counts().sum():
        pairs = graph.no_overlap_pairs(20, rng)
        assert not graph.shared_mask(pairs[:, 0], pairs[:, 1]).any()
        assert (pairs[:, 0] != pairs[:, 1]).all()


@SETTINGS
@given(label_sets(max_rows=30, unknown=True), st.integers(0, 2**32 - 1))
def test_centre_cover_centres_provide_their_own_unknown_blocks(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    strategy = CentreCover(graph)
    batch = strategy.sample(8, np.random.default_rng(seed))
    members = batch.examples.reshape(8, -1)
    for row in members:
        centre = row[0]
        for j in range(len(schema.names)):
            if labels[centre, j] < 0:
                assert row[1 + j] == centre
            elif row[1 + j] != centre:
                assert graph.shared_mask([centre], [row[1 + j]])[0, j]
    report = strategy.report()
    for j, name in enumerate(schema.names):
        c = report.counts[name]
        assert sum(c.values()) == len(labels)
        if graph.has_unknown:
            assert c["unknown"] == int((labels[:, j] < 0).sum())


def test_strict_centre_cover_needs_partners_only_for_known_attributes():
    labels = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [0, -1], [-1, -1]])
    graph = gs.MultiGraph(labels, schema_for([2, 2]))
    strategy = CentreCover(graph, {"fallback": "off"})
    # example 4 knows a0 only: 0 shares a0 and nothing else, so 4 is a strict centre whose
    # a1 block comes from itself; example 5 knows nothing and centres no group
    assert 4 in strategy.centres and 5 not in strategy.centres
    batch = strategy.sample(50, np.random.default_rng(0)).examples.reshape(50, 3)
    at4 = batch[batch[:, 0] == 4]
    assert (at4[:, 2] == 4).all() and (labels[at4[:, 1], 0] == 0).all()


def test_schema_encodes_missing_tokens_as_minus_one_and_decodes_them_to_none():
    class Toy(gs.Schema):
        shape = gs.Attribute(values=["square", "circle"], latent=2, missing="?")
        color = gs.Attribute(latent=2)

    records = [{"shape": "square", "color": "red"}, {"shape": "?", "color": None},
               {"shape": None, "color": float("nan")}, {"shape": "circle", "color": ""}]
    resolved = Toy.discover_values(records)
    assert resolved["color"].values == ("red",)
    codes = resolved.encode(records)
    assert codes.tolist() == [[0, 0], [-1, -1], [-1, -1], [1, -1]]
    assert resolved.decode(codes)[1] == {"shape": None, "color": None}
    with pytest.raises(gs.LabelError, match=r"unknown \(-1\) in row 1"):
        resolved.check_codes(codes, where="split labels")
    with pytest.raises(ValueError, match="missing token '\\?' is also a value"):
        gs.Attribute(values=["?", "a"], latent=1, missing="?")
    images = np.zeros((4, 4, 4, 3), dtype=np.uint8)
    data = gs.GroupDataset.from_arrays(Toy, images, records)
    assert data.coverage() == {"shape": 2, "color": 1}
    with pytest.raises(gs.LabelError, match="judge: arrays labels: attribute 'shape'"):
        data.require_known("judge")


def test_consumers_that_need_known_values_refuse_them_with_a_clear_error():
    from groupsup.evaluate.arrays import as_label_matrix
    from groupsup.graph import random_combinations
    from groupsup.runs.zeroshot import draw_providers

    labels = np.array([[0, 0], [1, -1], [1, 1]])
    schema = schema_for([2, 2])
    with pytest.raises(gs.LabelError, match="attribute 'a1' is unknown"):
        random_combinations(labels, schema, fraction=0.5, seed=0)
    with pytest.raises(gs.DataError, match="unknown value"):
        as_label_matrix(labels, "labels")
    with pytest.raises(gs.DataError, match="target 1 has an unknown value"):
        draw_providers(labels, np.arange(3), labels, np.random.default_rng(0))
    # a training example whose value is unknown is never a provider for that attribute
    providers = draw_providers(labels, np.arange(3), np.array([[1, 1]] * 20),
                               np.random.default_rng(0))
    assert (labels[providers[:, 1], 1] == 1).all()
