"""Samplers: validity on random label sets, coverage and uniformity, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_helpers import (
    chi_square,
    chi_square_bound,
    exact_partner_sets,
    grid,
    label_sets,
    no_overlap_sets,
    schema_for,
)

import groupsup as gs
from groupsup.graph import sampling

SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(label_sets(), st.integers(0, 2**32 - 1))
def test_partners_are_valid_and_reported_missing(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    rng = np.random.default_rng(seed)
    centres = np.repeat(np.arange(len(labels)), 3)
    exact_sets = exact_partner_sets(labels)
    for j, name in enumerate(schema.names):
        exact = graph.partners(centres, name, rng, exact=True)
        relaxed = graph.partners(centres, j, rng, exact=False)
        for c, p, q in zip(centres, exact, relaxed):
            if len(exact_sets[c][j]):
                assert p in exact_sets[c][j]  # shares exactly j, never the centre
            else:
                assert p == -1
            clique = np.flatnonzero(labels[:, j] == labels[c, j])
            if len(clique) > 1:
                assert q != c and labels[q, j] == labels[c, j]
            else:
                assert q == -1


@SETTINGS
@given(label_sets(min_rows=2), st.integers(0, 2**32 - 1))
def test_pairs_and_edges_are_valid(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    rng = np.random.default_rng(seed)
    if any(len(s) for s in no_overlap_sets(labels)):
        pairs = graph.no_overlap_pairs(40, rng)
        assert (labels[pairs[:, 0]] != labels[pairs[:, 1]]).all()
    else:
        with pytest.raises(gs.GroupsupError, match="differ in every attribute"):
            graph.no_overlap_pairs(5, rng)
    for j, name in enumerate(schema.names):
        if graph.edge_counts()[name]:
            edges = graph.random_edges(name, 30, rng)
            assert (edges[:, 0] != edges[:, 1]).all()
            assert (labels[edges[:, 0], j] == labels[edges[:, 1], j]).all()
        else:
            with pytest.raises(gs.GroupsupError, match=f"'{name}' has no edges"):
                graph.random_edges(name, 3, rng)


def _assert_uniform(draws: np.ndarray, valid: np.ndarray) -> None:
    """Every valid partner is reached, nothing else is, and the counts pass chi-square."""
    assert set(np.unique(draws)) == set(valid.tolist())
    counts = np.array([(draws == v).sum() for v in valid])
    assert chi_square(counts) < chi_square_bound(len(valid) - 1)


def _incomplete_grid(seed: int = 3) -> np.ndarray:
    labels = grid([6, 5, 4, 5])
    keep = np.random.default_rng(seed).random(len(labels)) >= 0.3
    return labels[keep]


@pytest.mark.parametrize("case", ["full grid", "incomplete grid", "duplicates", "sparse",
                                  "enumeration only"])
def test_exact_sampler_reaches_every_partner_uniformly(case, monkeypatch):
    cards = [6, 5, 4, 5]
    labels = {"full grid": grid(cards), "incomplete grid": _incomplete_grid(),
              "duplicates": np.concatenate([grid(cards), grid(cards)[::3]]),
              "sparse": _incomplete_grid()[::3],
              "enumeration only": _incomplete_grid()}[case]
    if case == "enumeration only":
        monkeypatch.setattr(sampling, "MAX_ROUNDS", 0)
    graph = gs.MultiGraph(labels, schema_for(cards))
    rng = np.random.default_rng(7)
    exact_sets = exact_partner_sets(labels)
    for j in range(len(cards)):
        centre = max(range(len(labels)), key=lambda i: len(exact_sets[i][j]))
        valid = exact_sets[centre][j]
        draws = graph.partners(np.full(200 * len(valid), centre), j, rng)
        _assert_uniform(draws, valid)


def test_each_centre_uses_the_proposal_with_the_smaller_candidate_space():
    full = gs.MultiGraph(grid([6, 5, 4, 5]))
    # Full grid: the perturbation space is never larger than a clique, and always succeeds.
    assert all(full.perturbation_tables.space[j] <= c.min() - 1
               for j, c in enumerate(full.value_counts))
    sparse = gs.MultiGraph(grid([6, 5, 4, 5])[::7])
    # Sparse data: cliques of a0 (about 14 other members) beat 4 * 3 * 4 = 48 perturbed rows.
    assert sparse.perturbation_tables.space[0] == 48.0
    assert (sparse.value_counts[0] - 1 < 48).all()


def test_relaxed_sampler_and_random_edges_are_uniform():
    labels = _incomplete_grid()
    graph = gs.MultiGraph(labels, schema_for([6, 5, 4, 5]))
    rng = np.random.default_rng(11)
    centre = 17
    valid = np.flatnonzero(labels[:, 2] == labels[centre, 2])
    valid = valid[valid != centre]
    _assert_uniform(graph.partners(np.full(150 * len(valid), centre), 2, rng, exact=False),
                    valid)
    small = gs.MultiGraph(np.array([[0], [0], [0], [1], [1], [2]]))
    edges = np.sort(small.random_edges(0, 40000, rng), axis=1)
    keys = edges[:, 0] * 10 + edges[:, 1]
    _assert_uniform(keys, np.array([1, 2, 12, 34]))


def test_no_overlap_pairs_are_uniform_including_the_fallback(monkeypatch):
    labels = np.array([[0, 0], [0, 1], [1, 0], [1, 2], [2, 1], [2, 2], [0, 2]])
    graph = gs.MultiGraph(labels, schema_for([3, 3]))
    sets = no_overlap_sets(labels)
    valid = np.array([i * 10 + k for i, s in enumerate(sets) for k in s])
    for rounds in (sampling.MAX_ROUNDS, 0):
        monkeypatch.setattr(sampling, "MAX_ROUNDS", rounds)
        pairs = graph.no_overlap_pairs(300 * len(valid), np.random.default_rng(rounds))
        _assert_uniform(pairs[:, 0] * 10 + pairs[:, 1], valid)


def test_sampling_is_deterministic_for_a_seed_and_works_across_blocks(monkeypatch):
    monkeypatch.setattr(sampling, "BLOCK", 64)
    graph = gs.MultiGraph(_incomplete_grid(), schema_for([6, 5, 4, 5]))
    centres = np.random.default_rng(0).integers(0, len(graph), 500)

    def draw(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [graph.partners(centres, 1, rng), graph.partners(centres, 0, rng, exact=False),
                graph.no_overlap_pairs(300, rng), graph.random_edges(3, 50, rng)]

    for a, b in zip(draw(5), draw(5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draw(5)[0], draw(6)[0])
    exact = draw(5)[0]
    assert (graph.shared_mask(centres, exact).sum(axis=1) == 1).all()


def test_one_attribute_exact_is_relaxed():
    graph = gs.MultiGraph(np.array([[0], [0], [1], [2], [2], [2]]))
    partners = graph.partners(np.arange(6), 0, np.random.default_rng(0))
    assert partners[2] == -1
    others = np.delete(np.arange(6), 2)
    assert (partners[others] != others).all()
    assert (graph.labels[partners[others], 0] == graph.labels[others, 0]).all()
