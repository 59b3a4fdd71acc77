"""Zero-shot splits of Fonts: the protocol rules and random combination hold-out."""

from __future__ import annotations

import numpy as np
import pytest
from groupsup_fonts import (
    LETTERS,
    RenderPlan,
    fonts_schema,
    protocol_allowances,
    protocol_split,
    random_split,
)

import groupsup as gs


@pytest.fixture(scope="module")
def labelled(catalog) -> gs.GroupDataset:
    """10 letters x 3 sizes x 12 colour pairs x 3 fonts, blank 8 px images (labels matter)."""
    colours = ("red", "yellow", "green", "blue")
    plan = RenderPlan(catalog.faces, 32, letters=tuple("ABCDEvwxyz"), font_colors=colours,
                      back_colors=colours)
    labels = plan.labels()
    return gs.GroupDataset.from_arrays(plan.schema, np.zeros((len(labels), 8, 8, 3), np.uint8),
                                       labels)


def test_protocol_on_the_full_alphabet() -> None:
    schema = fonts_schema(fonts=[f"font{i}" for i in range(6)])
    allowances = protocol_allowances(schema)
    assert [(letters[0], letters[-1], len(letters), attribute, allowed)
            for letters, attribute, allowed in allowances] == [
        ("A", "J", 10, "size", ["medium"]),
        ("K", "T", 10, "font_color", ["red", "orange", "yellow", "green", "cyan"]),
        ("U", "d", 10, "back_color", ["blue", "purple", "pink", "chocolate", "silver"]),
        ("e", "n", 10, "font", ["font0", "font2", "font4"]),
    ]
    restricted = {c for letters, _, _ in allowances for c in letters}
    assert "".join(c for c in LETTERS if c not in restricted) == "opqrstuvwxyz"


def check_split(split, dataset: gs.GroupDataset) -> None:
    labels = dataset.labels
    assert np.intersect1d(split.train, split.test).size == 0
    assert len(split.train) + len(split.test) == len(labels)
    for j, attribute in enumerate(dataset.schema.attributes):
        seen = np.unique(labels[split.train, j])
        assert len(seen) == len(attribute.values), f"a {attribute.name} value left training"
    train_rows = {tuple(row) for row in labels[split.train].tolist()}
    assert not train_rows & {tuple(row) for row in split.held_out.tolist()}


def test_protocol_split_holds_out_unseen_pairs(labelled: gs.GroupDataset) -> None:
    split = protocol_split(labelled, seed=0)
    check_split(split, labelled)
    schema, labels = labelled.schema, labelled.labels
    letter_of = np.array(schema["letter"].values)[labels[:, 0]]
    assert len(protocol_allowances(schema)) == 4
    for letters, attribute, allowed in protocol_allowances(schema):
        j = schema.names.index(attribute)
        value_of = np.array(schema[attribute].values)[labels[:, j]]
        restricted = np.isin(letter_of, letters) & ~np.isin(value_of, allowed)
        assert restricted.any()
        assert np.isin(np.flatnonzero(restricted), split.test).all()
        # Zero-shot: no (letter, value) pair of these test examples is in training.
        train_pairs = set(zip(letter_of[split.train], value_of[split.train]))
        assert not train_pairs & set(zip(letter_of[restricted], value_of[restricted]))
    assert split.covered(labels).all()


def test_random_split_is_seeded_and_keeps_every_value(labelled: gs.GroupDataset) -> None:
    split = random_split(labelled, seed=3)
    check_split(split, labelled)
    assert len(split.test) == round(0.1 * len(labelled))
    assert np.array_equal(random_split(labelled, seed=3).test, split.test)
    pairs = random_split(labelled, seed=3, attributes=("letter", "font"))
    check_split(pairs, labelled)


def test_protocol_needs_five_letters(mini_plan: RenderPlan) -> None:
    with pytest.raises(gs.ConfigError, match="at least 5 letters"):
        protocol_allowances(mini_plan.schema)
