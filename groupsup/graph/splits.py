"""Zero-shot splits: hold label combinations out of training while every value stays in it.

A model trained on the training side never sees the held-out combinations, yet every single
value; a test example can be synthesised zero-shot when each of its values appears in some
training example (it has a *cover* in the training graph).

- :func:`random_combinations`: hold out a random fraction of the existing combinations (of all
  attributes, or of some), redrawing until every value keeps a training example.
- :func:`rule_split` with :class:`Rule`: a protocol like the paper authors' (letters A-J seen
  only at size "medium": ``Rule(when={"letter": [...]}, allow={"size": ["medium"]})``).
- :func:`held_out_split`: the combinations a config declares (``[dataset] split =
  "held-out"``, ``held_out = [{digit = 0, ink = "red"}]``); :func:`column_split`: a
  ``train``/``test`` entry per example (a manifest's ``split`` column).
- :func:`build_split`: the split a ``[dataset]`` config section names (the trainer and the
  evaluation both build it here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from groupsup.errors import ConfigError, DataError, GroupsupError, LabelError, did_you_mean
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


# ---------------------------------------------------------------------- declared hold-out
def _value_code(attr: Any, value: Any, where: str) -> int:
    """The code of *value* in *attr*'s vocabulary; values also match by their text, so
    ``digit = 0`` in TOML finds the value ``"0"`` read from a CSV manifest."""
    lookup = attr.code_of()
    if value in lookup and type(value) is not bool:
        return lookup[value]
    by_text = [code for v, code in lookup.items() if str(v) == str(value)]
    if len(by_text) == 1:
        return by_text[0]
    raise ConfigError(f"{where}: value {value!r} is not in the vocabulary of attribute "
                      f"{attr.name!r}{did_you_mean(str(value), map(str, attr.values or ()))}; "
                      f"values are {list(attr.values or ())[:20]}")


def held_out_split(labels: Any, schema: type[Schema],
                   held_out: Sequence[Mapping[str, Any]]) -> Split:
    """Test = every example matching one of the *held_out* (partial) combinations.

    Each entry maps attribute names to values by name (``{"digit": 0, "ink": "red"}``); an
    entry naming only some attributes holds out every example that matches it on those.
    Unknown attributes or values raise :class:`ConfigError` naming them; a hold-out that takes
    every example of some value out of training raises as :func:`rule_split` does.
    """
    labels = schema.check_codes(labels, where="split labels")
    if not held_out:
        raise ConfigError("dataset.held_out: empty; list the combinations to hold out, e.g. "
                          "held_out = [{digit = 0, ink = \"red\"}]")
    test = np.zeros(len(labels), dtype=bool)
    parts = []
    for i, combo in enumerate(held_out):
        where = f"dataset.held_out[{i}]"
        if not isinstance(combo, Mapping) or not combo:
            raise ConfigError(f"{where}: expected a non-empty table of attribute = value, "
                              f"got {combo!r}")
        match = np.ones(len(labels), dtype=bool)
        for name, value in combo.items():
            if name not in schema.names:
                raise ConfigError(f"{where}: unknown attribute {name!r}"
                                  f"{did_you_mean(str(name), schema.names)}; attributes are "
                                  f"{list(schema.names)}")
            attr = schema[name]
            match &= labels[:, schema.names.index(name)] == _value_code(attr, value, where)
        if not match.any():
            raise ConfigError(f"{where}: {dict(combo)} matches no example of the dataset")
        test |= match
        parts.append(", ".join(f"{k}={v}" for k, v in combo.items()))
    return _make(labels, schema, test, "held-out: " + "; ".join(parts))


SPLIT_COLUMN_VALUES = {"train": False, "test": True}


def column_split(sides: Sequence[Any], labels: Any, schema: type[Schema],
                 where: str = "split column") -> Split:
    """A split from one ``train``/``test`` entry per example (e.g. a manifest's ``split``
    column, in dataset order). Other entries raise :class:`DataError` naming the row, counted
    from 1 like the manifest reader's."""
    labels = schema.check_codes(labels, where="split labels")
    if len(sides) != len(labels):
        raise DataError(f"{where}: {len(sides)} entries for {len(labels)} examples")
    test = np.zeros(len(labels), dtype=bool)
    for i, side in enumerate(sides, start=1):
        key = str(side).strip().lower()
        if key not in SPLIT_COLUMN_VALUES:
            raise DataError(f"{where}: row {i} holds {side!r}; expected 'train' or 'test'")
        test[i - 1] = SPLIT_COLUMN_VALUES[key]
    return _make(labels, schema, test, f"{where} (train/test)")


