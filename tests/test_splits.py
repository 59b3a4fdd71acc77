"""Zero-shot splits: every value stays in training, held-out combinations never appear there."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_graph_helpers import grid, label_sets

import groupsup as gs
from groupsup.graph import random_combinations, rule_split


class Letters(gs.Schema):
    letter = gs.Attribute(values=list(string.ascii_uppercase[:12]), latent=4)
    size = gs.Attribute(values=["small", "medium", "large"], latent=4)
    colour = gs.Attribute(values=["red", "green", "blue", "cyan"], latent=4)


LETTERS = grid([12, 3, 4])


def _check(split: gs.Split, labels: np.ndarray, columns: list[int]) -> None:
    assert len(np.intersect1d(split.train, split.test)) == 0
    assert len(split.train) + len(split.test) == len(labels)
    for j in range(labels.shape[1]):  # every value present in the data is seen in training
        assert set(labels[split.test, j]) <= set(labels[split.train, j])
    seen = {tuple(r) for r in labels[split.train][:, columns].tolist()}
    assert not any(tuple(r) in seen for r in labels[split.test][:, columns].tolist())
    np.testing.assert_array_equal(split.held_out, np.unique(labels[split.test], axis=0))
    assert split.covered(labels).all()


@settings(max_examples=50, deadline=None)
@given(label_sets(max_rows=60), st.floats(0.05, 0.6), st.integers(0, 1000))
def test_random_combinations_properties(data, fraction, seed):
    labels, schema = data
    n_combos = len(np.unique(labels, axis=0))
    assume(1 <= round(fraction * n_combos) < n_combos)
    try:
        split = random_combinations(labels, schema, fraction, seed)
    except gs.GroupsupError as err:
        assert "lower the fraction" in str(err)
        return
    _check(split, labels, list(range(labels.shape[1])))
    assert len(split.held_out) == round(fraction * n_combos)


def test_random_combinations_of_some_attributes():
    split = random_combinations(LETTERS, Letters, 0.25, seed=4, attributes=["letter", "size"])
    _check(split, LETTERS, [0, 1])
    held_pairs = np.unique(LETTERS[split.test][:, :2], axis=0)
    assert len(held_pairs) == 9  # 25% of 36 (letter, size) combinations
    assert len(split.test) == 9 * 4
    assert "9 of 36 combinations of (letter, size)" in split.description
    again = random_combinations(LETTERS, Letters, 0.25, seed=4, attributes=["letter", "size"])
    np.testing.assert_array_equal(split.test, again.test)


def test_random_combinations_repairs_lost_values_and_errors_when_impossible():
    # a single example for value 11 of letter: its combination can never be held out
    labels = np.concatenate([LETTERS[LETTERS[:, 0] < 11], [[11, 0, 0]]])
    for seed in range(20):
        split = random_combinations(labels, Letters, 0.5, seed)
        assert len(labels) - 1 in split.train
        _check(split, labels, [0, 1, 2])
    diagonal = np.array([[i, i % 3, i % 4] for i in range(12)])
    with pytest.raises(gs.GroupsupError, match="cannot hold out 6 of 12"):
        random_combinations(diagonal, Letters, 0.5, 0)
    with pytest.raises(gs.ConfigError, match=r"fraction must be in \(0, 1\)"):
        random_combinations(LETTERS, Letters, 1.0, 0)
    with pytest.raises(gs.ConfigError, match="holds out 0"):
        random_combinations(LETTERS, Letters, 0.001, 0)
    with pytest.raises(gs.SchemaError, match="no attribute 'colour_'"):
        random_combinations(LETTERS, Letters, 0.2, 0, attributes=["colour_"])


def test_rule_split_like_the_authors_protocol():
    rule = gs.Rule(when={"letter": list("ABCDEFGHIJ")}, allow={"size": ["medium"]})
    split = rule_split(LETTERS, Letters, [rule])
    _check(split, LETTERS, [0, 1])
    test = LETTERS[split.test]
    assert set(test[:, 0]) == set(range(10)) and set(test[:, 1]) == {0, 2}
    assert len(split.test) == 10 * 2 * 4
    assert "letter in ['A'" in split.description and "size in ['medium']" in split.description
    two = rule_split(LETTERS, Letters, [rule, gs.Rule(when={"letter": ["K"]},
                                                      allow={"colour": "red"})])
    assert len(two.test) == len(split.test) + 3 * 3


def test_rule_split_errors_name_attribute_and_value():
    with pytest.raises(gs.SchemaError, match=r"no attribute 'sise'.*did you mean 'size'"):
        rule_split(LETTERS, Letters, [gs.Rule(when={"letter": ["A"]}, allow={"sise": ["small"]})])
    with pytest.raises(gs.LabelError, match=r"value 'medum'.*'size'.*did you mean 'medium'"):
        rule_split(LETTERS, Letters, [gs.Rule(when={"size": ["medum"]}, allow={"letter": "A"})])
    everything = gs.Rule(when={"letter": list(string.ascii_uppercase[:12])},
                         allow={"size": ["medium"]})
    with pytest.raises(gs.GroupsupError, match=r"\['small', 'large'\] of attribute 'size'"):
        rule_split(LETTERS, Letters, [everything])
    with pytest.raises(gs.GroupsupError, match="holds out no example"):
        rule_split(LETTERS, Letters, [gs.Rule(when={"letter": ["A"]},
                                              allow={"size": ["small", "medium", "large"]})])
    with pytest.raises(gs.ConfigError, match="no rules"):
        rule_split(LETTERS, Letters, [])


def test_cover_report_round_trip_and_subsets():
    split = rule_split(LETTERS, Letters, [gs.Rule(when={"letter": ["A", "B"]},
                                                  allow={"colour": ["red"]})])
    report = split.cover_report(LETTERS, Letters)
    assert report == {"train": 144 - 18, "test": 18, "held_out_combinations": 18, "covered": 18,
                      "uncovered": 0, "values_missing_from_train": {}}
    lost = gs.Split(split.train[LETTERS[split.train, 2] != 3], split.test, split.held_out,
                    "by hand", Letters.names)
    report = lost.cover_report(LETTERS, Letters)
    assert report["values_missing_from_train"] == {"colour": ["cyan"]}
    assert report["uncovered"] == 6
    restored = gs.Split.from_dict(split.to_dict())
    for name in ("train", "test", "held_out"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(split, name))
    assert restored.attributes == ("letter", "size", "colour")
    images = np.zeros((len(LETTERS), 4, 4, 3), np.uint8)
    data = gs.GroupDataset.from_arrays(Letters, images, LETTERS)
    train, test = split.subsets(data)
    assert len(train) == 126 and len(test) == 18
    np.testing.assert_array_equal(test.labels, LETTERS[split.test])
