"""GroupBatch: the examples of one step and the named relations a strategy declares among them.

One training step encodes ``examples`` in one encoder call; every relation then refers to rows
of that code matrix by *position* (an index into ``examples``), never by dataset id, so loss
terms share images and a strategy can mix structures freely.

Relations are open: a strategy may fill any kind it names (``"swap"``, ``"cover"``, ``"cycle"``
are the built-in ones, a plugin may add ``"triplet"``), and a loss term names the kinds it reads
(``LossTerm.requires``). A :class:`Relation` holds arrays of two sorts, which is all the core
needs to validate, shard and concatenate any kind without knowing it:

- ``positions``: rows index ``examples`` (shifted when batches are concatenated);
- ``attributes``: rows hold attribute indices ``0..A-1``.

Every array of a relation has the same first dimension, the relation's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.errors import GroupsupError


def _int64(array: Any) -> np.ndarray:
    return np.asarray(array, dtype=np.int64)


@dataclass(frozen=True)
class Relation:
    """Index arrays of one relation kind; each ``(n, ...)`` int64 with the same ``n``.

    ``positions`` fields index the batch's ``examples``; ``attributes`` fields hold attribute
    indices. Field names are the kind's own (``pairs``, ``target``, ``providers``...).
    """

    positions: Mapping[str, np.ndarray]
    attributes: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", {k: _int64(v) for k, v in self.positions.items()})
        object.__setattr__(self, "attributes",
                           {k: _int64(v) for k, v in self.attributes.items()})
        both = set(self.positions) & set(self.attributes)
        if both:
            raise GroupsupError(f"Relation fields {sorted(both)} are both positions and "
                                "attributes")
        if not self.positions:
            raise GroupsupError("a Relation needs at least one positions field")

    def __len__(self) -> int:
        return len(next(iter(self.positions.values())))

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.positions:
            return self.positions[name]
        if name in self.attributes:
            return self.attributes[name]
        raise GroupsupError(f"relation has no field {name!r}; fields are {self.fields}")

    @property
    def fields(self) -> list[str]:
        return [*self.positions, *self.attributes]

    def validate(self, kind: str, size: int, num_attributes: int) -> None:
        """Check lengths and ranges against a batch of *size* examples."""
        n = len(self)
        for group, arrays, bound in (("positions", self.positions, size),
                                     ("attributes", self.attributes, num_attributes)):
            for name, arr in arrays.items():
                if arr.ndim == 0 or len(arr) != n:
                    raise GroupsupError(f"GroupBatch relation {kind!r}: field {name!r} has "
                                        f"shape {arr.shape}, expected first dimension {n}")
                if arr.size and (arr.min() < 0 or arr.max() >= bound):
                    raise GroupsupError(f"GroupBatch relation {kind!r}: {group} field {name!r} "
                                        f"holds values outside 0..{bound - 1}")

    def shifted(self, offset: int) -> Relation:
        """The same relation with every position moved by *offset* (for concatenation)."""
        return Relation({k: v + offset for k, v in self.positions.items()}, self.attributes)

    @staticmethod
    def pairs(pairs: Any, attribute: Any) -> Relation:
        """Pairs ``(n, 2)`` of positions with one attribute index each ``(n,)``: the layout of
        the built-in ``swap`` and ``cycle`` kinds."""
        return Relation({"pairs": _int64(pairs).reshape(-1, 2)},
                        {"attribute": _int64(attribute).reshape(-1)})

    @staticmethod
    def cover(target: Any, providers: Any) -> Relation:
        """Cover targets ``(K,)`` and their providers ``(K, A)`` (provider j shares attribute j
        with the target): the built-in ``cover`` kind."""
        return Relation({"target": _int64(target).reshape(-1), "providers": _int64(providers)})


# The built-in kinds under the keyword names GroupBatch has always accepted and exposes:
# keyword -> (kind, field). Other kinds are passed in ``relations``.
_KEYWORDS: dict[str, tuple[str, str]] = {
    "swap_pairs": ("swap", "pairs"), "swap_attribute": ("swap", "attribute"),
    "cover_target": ("cover", "target"), "cover_providers": ("cover", "providers"),
    "cycle_pairs": ("cycle", "pairs"), "cycle_attribute": ("cycle", "attribute"),
}
_BUILD = {"swap": lambda f: Relation.pairs(f["pairs"], f["attribute"]),
          "cycle": lambda f: Relation.pairs(f["pairs"], f["attribute"]),
          "cover": lambda f: Relation.cover(f["target"], f["providers"])}


class GroupBatch:
    """The examples of one step and their relations.

    - ``examples`` ``(M,)``: dataset ids of every image in the step.
    - ``relations``: ``{kind: Relation}``. Built-in kinds: ``swap`` (``pairs (E, 2)`` sharing
      the value of ``attribute (E,)``: the one-overlap swap edges), ``cover`` (``target (K,)``,
      ``providers (K, A)``: provider j shares attribute j's value with the target) and ``cycle``
      (``pairs (P, 2)`` sharing no attribute, ``attribute (P,)`` the block to swap).
    - ``groups``: how many groups the batch holds (for throughput accounting).

    The built-in kinds may also be given and read under their keyword names
    (``swap_pairs``, ``swap_attribute``, ``cover_target``, ``cover_providers``, ``cycle_pairs``,
    ``cycle_attribute``); an absent kind reads as empty arrays.
    """

    __slots__ = ("examples", "groups", "relations")

    def __init__(self, examples: Any, relations: Mapping[str, Relation] | None = None,
                 groups: int = 0, **keywords: Any) -> None:
        unknown = sorted(set(keywords) - set(_KEYWORDS))
        if unknown:
            raise GroupsupError(f"GroupBatch: unknown field(s) {unknown}; pass other relation "
                                f"kinds in relations={{kind: Relation(...)}}")
        merged = dict(relations or {})
        by_kind: dict[str, dict[str, Any]] = {}
        for key, value in keywords.items():
            kind, name = _KEYWORDS[key]
            by_kind.setdefault(kind, {})[name] = value
        for kind, found in by_kind.items():
            if kind in merged:
                raise GroupsupError(f"GroupBatch: relation {kind!r} given twice")
            needed = [k for k, (c, _) in _KEYWORDS.items() if c == kind]
            missing = [k for k in needed if _KEYWORDS[k][1] not in found]
            if missing:
                raise GroupsupError(f"GroupBatch: {kind!r} needs {needed}, missing {missing}")
            if any(len(np.asarray(v)) for v in found.values()):
                merged[kind] = _BUILD[kind](found)
        object.__setattr__(self, "examples", _int64(examples).reshape(-1))
        object.__setattr__(self, "relations", merged)
        object.__setattr__(self, "groups", int(groups))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("GroupBatch is immutable")

    def __reduce__(self) -> tuple[Any, ...]:  # slots + immutability: pickle through __init__
        return (_rebuild, (self.examples, self.relations, self.groups))

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={len(r)}" for k, r in self.relations.items())
        return f"GroupBatch({len(self.examples)} examples, {self.groups} groups; {kinds})"

    def has(self, kind: str) -> bool:
        """Whether the batch holds a non-empty relation of *kind*."""
        return kind in self.relations and len(self.relations[kind]) > 0

    def relation(self, kind: str) -> Relation:
        """The relation of *kind*; raises :class:`GroupsupError` naming the kinds held."""
        if kind not in self.relations:
            raise GroupsupError(f"GroupBatch holds no {kind!r} relation; it holds "
                                f"{sorted(self.relations)}")
        return self.relations[kind]

    def _keyword(self, key: str, empty_shape: tuple[int, ...]) -> np.ndarray:
        kind, name = _KEYWORDS[key]
        if kind in self.relations:
            return self.relations[kind][name]
        return np.zeros(empty_shape, dtype=np.int64)

    swap_pairs = property(lambda self: self._keyword("swap_pairs", (0, 2)))
    swap_attribute = property(lambda self: self._keyword("swap_attribute", (0,)))
    cover_target = property(lambda self: self._keyword("cover_target", (0,)))
    cover_providers = property(lambda self: self._keyword("cover_providers", (0, 0)))
    cycle_pairs = property(lambda self: self._keyword("cycle_pairs", (0, 2)))
    cycle_attribute = property(lambda self: self._keyword("cycle_attribute", (0,)))

    def validate(self, num_attributes: int) -> GroupBatch:
        """Check every relation's shapes and ranges; raise :class:`GroupsupError` naming the
        relation and field at fault."""
        for kind, relation in self.relations.items():
            relation.validate(kind, len(self.examples), num_attributes)
        cover = self.relations.get("cover")
        if cover is not None and len(cover) and (cover["providers"].ndim != 2 or
                                                 cover["providers"].shape[1] != num_attributes):
            raise GroupsupError(f"GroupBatch relation 'cover': providers must have shape "
                                f"(K, {num_attributes}), got {cover['providers'].shape}")
        return self

    @staticmethod
    def concat(batches: Sequence[GroupBatch]) -> GroupBatch:
        """Stack batches: positions are shifted by the preceding batches' example counts."""
        if not batches:
            raise GroupsupError("GroupBatch.concat needs at least one batch")
        offsets = np.cumsum([0] + [len(b.examples) for b in batches[:-1]])
        kinds = list(dict.fromkeys(k for b in batches for k in b.relations))
        relations = {}
        for kind in kinds:
            parts = [b.relations[kind].shifted(int(o))
                     for b, o in zip(batches, offsets) if kind in b.relations]
            layout = {(tuple(p.positions), tuple(p.attributes)) for p in parts}
            if len(layout) > 1:
                raise GroupsupError(f"GroupBatch.concat: relation {kind!r} has different fields "
                                    f"in different batches: {sorted(layout)}")
            relations[kind] = Relation(
                {k: np.concatenate([p.positions[k] for p in parts]) for k in parts[0].positions},
                {k: np.concatenate([p.attributes[k] for p in parts])
                 for k in parts[0].attributes})
        return GroupBatch(np.concatenate([b.examples for b in batches]), relations,
                          groups=sum(b.groups for b in batches))


def _rebuild(examples: np.ndarray, relations: dict[str, Relation], groups: int) -> GroupBatch:
    return GroupBatch(examples, relations, groups=groups)
