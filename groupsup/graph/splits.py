"""Zero-shot splits: hold label combinations out of training while every value stays in it.

A model trained on the training side never sees the held-out combinations, yet every single
value; a test example can be synthesised zero-shot when each of its values appears in some
training example (it has a *cover* in the training graph).

- :func:`random_combinations`: hold out a random fraction of the existing combinations (of all
  attributes, or of some), redrawing until every value keeps a training example.
- :func:`rule_split` with :class:`Rule`: a protocol like the paper authors' (letters A-J seen
  only at size "medium": ``Rule(when={"letter": [...]}, allow={"size": ["medium"]})``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from groupsup.errors import ConfigError, GroupsupError, LabelError, did_you_mean
from groupsup.graph.keys import group_ids
from groupsup.schema import Schema

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset

SPLIT_FORMAT = "groupsup.split/1"


@dataclass(frozen=True)
class Split:
    """Example ids of both sides and the held-out label combinations.

    - ``train`` ``(n_train,)``, ``test`` ``(n_test,)``: int64 example ids, ascending.
    - ``held_out`` ``(H, A)`` int64: the distinct label rows of the test side; no training
      example holds any of them.
    - ``attributes``: the schema's attribute names, in label-column order.
    """

    train: np.ndarray
    test: np.ndarray
    held_out: np.ndarray
    description: str
    attributes: tuple[str, ...] = field(default=())

    def covered(self, labels: np.ndarray) -> np.ndarray:
        """``(n_test,)`` bool: test examples whose every value appears in some training
        example, i.e. that have a cover in the training graph (only those can be synthesised
        zero-shot)."""
        labels = np.asarray(labels)
        ok = np.ones(len(self.test), dtype=bool)
        for j in range(labels.shape[1]):
            seen = np.zeros(int(labels[:, j].max()) + 1, dtype=bool)
            seen[labels[self.train, j]] = True
            ok &= seen[labels[self.test, j]]
        return ok

    def cover_report(self, labels: np.ndarray, schema: type[Schema] | None = None
                     ) -> dict[str, Any]:
        """Counts of covered test examples, and per attribute the values test examples hold
        that no training example does (by name with *schema*, else codes)."""
        labels = np.asarray(labels)
        names = self.attributes or tuple(f"a{j}" for j in range(labels.shape[1]))
        missing: dict[str, list[Any]] = {}
        for j, name in enumerate(names):
            absent = np.setdiff1d(labels[self.test, j], labels[self.train, j])
            if absent.size:
                vocab = schema.attributes[j].values if schema is not None else None
                missing[name] = [vocab[v] if vocab else int(v) for v in absent.tolist()]
        covered = int(self.covered(labels).sum())
        return {"train": len(self.train), "test": len(self.test),
                "held_out_combinations": len(self.held_out), "covered": covered,
                "uncovered": len(self.test) - covered, "values_missing_from_train": missing}

    def subsets(self, dataset: GroupDataset) -> tuple[GroupDataset, GroupDataset]:
        """``(train, test)`` datasets sharing *dataset*'s images."""
        return (dataset.subset(self.train, name=f"{dataset.name}[train]"),
                dataset.subset(self.test, name=f"{dataset.name}[test]"))

    def to_dict(self) -> dict[str, Any]:
        return {"format": SPLIT_FORMAT, "description": self.description,
                "attributes": list(self.attributes), "train": self.train.tolist(),
                "test": self.test.tolist(), "held_out": self.held_out.tolist()}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Split:
        if data.get("format") != SPLIT_FORMAT:
            raise GroupsupError(f"not a groupsup split (format {data.get('format')!r}, "
                                f"expected {SPLIT_FORMAT!r})")
        attributes = tuple(data.get("attributes", ()))
        held = np.asarray(data["held_out"], dtype=np.int64)
        if held.ndim != 2:  # an empty list
            held = held.reshape(0, len(attributes))
        return Split(np.asarray(data["train"], dtype=np.int64),
                     np.asarray(data["test"], dtype=np.int64), held,
                     str(data.get("description", "")), attributes)


def _make(labels: np.ndarray, schema: type[Schema], test_mask: np.ndarray,
          description: str) -> Split:
    """A Split from a test mask, after checking that both sides are non-empty and that every
    value present in the data keeps a training example."""
    if not test_mask.any():
        raise GroupsupError(f"{description}: holds out no example")
    if test_mask.all():
        raise GroupsupError(f"{description}: leaves no training example")
    train = np.flatnonzero(~test_mask)
    for j, attr in enumerate(schema.attributes):
        lost = np.setdiff1d(labels[test_mask, j], labels[train, j])
        if lost.size:
            shown = [attr.values[v] for v in lost[:8].tolist()]
            raise GroupsupError(f"{description}: value(s) {shown} of attribute {attr.name!r} "
                                "would have no training example; every value must stay in "
                                "training")
    test = np.flatnonzero(test_mask)
    return Split(train, test, np.unique(labels[test], axis=0), description, schema.names)


