"""Partner availability: who has an exact, relaxed or no-overlap partner, and the report on it.

An example i has an *exact* partner for attribute j when another example shares j's value and
shares no other attribute (the paper's one-overlap), a *relaxed* partner when another example
shares at least j's value. Sharing needs both values known: an unknown value (-1) is shared
with nobody, so it never blocks an exact partner and never makes one. The counts come from
inclusion-exclusion over attribute subsets (or the same on a dense count tensor), never from
enumerating edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from groupsup.graph.multigraph import MultiGraph

STRATEGIES = ("exact", "relaxed")


def partner_counts(labels: np.ndarray, cardinalities: tuple[int, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Exact-partner counts ``(A, N)`` and no-overlap partner counts ``(N,)``.

    Two examples *share* attribute l when both know its value and the values are equal (an
    unknown value, -1, is shared with nobody). ``exact[j, i]`` = #{k != i: k and i share j
    and share no other attribute}; ``no_overlap[i]`` = #{k != i: k and i share nothing}.
    Tabulated on the dense count tensor when the label key space is small, else by
    inclusion-exclusion over group counts.
    """
    n = len(labels)
    known = labels >= 0
    # Unknown values move to one extra slot per attribute (K_j), kept apart by masks below.
    columns = [np.where(known[:, j], labels[:, j], k) for j, k in enumerate(cardinalities)]
    if is_dense(key_space(_slots(cardinalities, known)), n):
        exact, no_overlap = _dense_counts(columns, cardinalities, known)
    else:
        exact, no_overlap = _grouped_counts(columns, cardinalities, known)
    dtype = index_dtype(n)
    return np.stack([e.astype(dtype) for e in exact]), no_overlap.astype(dtype)


def _slots(cardinalities: tuple[int, ...], known: np.ndarray) -> tuple[int, ...]:
    """Slots per attribute: its values, plus one for unknown where some value is unknown."""
    return tuple(k + int(not known[:, j].all()) for j, k in enumerate(cardinalities))


def _without_self(exact: list[np.ndarray], no_overlap: np.ndarray, known: np.ndarray
                  ) -> tuple[list[np.ndarray], np.ndarray]:
    """Inclusion-exclusion counts example i itself once exactly when i knows no attribute but
    j (exact for j) or none at all (no-overlap): remove it; no exact partner for an attribute
    i does not know."""
    known_count = known.sum(axis=1)
    for j in range(len(exact)):
        exact[j] -= known[:, j] & (known_count == 1)
        exact[j][~known[:, j]] = 0
    no_overlap -= known_count == 0
    return exact, no_overlap


