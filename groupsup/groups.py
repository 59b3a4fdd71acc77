"""GroupBatch: the index structure a group strategy yields and the loss terms consume.

One training step encodes ``examples`` in one encoder call; every loss term then refers to rows
of that code matrix by *position* (an index into ``examples``), never by dataset id, so terms
share images and a strategy can mix structures freely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from groupsup.errors import GroupsupError


def _empty(cols: int | None = None) -> np.ndarray:
    return np.zeros((0,) if cols is None else (0, cols), dtype=np.int64)


@dataclass(frozen=True)
class GroupBatch:
    """Indices for one step; all arrays int64.

    - ``examples`` ``(M,)``: dataset ids of every image in the step.
    - ``swap_pairs`` ``(E, 2)`` positions, ``swap_attribute`` ``(E,)``: the two images of pair e
      share the value of attribute ``swap_attribute[e]`` (the one-overlap swap edges).
    - ``cover_target`` ``(K,)`` and ``cover_providers`` ``(K, A)`` positions: provider j shares
      attribute j's value with the target (the cover reconstruction).
    - ``cycle_pairs`` ``(P, 2)`` positions, ``cycle_attribute`` ``(P,)``: pairs sharing no
      attribute and the block to swap for the cycle loss.
    - ``groups``: how many groups the batch holds (for throughput accounting).
    """

    examples: np.ndarray
    swap_pairs: np.ndarray = field(default_factory=lambda: _empty(2))
    swap_attribute: np.ndarray = field(default_factory=_empty)
    cover_target: np.ndarray = field(default_factory=_empty)
    cover_providers: np.ndarray = field(default_factory=lambda: _empty(0))
    cycle_pairs: np.ndarray = field(default_factory=lambda: _empty(2))
    cycle_attribute: np.ndarray = field(default_factory=_empty)
    groups: int = 0

    def validate(self, num_attributes: int) -> GroupBatch:
        """Check shapes and ranges; raise :class:`GroupsupError` naming the bad field."""
        m = len(self.examples)

        def positions(name: str, arr: np.ndarray, shape_tail: tuple[int, ...]) -> None:
            if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
                raise GroupsupError(f"GroupBatch.{name} must have shape (n, "
                                    f"{', '.join(map(str, shape_tail))}), got {arr.shape}")
            if arr.size and (arr.min() < 0 or arr.max() >= m):
                raise GroupsupError(f"GroupBatch.{name} holds positions outside 0..{m - 1}")

        positions("swap_pairs", self.swap_pairs, (2,))
        positions("cycle_pairs", self.cycle_pairs, (2,))
        if len(self.cover_target):
            positions("cover_providers", self.cover_providers, (num_attributes,))
        for name, pairs, attrs in (("swap", self.swap_pairs, self.swap_attribute),
                                   ("cycle", self.cycle_pairs, self.cycle_attribute)):
            if len(attrs) != len(pairs):
                raise GroupsupError(f"GroupBatch.{name}_attribute has {len(attrs)} entries for "
                                    f"{len(pairs)} pairs")
            if attrs.size and (attrs.min() < 0 or attrs.max() >= num_attributes):
                raise GroupsupError(f"GroupBatch.{name}_attribute outside 0..{num_attributes - 1}")
        if len(self.cover_target) != len(self.cover_providers) and len(self.cover_target):
            raise GroupsupError("GroupBatch.cover_target and cover_providers differ in length")
        return self

    @staticmethod
    def concat(batches: Sequence[GroupBatch]) -> GroupBatch:
        """Stack batches: positions are shifted by the preceding batches' example counts."""
        if not batches:
            raise GroupsupError("GroupBatch.concat needs at least one batch")
        offsets = np.cumsum([0] + [len(b.examples) for b in batches[:-1]])
        position_fields = ("swap_pairs", "cover_target", "cover_providers", "cycle_pairs")
        merged = {}
        for f in fields(GroupBatch):
            if f.name == "groups":
                merged["groups"] = sum(b.groups for b in batches)
                continue
            parts = [getattr(b, f.name) + (o if f.name in position_fields else 0)
                     for b, o in zip(batches, offsets)]
            parts = [p for p in parts if p.size] or [getattr(batches[0], f.name)]
            merged[f.name] = np.concatenate(parts).astype(np.int64, copy=False)
        return GroupBatch(**merged)
