"""MultiGraph: a labelled dataset's multigraph, stored as one clique per (attribute, value).

Between examples i and k there is one edge labelled j for every attribute j they share. That
graph is the union of the cliques of examples holding each value, so it is stored as cliques:
per attribute, the example ids sorted by value plus CSR offsets (``4 * A`` bytes per example),
never edge by edge (Fonts: 1.4 M nodes, ~1e11 edges). Edge counts, degrees, neighbours and
every sampler are computed from the cliques.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from groupsup.errors import GroupsupError, LabelError, did_you_mean
from groupsup.graph import sampling
from groupsup.graph.admissibility import Admissibility, AttributeReport, partner_counts
from groupsup.graph.keys import (
    MAX_KEY_SPACE,
    CombinationIndex,
    PackedRows,
    index_dtype,
    key_space,
    row_keys,
    strides,
)
from groupsup.schema import UNKNOWN, Attribute, Schema

if TYPE_CHECKING:
    import networkx as nx

    from groupsup.data import GroupDataset


def _value_dtype(cardinality: int) -> type[np.integer]:
    # numpy sorts 8- and 16-bit integers with a stable radix sort: O(N) per attribute.
    if cardinality <= 1 << 8:
        return np.uint8
    return np.uint16 if cardinality <= 1 << 16 else np.int64


def _checked_columns(schema: type[Schema], labels: np.ndarray
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


class MultiGraph:
    """The multigraph of a :class:`~groupsup.GroupDataset` (or an ``(N, A)`` label matrix).

    Storage, per attribute j (``clique_ids[j]``, ``clique_offsets[j]``): example ids sorted by
    value, and offsets ``(K_j + 1,)`` so that the clique of value v is
    ``clique_ids[j][clique_offsets[j][v]:clique_offsets[j][v + 1]]`` (ids ascending).

    Attributes are named (``"letter"``) or given by position. Samplers take an explicit
    ``numpy.random.Generator`` and are vectorised over the batch. Besides the cliques the graph
    keeps each label row bit-packed (:class:`~groupsup.graph.keys.PackedRows`) and a label-row
    index (:class:`~groupsup.graph.keys.CombinationIndex`); exact-partner counts are computed on
    first use and cached.
    """

    def __init__(self, dataset_or_labels: GroupDataset | np.ndarray,
                 schema: type[Schema] | None = None):
        if hasattr(dataset_or_labels, "labels") and hasattr(dataset_or_labels, "schema"):
            schema = schema or dataset_or_labels.schema  # a GroupDataset, or alike
            labels = dataset_or_labels.labels
        else:
            labels = np.asarray(dataset_or_labels)
            schema = schema or labels_schema(labels)
        self.schema = schema
        self.labels, columns, self.unknown_slot = _checked_columns(schema, labels)
        self.names: tuple[str, ...] = schema.names
        self.cardinalities: tuple[int, ...] = schema.cardinalities
        # Unknown values sit in one extra slot per attribute that has them: it joins no
        # clique (slot_counts holds 0 there) and counts as "not shared" with every example.
        self.slot_cardinalities: tuple[int, ...] = tuple(
            k + (slot >= 0) for k, slot in zip(self.cardinalities, self.unknown_slot))
        idx = index_dtype(len(self.labels))
        ids, offsets, counts, slot_counts = [], [], [], []
        for column, k, slots in zip(columns, self.cardinalities, self.slot_cardinalities):
            count = np.bincount(column, minlength=slots).astype(np.int64)
            count[k:] = 0
            offset = np.zeros(k + 1, dtype=np.int64)
            np.cumsum(count[:k], out=offset[1:])
            # stable: ids ascending within each clique; unknown examples sort last, cut off
            ids.append(np.argsort(column, kind="stable")[:offset[-1]].astype(idx))
            counts.append(count[:k])
            slot_counts.append(count)
            offsets.append(offset)
        self.clique_ids: tuple[np.ndarray, ...] = tuple(ids)
        self.clique_offsets: tuple[np.ndarray, ...] = tuple(offsets)
        self.value_counts: tuple[np.ndarray, ...] = tuple(counts)
        self.slot_counts: tuple[np.ndarray, ...] = tuple(slot_counts)
        self.known_counts: tuple[int, ...] = tuple(int(o[-1]) for o in offsets)
        self.rows = PackedRows(columns, self.slot_cardinalities)
        self.combination_index: CombinationIndex | None = None
        if key_space(self.slot_cardinalities) < MAX_KEY_SPACE:
            keys = row_keys(columns, strides(self.slot_cardinalities))
            self.combination_index = CombinationIndex(keys, self.slot_cardinalities)

    @property
    def has_unknown(self) -> bool:
        """Whether some value is unknown (-1) in the labels."""
        return any(slot >= 0 for slot in self.unknown_slot)

    def coverage(self) -> dict[str, tuple[int, int]]:
        """Per attribute, ``(examples with a known value, all examples)``."""
        return {n: (k, len(self)) for n, k in zip(self.names, self.known_counts)}

    def __eq__(self, other: object) -> bool:
        """Same attributes, vocabularies and label matrix (unknown values included)."""
        if not isinstance(other, MultiGraph):
            return NotImplemented
        return (self.schema.same_as(other.schema) and self.labels.shape == other.labels.shape
                and bool((self.labels == other.labels).all()))

    __hash__ = None  # type: ignore[assignment]  # equal graphs are equal by value

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_attributes(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return (f"MultiGraph({len(self):,} nodes, {self.num_edges:,} edges over "
                f"{', '.join(self.names)})")

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

    # ------------------------------------------------------------------ queries
    def members(self, attribute: str | int, value_code: int) -> np.ndarray:
        """``(c,)`` int64 ids (ascending) of the examples whose *attribute* has *value_code*."""
        j = self.attribute_index(attribute)
        if not 0 <= value_code < self.cardinalities[j]:
            raise LabelError(f"attribute {self.names[j]!r}: value code {value_code} out of range "
                             f"0..{self.cardinalities[j] - 1}")
        lo, hi = self.clique_offsets[j][value_code], self.clique_offsets[j][value_code + 1]
        return self.clique_ids[j][lo:hi].astype(np.int64)

    def neighbours(self, i: int, attribute: str | int) -> np.ndarray:
        """``(d,)`` int64 ids of the examples other than *i* sharing *i*'s value of *attribute*
        (none when *i*'s value is unknown)."""
        j = self.attribute_index(attribute)
        i = int(self.check_ids(i)[0])
        if self.labels[i, j] < 0:
            return np.empty(0, dtype=np.int64)
        clique = self.members(j, int(self.labels[i, j]))
        return clique[clique != i]

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

    def _clique_sizes(self, j: int, codes: np.ndarray) -> np.ndarray:
        """Size of the j-clique of each code; 0 for an unknown value (-1)."""
        return np.where(codes >= 0, self.value_counts[j][np.maximum(codes, 0)], 0)

    def degree(self, i: Any) -> np.ndarray:
        """Edges per attribute: ``(A,)`` int64 for one example, ``(n, A)`` for an array."""
        ids = self.check_ids(i)
        out = np.stack([np.maximum(self._clique_sizes(j, self.labels[ids, j]) - 1, 0)
                        for j in range(self.num_attributes)], axis=1)
        return out[0] if np.ndim(i) == 0 else out

    def edge_counts(self) -> dict[str, int]:
        """Exact edges per attribute, ``sum over values of c * (c - 1) / 2``."""
        return {n: int((c * (c - 1) // 2).sum()) for n, c in zip(self.names, self.value_counts)}

    @property
    def num_edges(self) -> int:
        return sum(self.edge_counts().values())

    def find_rows(self, rows: Any) -> np.ndarray:
        """``(n, A)`` label codes -> ``(n,)`` int64 id of an example with exactly that row, or -1.

        E.g. the ground-truth image of a synthesised combination. A -1 in *rows* asks for an
        example whose value is unknown there.
        """
        index = self.combination_index
        if index is None:
            raise GroupsupError("the label key space of this schema exceeds int64; rows cannot "
                                "be looked up")
        rows = self.schema.check_codes(np.asarray(rows).reshape(-1, self.num_attributes),
                                       where="rows", allow_missing=True)
        slot = np.asarray(self.unknown_slot)
        possible = ((rows >= 0) | (slot >= 0)).all(axis=1)
        rows = np.where(rows >= 0, rows, np.maximum(slot, 0))
        start, count = index.lookup(row_keys(rows.T, index.stride))
        found = (count > 0) & possible
        return np.where(found, index.ids[np.where(found, start, 0)], -1).astype(np.int64)

    # ------------------------------------------------------------------ cached structures
    @cached_property
    def perturbation_tables(self) -> sampling.PerturbationTables | None:
        """Lookup tables of the perturbation sampler (None where the key space is too big)."""
        return sampling.perturbation_tables(self)

    @cached_property
    def partner_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """``(exact (A, N), no_overlap (N,))`` partner counts, computed once on first use."""
        return partner_counts(self.labels, self.cardinalities)  # -1 = unknown

    @cached_property
    def exact_everywhere(self) -> tuple[bool, ...]:
        """Per attribute: whether every example has an exact partner (samplers skip checks)."""
        return tuple(bool(c.min() > 0) if len(c) else True for c in self.partner_counts[0])

    def exact_partner_counts(self) -> np.ndarray:
        """``(N, A)``: how many exact (one-overlap) partners each example has per attribute."""
        return self.partner_counts[0].T

    def no_overlap_counts(self) -> np.ndarray:
        """``(N,)``: how many examples share no attribute with each example."""
        return self.partner_counts[1]

    def has_partner(self, attribute: str | int, exact: bool = True) -> np.ndarray:
        """``(N,)`` bool: which examples have an exact (or relaxed) partner for *attribute*
        (never those whose value of it is unknown)."""
        j = self.attribute_index(attribute)
        if exact:
            return self.partner_counts[0][j] > 0
        return self._clique_sizes(j, self.labels[:, j]) > 1

    def admissible_centres(self, exact: bool = True) -> np.ndarray:
        """``(n,)`` int64 ids of the examples with a partner for every attribute."""
        ok = np.ones(len(self), dtype=bool)
        for j in range(self.num_attributes):
            ok &= self.has_partner(j, exact)
        return np.flatnonzero(ok)

    def admissibility(self) -> Admissibility:
        """Per-attribute partner availability and whether the data is admissible (cached)."""
        return self._admissibility

    @cached_property
    def _admissibility(self) -> Admissibility:
        exact = self.partner_counts[0]
        edges = self.edge_counts()
        reports = []
        for j, (name, attr) in enumerate(zip(self.names, self.schema.attributes)):
            count = self.value_counts[j]
            reports.append(AttributeReport(
                name=name, values_present=int((count > 0).sum()), edges=edges[name],
                without_exact=int((exact[j] == 0).sum()),
                without_relaxed=int((self._clique_sizes(j, self.labels[:, j]) < 2).sum()),
                known=self.known_counts[j],
                singleton_values=tuple(attr.values[v] for v in np.flatnonzero(count == 1)),
                absent_values=tuple(attr.values[v] for v in np.flatnonzero(count == 0))))
        return Admissibility(
            size=len(self), attributes=tuple(reports),
            admissible_exact=len(self.admissible_centres(True)),
            admissible_relaxed=len(self.admissible_centres(False)),
            no_overlap_pairs=int(self.partner_counts[1].sum(dtype=np.int64) // 2))

    def nbytes(self) -> dict[str, int]:
        """Bytes held per component (cached structures only once built)."""
        out = {"cliques": sum(a.nbytes for a in (*self.clique_ids, *self.clique_offsets,
                                                 *self.value_counts)),
               "packed_rows": self.rows.nbytes,
               "labels": self.labels.nbytes}
        if self.combination_index is not None:
            out["combination_index"] = self.combination_index.nbytes
        if "partner_counts" in self.__dict__:
            out["partner_counts"] = sum(a.nbytes for a in self.partner_counts)
        return out

    # ------------------------------------------------------------------ sampling
    def partners(self, centres: Any, attribute: str | int, rng: np.random.Generator,
                 exact: bool = True) -> np.ndarray:
        """One partner per centre sharing *attribute*: ``(n,)`` int64 ids, -1 where none exists.

        ``exact``: the partner shares exactly that attribute and differs in every other one
        (one-overlap); otherwise it shares at least that one. Uniform over the valid partners
        of each centre, never the centre itself.
        """
        j = self.attribute_index(attribute)
        centres = self.check_ids(centres, "centre")
        sampling.check_rng(rng)
        draw = sampling.exact_partners if exact else sampling.relaxed_partners
        return sampling.in_blocks(len(centres), lambda a, b: draw(self, centres[a:b], j, rng))

    def random_edges(self, attribute: str | int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 2)`` int64: edges of *attribute* drawn uniformly (with replacement)."""
        sampling.check_rng(rng)
        return sampling.random_edges(self, self.attribute_index(attribute), n, rng)

    def no_overlap_pairs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 2)`` int64: pairs sharing no attribute, uniform over such ordered pairs."""
        sampling.check_rng(rng)
        return sampling.in_blocks(n, lambda a, b: sampling.no_overlap_pairs(self, b - a, rng))

    # ------------------------------------------------------------------ networkx
    def to_networkx(self, nodes: Any = None, max_edges: int = 2_000_000) -> nx.MultiGraph:
        """An explicit ``networkx.MultiGraph`` over *nodes* (default all): one edge per shared
        attribute, edge key = attribute name, node attributes = label values.

        Refuses (naming the edge count) when the subgraph has more than *max_edges* edges.
        """
        from groupsup.graph.export import to_networkx

        return to_networkx(self, nodes, max_edges)

    @classmethod
    def from_networkx(cls, graph: nx.Graph, schema: type[Schema] | None = None) -> MultiGraph:
        """The multigraph of a networkx graph of relations (nodes in ``graph.nodes`` order):
        per attribute, the connected components of its edges merged with the nodes' known
        values become its values (see :func:`groupsup.data.relations.networkx_labels`).
        ``MultiGraph.from_networkx(g.to_networkx()) == g``."""
        from groupsup.data.relations import networkx_labels

        _, codes, resolved = networkx_labels(graph, schema)
        return cls(codes, resolved)

    def value_cooccurrence_graph(self) -> nx.Graph:
        """``networkx.Graph`` over ``(attribute, value)`` nodes; edge weight = how many examples
        hold both values. Shows which combinations exist and how the data is connected."""
        from groupsup.graph.export import value_cooccurrence_graph

        return value_cooccurrence_graph(self)
