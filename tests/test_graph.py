"""The clique engine against naive references: edges, queries, counts, admissibility, export."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from test_graph_helpers import (
    edge_multiset,
    exact_partner_sets,
    graph_and_naive,
    grid,
    label_sets,
    naive_multigraph,
    no_overlap_sets,
    schema_for,
)

import groupsup as gs
from groupsup.graph import admissibility as adm
from groupsup.graph.keys import PackedRows

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(label_sets())
def test_cliques_and_naive_networkx_agree_on_the_edge_multiset(data):
    _, schema, graph, naive = graph_and_naive(data)
    assert edge_multiset(graph.to_networkx()) == edge_multiset(naive)
    counts = graph.edge_counts()
    for name in schema.names:
        assert counts[name] == sum(1 for *_, k in naive.edges(keys=True) if k == name)
    assert graph.num_edges == naive.number_of_edges()


@SETTINGS
@given(label_sets())
def test_queries_match_the_naive_graph(data):
    labels, schema, graph, naive = graph_and_naive(data)
    for i in range(len(labels)):
        degree = graph.degree(i)
        for j, name in enumerate(schema.names):
            expected = sorted(k for _, k, key in naive.edges(i, keys=True) if key == name)
            assert graph.neighbours(i, name).tolist() == expected
            assert degree[j] == len(expected)
        k = (i * 7 + 3) % len(labels)
        if k != i:
            shared = set(naive.get_edge_data(i, k, default={}))
            assert set(graph.shared_attributes(i, k)) == shared
    for j, name in enumerate(schema.names):
        for v in range(schema.cardinalities[j]):
            assert graph.members(name, v).tolist() == np.flatnonzero(labels[:, j] == v).tolist()
    np.testing.assert_array_equal(graph.degree(np.arange(len(labels))),
                                  np.stack([graph.degree(i) for i in range(len(labels))]))


@SETTINGS
@given(label_sets())
def test_partner_counts_match_brute_force_on_both_paths(data):
    labels, schema = data
    exact_sets = exact_partner_sets(labels)
    expected = np.array([[len(s) for s in row] for row in exact_sets]).reshape(labels.shape)
    no_overlap = np.array([len(s) for s in no_overlap_sets(labels)])
    columns = [labels[:, j] for j in range(labels.shape[1])]
    for path in (adm._dense_counts, adm._grouped_counts):
        exact, free = path(columns, schema.cardinalities)
        np.testing.assert_array_equal(np.stack(exact, axis=1), expected)
        np.testing.assert_array_equal(free, no_overlap)
    graph = gs.MultiGraph(labels, schema)
    np.testing.assert_array_equal(graph.exact_partner_counts(), expected)
    np.testing.assert_array_equal(graph.no_overlap_counts(), no_overlap)


@SETTINGS
@given(label_sets())
def test_admissibility_report(data):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    report = graph.admissibility()
    exact = graph.exact_partner_counts() > 0
    relaxed = np.stack([(labels[:, j][:, None] == labels[:, j][None, :]).sum(1) > 1
                        for j in range(labels.shape[1])], axis=1)
    assert report.admissible_exact == exact.all(axis=1).sum()
    assert report.admissible_relaxed == relaxed.all(axis=1).sum()
    assert report.is_admissible("exact") == bool(exact.all())
    assert report.is_admissible("relaxed") == bool(relaxed.all())
    for j, name in enumerate(schema.names):
        counts = np.bincount(labels[:, j], minlength=schema.cardinalities[j])
        assert report[name].without_exact == (~exact[:, j]).sum()
        assert report[name].without_relaxed == (~relaxed[:, j]).sum()
        assert list(report[name].singleton_values) == np.flatnonzero(counts == 1).tolist()
        assert list(report[name].absent_values) == np.flatnonzero(counts == 0).tolist()
    assert report.no_overlap_pairs == sum(len(s) for s in no_overlap_sets(labels)) // 2
    np.testing.assert_array_equal(graph.admissible_centres(True),
                                  np.flatnonzero(exact.all(axis=1)))


def test_admissibility_summary_and_dict_name_singletons():
    class Shapes(gs.Schema):
        shape = gs.Attribute(values=["square", "circle"], latent=2)
        colour = gs.Attribute(values=["red", "green", "blue"], latent=2)

    labels = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [0, 2]])
    report = gs.MultiGraph(labels, Shapes).admissibility()
    text = str(report)
    assert "colour" in text and "'blue'" in text and "NOT admissible" in text
    data = report.to_dict()
    assert data["attributes"]["colour"]["singleton_values"] == ["blue"]
    assert data["is_admissible"] == {"exact": False, "relaxed": False}
    assert data["admissible"]["relaxed"] == 4
    with pytest.raises(gs.GroupsupError, match="'sparse'"):
        report.is_admissible("sparse")


def test_fonts_like_edge_counts_are_computed_not_enumerated():
    labels = grid([52, 3, 10, 9, 4])
    graph = gs.MultiGraph(labels)
    n = len(labels)
    expected = {f"a{j}": k * (n // k) * (n // k - 1) // 2
                for j, k in enumerate([52, 3, 10, 9, 4])}
    assert graph.edge_counts() == expected
    assert graph.admissibility().is_admissible("exact")


def test_graph_from_a_dataset_uses_its_schema(toy_dataset):
    graph = gs.MultiGraph(toy_dataset)
    assert graph.names == ("shape", "color", "position")
    assert graph.shared_attributes(0, 1) == ("shape", "color", "position")  # duplicate rows
    assert len(graph) == len(toy_dataset)
    assert "MultiGraph(24 nodes" in repr(graph)


def test_errors_name_what_is_wrong():
    graph = gs.MultiGraph(grid([2, 3]))
    with pytest.raises(gs.GroupsupError, match=r"no attribute 'a3'; attributes are \['a0'"):
        graph.neighbours(0, "a3")
    with pytest.raises(gs.GroupsupError, match="out of range"):
        graph.degree(6)
    with pytest.raises(gs.LabelError, match=r"'a1'.*code 3"):
        graph.members("a1", 3)
    with pytest.raises(gs.GroupsupError, match="numpy Generator"):
        graph.partners([0], "a0", rng=1)
    with pytest.raises(gs.LabelError, match="shape"):
        gs.MultiGraph(np.zeros((3, 2), np.int64), schema_for([2, 2, 2]))
    with pytest.raises(gs.LabelError, match="row 1 has code 5"):
        gs.MultiGraph(np.array([[0, 0], [5, 1]]), schema_for([2, 2]))


def test_find_rows_looks_up_label_combinations():
    labels = grid([3, 4, 2])[::2]
    graph = gs.MultiGraph(labels, schema_for([3, 4, 2]))
    np.testing.assert_array_equal(graph.find_rows(labels[::-1]), np.arange(len(labels))[::-1])
    assert graph.find_rows([[0, 0, 1]]).tolist() == [-1]


@SETTINGS
@given(label_sets(max_attributes=6, max_values=300))
def test_packed_rows_decode_every_field(data):
    labels, schema = data
    packed = PackedRows([labels[:, j] for j in range(labels.shape[1])], schema.cardinalities)
    taken = packed.take(np.arange(len(labels))[::-1])
    for j in range(labels.shape[1]):
        np.testing.assert_array_equal(packed.field(taken, j), labels[::-1, j])


def test_wide_schemas_pack_into_several_words_and_skip_the_row_index():
    cards = [1 << 10] * 7  # 70 bits of codes, key space beyond int64
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(50, 7))
    graph = gs.MultiGraph(labels, schema_for(cards))
    assert len(graph.rows.words) == 2 and graph.combination_index is None
    partners = graph.partners(np.arange(50), "a2", np.random.default_rng(1))
    ok = partners >= 0
    same = graph.labels[partners[ok]] == graph.labels[np.flatnonzero(ok)]
    assert same[:, 2].all() and not np.delete(same, 2, axis=1).any()
    with pytest.raises(gs.GroupsupError, match="int64"):
        graph.find_rows(labels[:1])


def test_to_networkx_subset_refusal_and_cooccurrence():
    labels = grid([4, 3, 5])
    graph = gs.MultiGraph(labels, schema_for([4, 3, 5]))
    sub = graph.to_networkx(nodes=[0, 5, 7, 20, 33])
    assert sorted(sub.nodes) == [0, 5, 7, 20, 33]
    assert sub.nodes[7] == {"a0": 0, "a1": 1, "a2": 2}
    naive = naive_multigraph(labels[[0, 5, 7, 20, 33]], graph.names)
    relabel = dict(enumerate([0, 5, 7, 20, 33]))
    assert edge_multiset(sub) == edge_multiset(nx.relabel_nodes(naive, relabel))
    with pytest.raises(gs.GroupsupError, match=f"has {graph.num_edges:,} edges"):
        graph.to_networkx(max_edges=100)
    co = graph.value_cooccurrence_graph()
    assert co.number_of_nodes() == 4 + 3 + 5
    assert co.edges[("a0", 1), ("a2", 4)]["weight"] == 3
    assert co.nodes[("a1", 2)]["count"] == 20
    assert not co.has_edge(("a0", 0), ("a0", 1))