# ---------------------------------------------------------------------- random hold-out
def random_combinations(labels: Any, schema: type[Schema], fraction: float,
                        seed: int | np.random.Generator,
                        attributes: Sequence[str] | None = None) -> Split:
    """Hold out ``round(fraction * C)`` of the C existing combinations of *attributes*
    (default: all), so that every value of every attribute keeps a training example.

    Held-out combinations are drawn uniformly; whenever a value would lose its last training
    example, one held-out combination holding it goes back to training and the next drawn
    combination replaces it. Raises when no such hold-out of that size exists.
    """
    labels = schema.check_codes(labels, where="split labels")
    names = list(schema.names if attributes is None else attributes)
    if not names:
        raise ConfigError("random_combinations: attributes is empty")
    for name in names:
        schema[name]  # unknown attribute -> SchemaError with a did-you-mean
    columns = [schema.names.index(n) for n in names]
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"random_combinations: fraction must be in (0, 1), got {fraction}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    gid, _ = group_ids([labels[:, j] for j in columns], [schema.cardinalities[j]
                                                         for j in columns])
    _, combo = np.unique(gid, return_inverse=True)
    combo = combo.reshape(-1)
    n_combos = int(combo.max()) + 1 if len(combo) else 0
    target = round(fraction * n_combos)
    what = f"combinations of ({', '.join(names)})"
    if not 1 <= target < n_combos:
        raise ConfigError(f"random_combinations: fraction {fraction} of {n_combos} {what} "
                          f"holds out {target}; choose a fraction that leaves both sides "
                          "non-empty")
    order = rng.permutation(n_combos)
    held = np.zeros(n_combos, dtype=bool)
    held[order[:target]] = True
    drawn = target
    while True:
        returned = _combos_to_return(labels, schema, held[combo], combo, rng)
        if not returned.size:
            break
        held[returned] = False
        if drawn + len(returned) > n_combos:
            raise GroupsupError(f"random_combinations: cannot hold out {target} of {n_combos} "
                                f"{what} while every value keeps a training example; lower "
                                "the fraction")
        held[order[drawn:drawn + len(returned)]] = True
        drawn += len(returned)
    seed_text = "a Generator" if isinstance(seed, np.random.Generator) else seed
    return _make(labels, schema, held[combo],
                 f"random_combinations: {target} of {n_combos} {what} held out "
                 f"(fraction {fraction}, seed {seed_text})")


def _combos_to_return(labels: np.ndarray, schema: type[Schema], test: np.ndarray,
                      combo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For every value whose examples all sit in held-out combinations, one such combination
    (chosen at random) to give back to training; empty when no value is lost."""
    back = []
    train = ~test
    for j, k in enumerate(schema.cardinalities):
        total = np.bincount(labels[:, j], minlength=k)
        kept = np.bincount(labels[train, j], minlength=k)
        lost = (total > 0) & (kept == 0)
        if not lost.any():
            continue
        candidates = np.flatnonzero(test & lost[labels[:, j]])
        candidates = candidates[rng.permutation(len(candidates))]
        first = np.unique(labels[candidates, j], return_index=True)[1]
        back.append(combo[candidates[first]])
    return np.unique(np.concatenate(back)) if back else np.zeros(0, dtype=np.int64)


# ---------------------------------------------------------------------- rule protocol
@dataclass(frozen=True)
class Rule:
    """Examples whose values match every list in ``when`` are seen in training only with the
    values in ``allow``; the others go to test. Values are given by name (vocabulary values).

    ``Rule(when={"letter": list("ABCDEFGHIJ")}, allow={"size": ["medium"]})``: letters A-J
    appear in training only at size medium.
    """

    when: Mapping[str, Sequence[Any]]
    allow: Mapping[str, Sequence[Any]]

    def describe(self) -> str:
        def part(d: Mapping[str, Sequence[Any]]) -> str:
            return " and ".join(f"{k} in {list(v)}" for k, v in d.items())

        return f"where {part(self.when)}, train only on {part(self.allow)}"

    def test_mask(self, labels: np.ndarray, schema: type[Schema]) -> np.ndarray:
        """``(N,)`` bool: examples this rule sends to test."""
        if not self.when or not self.allow:
            raise ConfigError(f"rule {self.describe()!r}: 'when' and 'allow' must each name at "
                              "least one attribute")
        return (_matches(labels, schema, self.when, "when")
                & ~_matches(labels, schema, self.allow, "allow"))


def _matches(labels: np.ndarray, schema: type[Schema], values: Mapping[str, Sequence[Any]],
             role: str) -> np.ndarray:
    ok = np.ones(len(labels), dtype=bool)
    for name, wanted in values.items():
        attr = schema[name]  # unknown attribute -> SchemaError with a did-you-mean
        if isinstance(wanted, (str, bytes)) or not isinstance(wanted, Sequence):
            wanted = [wanted]
        lookup = attr.code_of()
        codes = []
        for value in wanted:
            if value not in lookup:
                raise LabelError(f"rule {role}: value {value!r} is not in the vocabulary of "
                                 f"attribute {name!r}"
                                 f"{did_you_mean(str(value), map(str, attr.values))}")
            codes.append(lookup[value])
        ok &= np.isin(labels[:, schema.names.index(attr.name)], codes)
    return ok


def rule_split(labels: Any, schema: type[Schema], rules: Sequence[Rule]) -> Split:
    """Test = examples that any rule sends to test; errors name unknown attributes/values, and
    a rule set that would take every example of some value out of training."""
    labels = schema.check_codes(labels, where="split labels")
    if not rules:
        raise ConfigError("rule_split: no rules given")
    test = np.zeros(len(labels), dtype=bool)
    for rule in rules:
        test |= rule.test_mask(labels, schema)
    return _make(labels, schema, test, "rule split: " + "; ".join(r.describe() for r in rules))
