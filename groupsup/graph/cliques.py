"""A multigraph's cliques, stored CSR, built from the compact value columns of its labels.

Per attribute j the examples are sorted by value (a stable radix sort on a compact column,
``O(N)``), so that the clique of value v is ``ids[j][offsets[j][v]:offsets[j][v + 1]]`` with
ids ascending. Unknown values (-1) sit in one extra *slot* per attribute that has them; that
slot joins no clique.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from groupsup.graph.keys import index_dtype

__all__ = ["Cliques", "build_cliques"]


class Cliques(NamedTuple):
    """The cliques of every attribute, CSR: per attribute j, ``ids[j]`` (example ids sorted by
    value, unknown examples left out), ``offsets[j]`` ``(K_j + 1,)``, ``value_counts[j]``
    ``(K_j,)`` examples per value, ``slot_counts[j]`` the same per slot (0 in the unknown slot)
    and ``known[j]`` examples whose value is known."""

    ids: tuple[np.ndarray, ...]
    offsets: tuple[np.ndarray, ...]
    value_counts: tuple[np.ndarray, ...]
    slot_counts: tuple[np.ndarray, ...]
    known: tuple[int, ...]


def build_cliques(columns: list[np.ndarray], cardinalities: tuple[int, ...],
                  slot_cardinalities: tuple[int, ...]) -> Cliques:
    """The :class:`Cliques` of the compact slot *columns*
    (:func:`groupsup.graph.nodes.slot_columns`) of attributes with *cardinalities* values
    (*slot_cardinalities* counting their unknown slot)."""
    idx = index_dtype(len(columns[0]) if columns else 0)
    ids, offsets, counts, slot_counts = [], [], [], []
    for column, k, slots in zip(columns, cardinalities, slot_cardinalities):
        count = np.bincount(column, minlength=slots).astype(np.int64)
        count[k:] = 0
        offset = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(count[:k], out=offset[1:])
        # stable: ids ascending within each clique; unknown examples sort last, cut off
        ids.append(np.argsort(column, kind="stable")[:offset[-1]].astype(idx))
        counts.append(count[:k])
        slot_counts.append(count)
        offsets.append(offset)
    return Cliques(tuple(ids), tuple(offsets), tuple(counts), tuple(slot_counts),
                   tuple(int(o[-1]) for o in offsets))