def _dense_counts(columns: list[np.ndarray], cardinalities: tuple[int, ...],
                  known: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """On the count tensor C (one axis per attribute, unknown values in slot K_l), "does not
    share attribute l" is the operator ``f -> f.sum(axis=l) - f`` on the known slots and
    ``f -> f.sum(axis=l)`` on the unknown slot; applying it along every axis but j gives, for
    each label row, its exact partners for j (the row itself included only when unknown
    everywhere but j)."""
    if known is None:
        known = np.ones((len(columns[0]), len(columns)), dtype=bool)
    slots = _slots(cardinalities, known)
    keys = row_keys(columns, strides(slots))
    tensor = np.bincount(keys, minlength=key_space(slots)).reshape(slots)
    a = len(columns)

    def not_shared(t: np.ndarray, axes: range | list[int]) -> np.ndarray:
        for axis in axes:
            if slots[axis] == cardinalities[axis]:  # no unknown value on this axis
                t = t.sum(axis=axis, keepdims=True) - t
                continue
            mask = np.zeros(slots[axis], dtype=t.dtype)
            mask[:cardinalities[axis]] = 1
            shape = [1] * a
            shape[axis] = slots[axis]
            t = t.sum(axis=axis, keepdims=True) - t * mask.reshape(shape)
        return t

    def per_example(t: np.ndarray) -> np.ndarray:
        return t.astype(np.int64).reshape(-1).take(keys)

    exact = [per_example(not_shared(tensor, [k for k in range(a) if k != j])) for j in range(a)]
    return _without_self(exact, per_example(not_shared(tensor, range(a))), known)


def _grouped_counts(columns: list[np.ndarray], cardinalities: tuple[int, ...],
                    known: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """With n(i, T) = examples sharing every attribute of T with i (i included when it knows
    them all; 0 when i does not), ``exact[j] = sum over T containing j of (-1)**(|T|-1)
    n(., T)`` and ``no_overlap = sum over all T of (-1)**|T| n(., T)``: ``2**A - 1`` grouped
    counts."""
    n, a = len(columns[0]), len(columns)
    if known is None:
        known = np.ones((n, a), dtype=bool)
    slots = _slots(cardinalities, known)
    exact = [np.zeros(n, dtype=np.int64) for _ in range(a)]
    no_overlap = np.full(n, n, dtype=np.int64)
    complete = known.all()
    for size in range(1, a + 1):
        for subset in combinations(range(a), size):
            counts = match_counts([columns[j] for j in subset], [slots[j] for j in subset])
            if not complete:
                counts = np.where(known[:, list(subset)].all(axis=1), counts, 0)
            if size % 2 == 0:
                counts = -counts
            for j in subset:
                exact[j] += counts
            no_overlap -= counts
    return _without_self(exact, no_overlap, known)


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
    known: int = -1  # examples with a known value; -1: not counted

    def to_dict(self) -> dict[str, Any]:
        return {"values_present": self.values_present, "edges": self.edges, "known": self.known,
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
        lines = [f"{'attribute':<{width}}  {'values':>7}  {'known':>7}  {'edges':>15}  "
                 f"{'no exact':>9}  {'no relaxed':>10}  singleton values"]
        for r in self.attributes:
            single = _preview(r.singleton_values) if r.singleton_values else "-"
            known = f"{100 * r.known / self.size:.0f}%" if r.known >= 0 and self.size else "-"
            lines.append(f"{r.name:<{width}}  {r.values_present:>7}  {known:>7}  "
                         f"{r.edges:>15,}  {r.without_exact:>9,}  {r.without_relaxed:>10,}  "
                         f"{single}")
        for s in STRATEGIES:
            state = "admissible" if self.is_admissible(s) else "NOT admissible"
            lines.append(f"{s}: {self.admissible(s):,} of {self.size:,} examples have a partner "
                         f"for every attribute ({state})")
        lines.append(f"no-overlap pairs (cycle swap): {self.no_overlap_pairs:,}")
        partial = [r for r in self.attributes if 0 <= r.known < self.size]
        if partial:
            lines.append("known values: " + ", ".join(f"{r.name} {r.known:,} of {self.size:,}"
                                                      for r in partial)
                         + " (an example joins no clique of an attribute it does not know)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _preview(values: tuple[Any, ...], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def admissibility_report(graph: MultiGraph) -> Admissibility:
    """The :class:`Admissibility` of *graph*: per attribute, the values present, edges and
    examples without an exact or relaxed partner; overall, the admissible centres."""
    exact = graph.partner_counts[0]
    edges = graph.edge_counts()
    reports = []
    for j, (name, attr) in enumerate(zip(graph.names, graph.schema.attributes)):
        count = graph.value_counts[j]
        reports.append(AttributeReport(
            name=name, values_present=int((count > 0).sum()), edges=edges[name],
            without_exact=int((exact[j] == 0).sum()),
            without_relaxed=int((~graph.has_partner(j, exact=False)).sum()),
            known=graph.known_counts[j],
            singleton_values=tuple(attr.values[v] for v in np.flatnonzero(count == 1)),
            absent_values=tuple(attr.values[v] for v in np.flatnonzero(count == 0))))
    return Admissibility(
        size=len(graph), attributes=tuple(reports),
        admissible_exact=len(graph.admissible_centres(True)),
        admissible_relaxed=len(graph.admissible_centres(False)),
        no_overlap_pairs=int(graph.partner_counts[1].sum(dtype=np.int64) // 2))
