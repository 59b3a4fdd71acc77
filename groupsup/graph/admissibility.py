"""Partner availability: who has an exact, relaxed or no-overlap partner, and the report on it.

An example i has an *exact* partner for attribute j when another example shares j's value and
differs in every other attribute (the paper's one-overlap), a *relaxed* partner when another
example shares at least j's value. The counts come from inclusion-exclusion over attribute
subsets (or the same on a dense count tensor), never from enumerating edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from groupsup.errors import GroupsupError
from groupsup.graph.keys import (
    index_dtype,
    is_dense,
    key_space,
    match_counts,
    row_keys,
    strides,
)

STRATEGIES = ("exact", "relaxed")


def partner_counts(labels: np.ndarray, cardinalities: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Exact-partner counts ``(A, N)`` and no-overlap partner counts ``(N,)``.

    ``exact[j, i]`` = #{k != i: a_j(k) == a_j(i) and a_l(k) != a_l(i) for every l != j};
    ``no_overlap[i]`` = #{k: a_l(k) != a_l(i) for every l}. Tabulated on the dense count
    tensor when the label key space is small, else by inclusion-exclusion over group counts.
    """
    n = len(labels)
    columns = [labels[:, j] for j in range(labels.shape[1])]
    space = key_space(cardinalities)
    if is_dense(space, n):
        exact, no_overlap = _dense_counts(columns, cardinalities)
    else:
        exact, no_overlap = _grouped_counts(columns, cardinalities)
    dtype = index_dtype(n)
    return np.stack([e.astype(dtype) for e in exact]), no_overlap.astype(dtype)


def _dense_counts(columns: list[np.ndarray], cardinalities: tuple[int, ...]
                  ) -> tuple[list[np.ndarray], np.ndarray]:
    """On the count tensor C (one axis per attribute), "differs in attribute l" is the operator
    ``f -> f.sum(axis=l) - f``; applying it along every axis but j gives, for each label row,
    its exact partners for j (the row itself never counts when A > 1)."""
    keys = row_keys(columns, strides(cardinalities))
    tensor = np.bincount(keys, minlength=key_space(cardinalities)).reshape(cardinalities)

    def differing(t: np.ndarray, axes: range | list[int]) -> np.ndarray:
        for axis in axes:
            t = t.sum(axis=axis, keepdims=True) - t
        return t

    a, dtype = len(columns), index_dtype(len(keys))

    def per_example(t: np.ndarray) -> np.ndarray:
        return t.astype(dtype).reshape(-1).take(keys)

    exact = [per_example(differing(tensor, [k for k in range(a) if k != j])) for j in range(a)]
    if a == 1:
        exact[0] -= 1  # one attribute: exact is relaxed, minus the example itself
    return exact, per_example(differing(tensor, range(a)))


def _grouped_counts(columns: list[np.ndarray], cardinalities: tuple[int, ...]
                    ) -> tuple[list[np.ndarray], np.ndarray]:
    """With n(i, T) = examples agreeing with i on attribute set T (i included),
    ``exact[j] = sum over T containing j of (-1)**(|T|-1) n(., T)`` (i cancels when A > 1) and
    ``no_overlap = sum over all T of (-1)**|T| n(., T)``: ``2**A - 1`` grouped counts."""
    n, a = len(columns[0]), len(columns)
    exact = [np.zeros(n, dtype=np.int64) for _ in range(a)]
    no_overlap = np.full(n, n, dtype=np.int64)
    for size in range(1, a + 1):
        for subset in combinations(range(a), size):
            counts = match_counts([columns[j] for j in subset],
                                  [cardinalities[j] for j in subset])
            if size % 2 == 0:
                counts = -counts
            for j in subset:
                exact[j] += counts
            no_overlap -= counts
    if a == 1:
        exact[0] -= 1
    return exact, no_overlap


@dataclass(frozen=True)
class AttributeReport:
    """Partner availability of one attribute."""

    name: str
    values_present: int
    edges: int
    without_exact: int
    without_relaxed: int
    singleton_values: tuple[Any, ...]
    absent_values: tuple[Any, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"values_present": self.values_present, "edges": self.edges,
                "without_exact": self.without_exact, "without_relaxed": self.without_relaxed,
                "singleton_values": list(self.singleton_values),
                "absent_values": list(self.absent_values)}


@dataclass(frozen=True)
class Admissibility:
    """Which examples can serve as centres: per attribute and for whole groups.

    ``admissible_exact`` counts examples with an exact partner for *every* attribute (centres of
    strict centre-cover groups), ``admissible_relaxed`` those with a relaxed partner for every
    attribute. The dataset is admissible for a strategy when every example is.
    """

    size: int
    attributes: tuple[AttributeReport, ...]
    admissible_exact: int
    admissible_relaxed: int
    no_overlap_pairs: int

    def is_admissible(self, strategy: str = "exact") -> bool:
        """True when every example has a partner for every attribute under *strategy*."""
        return self.admissible(strategy) == self.size

    def admissible(self, strategy: str = "exact") -> int:
        """How many examples have a partner for every attribute under *strategy*."""
        if strategy not in STRATEGIES:
            raise GroupsupError(f"unknown admissibility strategy {strategy!r}; use one of "
                                f"{list(STRATEGIES)}")
        return self.admissible_exact if strategy == "exact" else self.admissible_relaxed

    def __getitem__(self, name: str) -> AttributeReport:
        for report in self.attributes:
            if report.name == name:
                return report
        raise GroupsupError(f"no attribute {name!r} in the admissibility report; attributes "
                            f"are {[r.name for r in self.attributes]}")

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size,
                "admissible": {"exact": self.admissible_exact,
                               "relaxed": self.admissible_relaxed},
                "is_admissible": {s: self.is_admissible(s) for s in STRATEGIES},
                "no_overlap_pairs": self.no_overlap_pairs,
                "attributes": {r.name: r.to_dict() for r in self.attributes}}

    def summary(self) -> str:
        """A readable multi-line report."""
        width = max(len("attribute"), *(len(r.name) for r in self.attributes))
        lines = [f"{'attribute':<{width}}  {'values':>7}  {'edges':>15}  {'no exact':>9}  "
                 f"{'no relaxed':>10}  singleton values"]
        for r in self.attributes:
            single = _preview(r.singleton_values) if r.singleton_values else "-"
            lines.append(f"{r.name:<{width}}  {r.values_present:>7}  {r.edges:>15,}  "
                         f"{r.without_exact:>9,}  {r.without_relaxed:>10,}  {single}")
        for s in STRATEGIES:
            state = "admissible" if self.is_admissible(s) else "NOT admissible"
            lines.append(f"{s}: {self.admissible(s):,} of {self.size:,} examples have a partner "
                         f"for every attribute ({state})")
        lines.append(f"no-overlap pairs (cycle swap): {self.no_overlap_pairs:,}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _preview(values: tuple[Any, ...], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
