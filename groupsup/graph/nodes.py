"""The nodes of a multigraph: examples with label rows checked against a schema.

:class:`LabelledNodes` holds the ``(N, A)`` label codes (unknown values, -1, in one extra
*slot* per attribute that has them), each row bit-packed, and an index from label row to the
examples holding it; it answers what concerns examples and their labels alone (attribute and id
lookups, which attributes two examples share, which example holds a row).
:class:`~groupsup.graph.multigraph.MultiGraph` adds the edges: the cliques and all that is
computed from them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groupsup.errors import GroupsupError, LabelError, did_you_mean
from groupsup.graph.keys import MAX_KEY_SPACE, CombinationIndex, PackedRows, key_space
from groupsup.schema import UNKNOWN, Attribute, Schema

__all__ = ["LabelledNodes", "labels_schema", "slot_columns"]


def labels_schema(labels: np.ndarray) -> type[Schema]:
    """A schema for a bare label matrix: attributes ``a0, a1, ...`` with codes as values."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] == 0:
        raise LabelError(f"a label matrix must have shape (N, A) with A >= 1, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise LabelError(f"a label matrix must hold integer codes, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise LabelError("a label matrix without a schema must hold codes >= 0")
    sizes = labels.max(axis=0) + 1 if len(labels) else np.ones(labels.shape[1], np.int64)
    return Schema.define("Labels", [Attribute(name=f"a{j}", latent=1,
                                              values=tuple(range(int(k))))
                                    for j, k in enumerate(sizes)])


def _value_dtype(cardinality: int) -> type[np.integer]:
    # numpy sorts 8- and 16-bit integers with a stable radix sort: O(N) per attribute.
    if cardinality <= 1 << 8:
        return np.uint8
    return np.uint16 if cardinality <= 1 << 16 else np.int64


def slot_columns(schema: type[Schema], labels: np.ndarray
                 ) -> tuple[np.ndarray, list[np.ndarray], tuple[int, ...]]:
    """``(N, A)`` int64 codes, one compact *slot* column per attribute, and the unknown slot of
    each attribute (-1 when it has no unknown value).

    A slot column holds the codes with :data:`UNKNOWN` (-1) moved to slot ``K_j``, one past
    the last value, so that packed rows and row keys stay non-negative. A fast range check
    runs on the compact columns (their dtype holds the largest code, so nothing wraps); the
    schema's own check, which names the bad row, runs only when it fails.
    """
    labels = np.asarray(labels)
    ok = (labels.ndim == 2 and labels.shape[1] == len(schema) and schema.has_values
          and np.issubdtype(labels.dtype, np.integer) and len(labels) > 0)
    if ok and labels.min() >= 0:
        top = int(labels.max())
        columns = [labels[:, j].astype(_value_dtype(max(k, top + 1)))
                   for j, k in enumerate(schema.cardinalities)]
        if all(int(c.max()) < k for c, k in zip(columns, schema.cardinalities)):
            return (labels.astype(np.int64, copy=False), columns,
                    (UNKNOWN,) * len(schema))
    labels = schema.check_codes(labels, where="graph labels", allow_missing=True)
    columns, slots = [], []
    for j, k in enumerate(schema.cardinalities):
        column = labels[:, j]
        unknown = column < 0
        slot = k if unknown.any() else UNKNOWN
        columns.append(np.where(unknown, k, column).astype(_value_dtype(k + 1)))
        slots.append(slot)
    return labels, columns, tuple(slots)


class LabelledNodes:
    """N examples with label rows of *schema*: ``labels`` ``(N, A)`` int64 codes (-1 unknown),
    ``unknown_slot`` per attribute (-1 when it has no unknown value) and the compact slot
    *columns* (:func:`slot_columns`), from which the packed rows (``rows``) and the label-row
    index (``combination_index``, ``None`` where the key space exceeds int64) are built.

    Attributes are named (``"letter"``) or given by position.
    """

    def __init__(self, schema: type[Schema], labels: np.ndarray, columns: list[np.ndarray],
                 unknown_slot: tuple[int, ...]):
        self.schema, self.labels, self.unknown_slot = schema, labels, unknown_slot
        self.names: tuple[str, ...] = schema.names
        self.cardinalities: tuple[int, ...] = schema.cardinalities
        # Unknown values sit in one extra slot per attribute that has them: it joins no
        # clique and counts as "not shared" with every example.
        self.slot_cardinalities: tuple[int, ...] = tuple(
            k + (slot >= 0) for k, slot in zip(self.cardinalities, self.unknown_slot))
        self.rows = PackedRows(columns, self.slot_cardinalities)
        self.combination_index: CombinationIndex | None = None
        if key_space(self.slot_cardinalities) < MAX_KEY_SPACE:
            self.combination_index = CombinationIndex.of(columns, self.slot_cardinalities)

    @property
    def has_unknown(self) -> bool:
        """Whether some value is unknown (-1) in the labels."""
        return any(slot >= 0 for slot in self.unknown_slot)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_attributes(self) -> int:
        return len(self.names)

    def attribute_index(self, attribute: str | int) -> int:
        """Position of *attribute* (a name or a position); errors name the unknown attribute."""
        if isinstance(attribute, (int, np.integer)) and not isinstance(attribute, bool):
            if not 0 <= attribute < self.num_attributes:
                raise GroupsupError(f"attribute position {attribute} out of range "
                                    f"0..{self.num_attributes - 1} ({list(self.names)})")
            return int(attribute)
        try:
            return self.names.index(attribute)
        except ValueError:
            hint = did_you_mean(str(attribute), self.names)
            raise GroupsupError(f"no attribute {attribute!r}{hint}; attributes are "
                                f"{list(self.names)}") from None

    def check_ids(self, ids: Any, what: str = "example") -> np.ndarray:
        """*ids* as a flat int64 array; raises :class:`GroupsupError` naming the first id out
        of range (as a *what*)."""
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise GroupsupError(f"{what} {bad} out of range 0..{len(self) - 1}")
        return arr

    def shared_attributes(self, i: int, k: int) -> tuple[str, ...]:
        """Names of the attributes examples *i* and *k* share (the labels of their edges)."""
        a, b = self.check_ids([i, k])
        same = (self.labels[a] == self.labels[b]) & (self.labels[a] >= 0)
        return tuple(n for n, s in zip(self.names, same) if s)

    def shared_mask(self, i: Any, k: Any) -> np.ndarray:
        """``(n, A)`` bool: which attributes the pairs ``(i[e], k[e])`` share (an unknown
        value is shared with nobody, not even another unknown one)."""
        first = self.labels[self.check_ids(i)]
        return (first == self.labels[self.check_ids(k)]) & (first >= 0)

    def find_rows(self, rows: Any) -> np.ndarray:
        """``(n, A)`` label codes -> ``(n,)`` int64 id of an example with exactly that row, or -1.

        E.g. the ground-truth image of a synthesised combination. A -1 in *rows* asks for an
        example whose value is unknown there.
        """
        if self.combination_index is None:
            raise GroupsupError("the label key space of this schema exceeds int64; rows cannot "
                                "be looked up")
        rows = self.schema.check_codes(np.asarray(rows).reshape(-1, self.num_attributes),
                                       where="rows", allow_missing=True)
        return self.combination_index.find(rows, self.unknown_slot)
