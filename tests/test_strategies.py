"""Group strategies: batch structure, validity, admissible centres, registry and configs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_graph_helpers import chi_square, chi_square_bound, grid, label_sets, schema_for

import groupsup as gs
from groupsup.graph import CentreCover, EdgeStrategy, NoOverlapPairs


def _incomplete(seed: int = 1) -> gs.MultiGraph:
    labels = grid([5, 4, 3, 4])
    labels = labels[np.random.default_rng(seed).random(len(labels)) >= 0.3]
    return gs.MultiGraph(labels, schema_for([5, 4, 3, 4]))


def _check_pairs(graph: gs.MultiGraph, batch: gs.GroupBatch, exact: bool) -> None:
    ids = batch.examples
    shared = graph.shared_mask(ids[batch.swap_pairs[:, 0]], ids[batch.swap_pairs[:, 1]])
    rows = np.arange(len(shared))
    assert shared[rows, batch.swap_attribute].all()
    if exact:
        assert (shared.sum(axis=1) == 1).all()
    assert (ids[batch.swap_pairs[:, 0]] != ids[batch.swap_pairs[:, 1]]).all()
    cycle = graph.shared_mask(ids[batch.cycle_pairs[:, 0]], ids[batch.cycle_pairs[:, 1]])
    assert not cycle.any()


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("cycle_pairs", [0, 2])
def test_centre_cover_groups(exact, cycle_pairs):
    graph = _incomplete()
    strategy = CentreCover(graph, {"exact": exact, "cycle_pairs": cycle_pairs,
                                   "fallback": "off"})
    batch = strategy.sample(7, np.random.default_rng(0)).validate(4)
    per_group = 5 + 2 * cycle_pairs
    assert batch.groups == 7 and len(batch.examples) == 7 * per_group
    assert len(batch.swap_pairs) == 7 * 4 and len(batch.cover_target) == 7
    assert len(batch.cycle_pairs) == 7 * cycle_pairs
    _check_pairs(graph, batch, exact)
    ids = batch.examples
    target = ids[batch.cover_target]
    for j in range(4):
        provider = ids[batch.cover_providers[:, j]]
        assert (graph.labels[provider, j] == graph.labels[target, j]).all()
    assert (batch.cover_target == np.arange(7) * per_group).all()
    assert strategy.provides == ({"swap", "cover", "cycle"} if cycle_pairs else {"swap", "cover"})


def test_edge_and_no_overlap_strategies():
    graph = _incomplete()
    edge = EdgeStrategy(graph, {"cycle_pairs": 1})
    batch = edge.sample(5, np.random.default_rng(1)).validate(4)
    assert len(batch.examples) == 5 * (8 + 2) and len(batch.swap_pairs) == 20
    assert len(batch.cover_target) == 0 and edge.provides == {"swap", "cycle"}
    _check_pairs(graph, batch, exact=False)
    strict = EdgeStrategy(graph, {"exact": True}).sample(5, np.random.default_rng(1))
    _check_pairs(graph, strict, exact=True)
    pairs = NoOverlapPairs(graph, {"pairs": 3})
    batch = pairs.sample(4, np.random.default_rng(2)).validate(4)
    assert len(batch.cycle_pairs) == 12 and len(batch.examples) == 24
    assert pairs.provides == {"cycle"}
    _check_pairs(graph, batch, exact=False)


@settings(max_examples=40, deadline=None)
@given(label_sets(min_rows=2), st.integers(0, 2**32 - 1))
def test_strategies_on_random_label_sets_draw_only_admissible_centres(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    rng = np.random.default_rng(seed)
    for exact in (True, False):
        admissible = graph.admissible_centres(exact)
        config = {"exact": exact, "fallback": "off"}
        if not len(admissible):
            with pytest.raises(gs.GroupsupError, match="centre-cover"):
                CentreCover(graph, config)
            continue
        batch = CentreCover(graph, config).sample(6, rng).validate(len(schema))
        assert np.isin(batch.examples[batch.cover_target], admissible).all()
        assert (batch.examples >= 0).all()
        _check_pairs(graph, batch, exact)


def test_centres_are_uniform_over_admissible_examples():
    labels = np.concatenate([grid([3, 3]), [[0, 0]]])  # a duplicate row
    graph = gs.MultiGraph(labels, schema_for([3, 3]))
    batch = CentreCover(graph, {"fallback": "off"}).sample(20000, np.random.default_rng(3))
    centres = batch.examples[batch.cover_target]
    counts = np.bincount(centres, minlength=len(labels))
    assert chi_square(counts) < chi_square_bound(len(labels) - 1)


def test_no_admissible_centre_names_the_attribute():
    labels = np.array([[0, 0], [0, 1], [1, 2]])  # a1 values are all singletons
    graph = gs.MultiGraph(labels, schema_for([2, 3]))
    with pytest.raises(gs.GroupsupError, match=r"attribute\(s\) \['a1'\]"):
        CentreCover(graph, {"exact": False, "fallback": "off"})
    with pytest.raises(gs.GroupsupError, match=r"'edge'.*\['a1'\]"):
        EdgeStrategy(graph)


def test_sampling_uses_only_the_generator():
    graph = _incomplete()
    strategy = CentreCover(graph, {"cycle_pairs": 1})
    a = strategy.sample(9, np.random.default_rng([1, 0, 5]))
    strategy.sample(3, np.random.default_rng(99))  # no state carried between calls
    b = strategy.sample(9, np.random.default_rng([1, 0, 5]))
    for name in ("examples", "swap_pairs", "cover_providers", "cycle_pairs", "cycle_attribute"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_registry_and_configs():
    host = gs.get_host()
    assert {"centre-cover", "edge", "no-overlap-pairs"} <= set(host.strategies.names())
    graph = _incomplete()
    strategy = host.strategies.get("centre-cover")(graph, {"exact": False})
    assert isinstance(strategy, gs.Strategy) and strategy.config.exact is False
    with pytest.raises(gs.ConfigError,
                       match=r"'centre-cover': unknown option 'exactness' \(did you mean 'exact'"):
        CentreCover(graph, {"exactness": True})
    with pytest.raises(gs.ConfigError,
                       match=r"'edge': option 'cycle_pairs' = -1: Input should be greater"):
        EdgeStrategy(graph, {"cycle_pairs": -1})
    with pytest.raises(gs.RegistryError, match="did you mean 'edge'"):
        host.strategies.get("edges")


@settings(max_examples=40, deadline=None)
@given(label_sets(min_rows=2), st.integers(0, 2**32 - 1))
def test_fallback_makes_every_example_a_centre(data, seed):
    labels, schema = data
    graph = gs.MultiGraph(labels, schema)
    for exact in (True, False):
        strategy = CentreCover(graph, {"exact": exact})
        batch = strategy.sample(64, np.random.default_rng(seed)).validate(len(schema))
        ids = batch.examples
        centre, partner = ids[batch.swap_pairs[:, 0]], ids[batch.swap_pairs[:, 1]]
        j = batch.swap_attribute
        shared = graph.shared_mask(centre, partner)
        assert shared[np.arange(len(j)), j].all()  # partner j always shares value j
        wanted = np.stack([graph.has_partner(a, exact) for a in range(len(schema))])[j, centre]
        some = np.stack([graph.has_partner(a, False) for a in range(len(schema))])[j, centre]
        assert (shared[wanted].sum(axis=1) == 1).all() if exact else True  # kind asked for
        assert (centre[wanted] != partner[wanted]).all()
        assert (centre[some] != partner[some]).all()  # a relaxed partner where one exists
        assert (centre[~some] == partner[~some]).all()  # the centre stands in for none
        report = strategy.report()
        for a, name in enumerate(graph.names):
            c = report.counts[name]
            assert c["exact"] + c["relaxed"] + c["none"] == len(graph)
            assert c["exact"] == int(graph.has_partner(a, exact).sum())
            assert c["none"] == int((~graph.has_partner(a, False)).sum())


def test_centres_without_exact_partners_are_kept_and_reported():
    # The protocol-split shape: letters 0-2 at size 0 only, size 1-2 only with letter 3; no
    # letter 0-2 example has an exact letter partner (all share size 0 with each other).
    labels = np.array([[letter, 0, colour] for letter in range(3) for colour in range(3)]
                      + [[3, size, colour] for size in range(1, 3) for colour in range(3)])
    graph = gs.MultiGraph(labels, schema_for([4, 3, 3]))
    assert not graph.has_partner(0, True)[:9].any()
    strategy = CentreCover(graph)
    batch = strategy.sample(4000, np.random.default_rng(0))
    centres = batch.examples[batch.cover_target]
    assert set(np.unique(centres)) == set(range(len(labels)))  # every example is a centre
    report = strategy.report()
    assert report.counts["a0"] == {"exact": 6, "relaxed": 9, "none": 0}
    assert report.never_recombined == {}
    assert "a0: 6 exact, 9 relaxed, 0 none" in report.lines()
    with pytest.raises(gs.GroupsupError, match=r"fallback='off'.*every attribute at once"):
        CentreCover(graph, {"fallback": "off"})


def test_values_that_can_never_be_recombined_are_named():
    labels = np.array([[0, 0], [0, 1], [1, 1], [1, 0], [2, 0]])  # a0=2 occurs once
    graph = gs.MultiGraph(labels, schema_for([3, 2]))
    report = CentreCover(graph).report()
    assert report.never_recombined == {"a0": ["2"]}
    assert report.counts["a0"]["none"] == 1
    (message,) = report.warnings()
    assert "'a0'" in message and "can never be recombined: 2" in message


def test_only_centre_cover_reports_and_the_others_say_none():
    """``Strategy.report()``: the trainer asks every strategy (no ``hasattr``); the base
    returns ``None``, centre-cover its partner counts."""
    graph = gs.MultiGraph(np.array([[0, 0], [0, 1], [1, 1], [1, 0]]), schema_for([2, 2]))
    assert EdgeStrategy(graph).report() is None
    assert NoOverlapPairs(graph).report() is None
    assert CentreCover(graph).report().counts["a0"]["exact"] == 4