SPLITS_BUILT_IN = ("none", "random-combinations", "held-out", "manifest")


def build_split(dataset: GroupDataset, name: str, *, seed: int,
                options: Mapping[str, Any] | None = None,
                held_out: Sequence[Mapping[str, Any]] | None = None,
                dataset_options: Mapping[str, Any] | None = None,
                named: Mapping[str, Any] | None = None,
                dataset_name: str = "dataset",
                keys: tuple[str, str] = ("dataset.split", "dataset.split_options")
                ) -> Split | None:
    """The split a ``[dataset]`` config section names, for the full *dataset*.

    *name*: ``"none"`` (``None``), ``"random-combinations"`` (*options*: fraction,
    attributes), ``"held-out"`` (*held_out*: combinations by value name),
    ``"manifest"`` (the ``split`` column, or ``options["column"]``, of the folder dataset's
    CSV/JSON manifest named in *dataset_options*), or a split the dataset offers in *named*
    (``name -> make(dataset, seed)``). *keys* name the split and its options in errors (the
    config keys, or a command's flags).
    """
    options = dict(options or {})
    named = named or {}
    if held_out and name != "held-out":
        raise ConfigError(f"dataset.held_out is given but dataset.split is {name!r}; set "
                          "split = \"held-out\"")
    if name == "none":
        return None
    if name == "random-combinations":
        unknown = set(options) - {"fraction", "attributes"}
        if unknown:
            raise ConfigError(f"{keys[1]}: unknown keys {sorted(unknown)} for "
                              "'random-combinations' (fraction, attributes)")
        return random_combinations(dataset.labels, dataset.schema, options.get("fraction", 0.1),
                                   seed, attributes=options.get("attributes"))
    if name == "held-out":
        return held_out_split(dataset.labels, dataset.schema, held_out or [])
    if name == "manifest":
        return _manifest_split(dataset, options, dataset_options or {})
    if name not in named:
        raise ConfigError(f"{keys[0]} {name!r}: dataset {dataset_name!r} offers "
                          f"{[*SPLITS_BUILT_IN, *sorted(named)]}")
    return named[name](dataset, seed)


def _manifest_split(dataset: GroupDataset, options: Mapping[str, Any],
                    dataset_options: Mapping[str, Any]) -> Split:
    from pathlib import Path

    from groupsup.data.folder import read_manifest_rows

    unknown = set(options) - {"column"}
    if unknown:
        raise ConfigError(f"dataset.split_options: unknown keys {sorted(unknown)} for "
                          "'manifest' (column)")
    column = str(options.get("column", "split"))
    if not dataset_options.get("manifest") or not dataset_options.get("root"):
        raise ConfigError("dataset.split 'manifest' needs a folder dataset with "
                          "dataset.options.root and dataset.options.manifest")
    manifest, rows = read_manifest_rows(Path(dataset_options["root"]),
                                        Path(dataset_options["manifest"]))
    missing = [i for i, row in enumerate(rows, start=1) if column not in row]
    if missing:
        raise DataError(f"{manifest}: row {missing[0]} has no {column!r} column (train/test) "
                        "for dataset.split 'manifest'")
    return column_split([row[column] for row in rows], dataset.labels, dataset.schema,
                        where=f"{manifest} column {column!r}")
