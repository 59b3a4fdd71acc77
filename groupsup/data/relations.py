"""Labels from "same-as" relations: equivalence classes per attribute, vectorised.

A relation ``(a, b, attribute)`` says that examples a and b share that attribute's value
without naming it ("these two photos show the same person"). Per attribute, the classes are
the connected components of its relation edges, merged with the values known for some
examples; each class becomes one value of the attribute:

- a class holding a known value takes that value; two different known values joined by
  relations are a contradiction (a :class:`~groupsup.errors.LabelError` naming an example of
  each);
- a class of two or more examples without a known value gets a new value ``class-0001``,
  ``class-0002``, ... numbered by the class's smallest example id (appended after the known
  and declared values);
- an example without a known value and without relations stays unknown (-1).

Components come from a union-find on whole edge arrays (hooking the larger root onto the
smaller with ``np.minimum.at``, then pointer jumping), never a Python loop over edges; memory
beyond the edge arrays is one id per example plus fixed-size chunk buffers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from groupsup.attribute import Attribute
from groupsup.errors import LabelError, did_you_mean
from groupsup.schema import UNKNOWN, Schema, _sorted_values

CHUNK = 1 << 20  # edges per vectorised pass: temporaries stay bounded
CLASS_PREFIX = "class-"

Edges = tuple[Any, Any]


def components(n: int, edges: Sequence[Edges], chunk: int = CHUNK) -> np.ndarray:
    """``(n,)`` component label of each node: the smallest node id of its component.

    *edges*: ``(a, b)`` pairs of integer id arrays (several lists, e.g. relation edges and
    value edges, without concatenating them). Rounds hook each edge's larger root onto the
    smaller one, then compress paths until every node points at its root; they stop when no
    edge joins two roots. Every step only lowers a parent, so it ends, and at the end each
    component's root is its smallest id.
    """
    dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
    parent = np.arange(n, dtype=dtype)
    scratch = np.empty_like(parent)
    while True:
        changed = False
        for a, b in edges:
            for start in range(0, len(a), chunk):
                pa = parent.take(a[start:start + chunk])
                pb = parent.take(b[start:start + chunk])
                lo = np.minimum(pa, pb)
                np.maximum(pa, pb, out=pb)
                moved = lo != pb
                if moved.any():
                    np.minimum.at(parent, pb[moved], lo[moved])
                    changed = True
        if not changed:
            return parent
        while True:  # pointer jumping: parent <- parent[parent] until stable
            np.take(parent, parent, out=scratch)
            if np.array_equal(scratch, parent):
                break
            parent, scratch = scratch, parent


def _edge_arrays(a: Any, b: Any, n: int, attribute: str) -> Edges:
    a = np.asarray(a).reshape(-1)
    b = np.asarray(b).reshape(-1)
    if a.shape != b.shape:
        raise LabelError(f"relations of {attribute!r}: {len(a)} first ends but {len(b)} second "
                         "ends")
    for ends in (a, b):
        if ends.size and not np.issubdtype(ends.dtype, np.integer):
            raise LabelError(f"relations of {attribute!r}: example ids must be integers, got "
                             f"{ends.dtype}")
        if ends.size and (ends.min() < 0 or ends.max() >= n):
            bad = int(ends[(ends < 0) | (ends >= n)][0])
            raise LabelError(f"relations of {attribute!r}: example id {bad} out of range "
                             f"0..{n - 1}")
    return a, b


def class_names(count: int, taken: Sequence[Any]) -> list[str]:
    """*count* new value names ``class-0001, ...`` (4 digits at least), skipping any in
    *taken*."""
    width = max(4, len(str(count)))
    taken_set = set(taken)
    out: list[str] = []
    k = 1
    while len(out) < count:
        name = f"{CLASS_PREFIX}{k:0{width}d}"
        if name not in taken_set:
            out.append(name)
        k += 1
    return out


def resolve_relations(schema: type[Schema], n: int, relations: Mapping[str, Edges],
                      records: Any = None, names: Sequence[Any] | None = None
                      ) -> tuple[np.ndarray, type[Schema]]:
    """Label codes ``(n, A)`` (-1 = unknown) and the resolved schema from relations and the
    known values.

    *relations*: attribute name -> ``(a, b)`` arrays of example ids (0..n-1), one edge per
    entry. *records*: the known values, as :meth:`Schema.encode` takes them (a missing key,
    None, NaN, ``""`` or the attribute's ``missing`` token is unknown), or None for none.
    *names*: how errors name example i (default its id). Declared vocabularies are kept;
    discovered ones are the sorted known values; values of unnamed classes follow them.
    """
    for attribute in relations:
        if attribute not in schema.names:
            raise LabelError(f"relations name attribute {attribute!r}, not in schema "
                             f"{schema.__name__}{did_you_mean(str(attribute), schema.names)}; "
                             f"attributes are {list(schema.names)}")
    columns = _known_columns(schema, n, records)
    codes = np.full((n, len(schema)), UNKNOWN, dtype=np.int64)
    vocabularies: dict[str, tuple[Any, ...]] = {}
    for j, attr in enumerate(schema.attributes):
        column = columns[attr.name]
        known = [v for v in column if not attr.is_missing(v)] if column is not None else []
        vocab = tuple(attr.values) if attr.values is not None else _sorted_values(known)
        if column is not None:
            codes[:, j] = _encode_column(attr, vocab, column, names)
        if attr.name in relations:
            a, b = _edge_arrays(*relations[attr.name], n, attr.name)
            codes[:, j], extra = _classes(attr.name, vocab, codes[:, j], a, b, names)
            vocab = vocab + tuple(extra)
        if not vocab:
            raise LabelError(f"attribute {attr.name!r}: no known value and no relations to "
                             "find its values from")
        vocabularies[attr.name] = vocab
    return codes, schema.with_values(**vocabularies)


def _known_columns(schema: type[Schema], n: int, records: Any) -> dict[str, list[Any] | None]:
    """``{name: values or None}`` from records (dict rows may omit attributes)."""
    if records is None:
        return {name: None for name in schema.names}
    if isinstance(records, Mapping):
        cols = {name: list(records[name]) if name in records else None for name in schema.names}
    else:
        rows = list(records)
        cols = {name: [row.get(name) if isinstance(row, Mapping) else None for row in rows]
                for name in schema.names}
    for name, column in cols.items():
        if column is not None and len(column) != n:
            raise LabelError(f"attribute {name!r}: {len(column)} known values for {n} examples")
    return cols


def _encode_column(attr: Any, vocab: tuple[Any, ...], column: list[Any],
                   names: Sequence[Any] | None) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(vocab)}
    out = np.full(len(column), UNKNOWN, dtype=np.int64)
    for i, v in enumerate(column):  # known values come from Python objects: one pass
        v = v.item() if isinstance(v, np.generic) else v
        if attr.is_missing(v):
            continue
        try:
            out[i] = lookup[v]
        except (KeyError, TypeError):
            who = names[i] if names is not None else i
            raise LabelError(f"attribute {attr.name!r}: value {v!r} of example {who!r} is not "
                             f"in its vocabulary{did_you_mean(str(v), map(str, vocab))}") from None
    return out


def _classes(attribute: str, vocab: tuple[Any, ...], known: np.ndarray, a: np.ndarray,
             b: np.ndarray, names: Sequence[Any] | None) -> tuple[np.ndarray, list[str]]:
    """One attribute's codes after merging relation edges ``(a, b)`` with *known* codes, and
    the names of the new (unnamed) classes in code order."""
    n, k = len(known), len(vocab)
    has = np.flatnonzero(known >= 0)
    # A node per value (n + code) joins every example known to hold it.
    label = components(n + k, [(a, b), (has, n + known[has])])
    value_of = np.full(n + k, UNKNOWN, dtype=np.int64)
    roots = label[n:]
    used = np.unique(known[has])
    order = np.argsort(roots[used], kind="stable")
    sorted_roots = roots[used][order]
    clash = np.flatnonzero(sorted_roots[1:] == sorted_roots[:-1])
    if clash.size:
        v1, v2 = (int(used[order[clash[0] + d]]) for d in (0, 1))
        e1 = int(has[np.flatnonzero(known[has] == v1)[0]])
        e2 = int(has[np.flatnonzero(known[has] == v2)[0]])
        n1, n2 = (names[e] if names is not None else e for e in (e1, e2))
        raise LabelError(f"attribute {attribute!r}: relations join example {n1!r} "
                         f"({attribute}={vocab[v1]!r}) and example {n2!r} "
                         f"({attribute}={vocab[v2]!r}) into one class, but their known values "
                         "differ")
    value_of[roots[used]] = used
    codes = value_of[label[:n]]
    size = np.bincount(label[:n], minlength=n + k)
    unnamed = (codes < 0) & (size[label[:n]] >= 2)
    # Roots are the classes' smallest ids: numbering the roots in order numbers the classes
    # by their smallest member.
    new_roots = np.unique(label[:n][unnamed])
    value_of[new_roots] = k + np.arange(len(new_roots))
    codes = value_of[label[:n]]
    return codes, class_names(len(new_roots), vocab)


SCHEMA_KEY = "groupsup_schema"
"""``G.graph[SCHEMA_KEY]``: the schema as JSON text, written by ``MultiGraph.to_networkx``."""


def networkx_labels(graph: Any, schema: type[Schema] | None = None
                    ) -> tuple[list[Any], np.ndarray, type[Schema]]:
    """``(nodes, codes (N, A), schema)`` from a networkx graph of relations.

    Nodes are examples, in ``graph.nodes`` order; a node attribute named like a schema
    attribute is a known value. An edge says its ends share one attribute's value: in a
    (Multi)Graph its key (``MultiGraph``) or its ``attribute`` data names the attribute. Without
    *schema*: ``graph.graph["groupsup_schema"]`` (JSON) when present, else one attribute per
    edge key and node attribute name (sorted), ``latent=1``, values discovered.
    """
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    ends: dict[str, tuple[list[int], list[int]]] = {}
    for u, v, key, data in _edges(graph):
        attribute = key if key is not None else data.get("attribute")
        if attribute is None:
            raise LabelError(f"edge ({u!r}, {v!r}) names no attribute: use an nx.MultiGraph "
                             "with the attribute as edge key, or edge data attribute=...")
        first, second = ends.setdefault(str(attribute), ([], []))
        first.append(index[u])
        second.append(index[v])
    if schema is None:
        schema = _schema_of(graph, ends)
    records = [{name: data[name] for name in schema.names if name in data}
               for _, data in graph.nodes(data=True)]
    relations = {name: (np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
                 for name, (a, b) in ends.items()}
    codes, resolved = resolve_relations(schema, len(nodes), relations, records, names=nodes)
    return nodes, codes, resolved


def _edges(graph: Any) -> Any:
    if graph.is_multigraph():
        return graph.edges(keys=True, data=True)
    return ((u, v, None, d) for u, v, d in graph.edges(data=True))


def _schema_of(graph: Any, ends: Mapping[str, Any]) -> type[Schema]:
    stored = graph.graph.get(SCHEMA_KEY)
    if stored is not None:
        return Schema.from_json(stored)
    names = set(ends)
    for _, data in graph.nodes(data=True):
        names.update(data)
    if not names:
        raise LabelError("the graph has no edge keys and no node attributes: nothing to "
                         "label its nodes with")
    return Schema.define("Relations", [Attribute(name=str(n), latent=1) for n in sorted(names)])
