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

from groupsup.errors import LabelError
from groupsup.graph import sampling
from groupsup.graph.admissibility import Admissibility, admissibility_report, partner_counts
from groupsup.graph.cliques import build_cliques
from groupsup.graph.nodes import LabelledNodes, labels_schema, slot_columns
from groupsup.schema import Schema

if TYPE_CHECKING:
    import networkx as nx

    from groupsup.data import GroupDataset


class MultiGraph(LabelledNodes):
    """The multigraph of a :class:`~groupsup.GroupDataset` (or an ``(N, A)`` label matrix).

    Storage, per attribute j (``clique_ids[j]``, ``clique_offsets[j]``): example ids sorted by
    value, and offsets ``(K_j + 1,)`` so that the clique of value v is
    ``clique_ids[j][clique_offsets[j][v]:clique_offsets[j][v + 1]]`` (ids ascending).

    Attributes are named (``"letter"``) or given by position. Samplers take an explicit
    ``numpy.random.Generator`` and are vectorised over the batch. Besides the cliques the graph
    keeps, as its :class:`~groupsup.graph.nodes.LabelledNodes`, each label row bit-packed
    (:class:`~groupsup.graph.keys.PackedRows`) and a label-row index
    (:class:`~groupsup.graph.keys.CombinationIndex`); exact-partner counts are computed on
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
        labels, columns, unknown_slot = slot_columns(schema, labels)
        super().__init__(schema, labels, columns, unknown_slot)
        # the unknown slot joins no clique: slot_counts holds 0 there
        (self.clique_ids, self.clique_offsets, self.value_counts, self.slot_counts,
         self.known_counts) = build_cliques(columns, self.cardinalities, self.slot_cardinalities)

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

    def __repr__(self) -> str:
        return (f"MultiGraph({len(self):,} nodes, {self.num_edges:,} edges over "
                f"{', '.join(self.names)})")

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
        return admissibility_report(self)

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
