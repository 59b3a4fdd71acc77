"""Label-row representations: packed rows, row lookup, match counts over attribute subsets.

Vectorised building blocks of the multigraph:

- :class:`PackedRows` bit-packs each label row into one machine word (more only for very wide
  schemas), so a sampler reads a row with one random memory access and decodes attributes
  with shifts; Fonts rows take 23 bits, stored as 4 bytes per example.
- :class:`CombinationIndex` maps any label row (existing or not) to the examples that hold
  exactly that row, through a mixed-radix int64 key: a dense CSR table over the whole key space
  when it is small (Fonts: 1.56 M keys for 1.4 M examples), otherwise sorted unique keys and
  ``np.searchsorted``.
- :func:`match_counts` gives, for every example and a subset T of attributes, how many examples
  (itself included) agree with it on every attribute of T. Inclusion-exclusion over these counts
  yields exact-partner counts without ever enumerating edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Dense tables are used while the key space holds at most this many keys per example.
DENSE_KEYS_PER_EXAMPLE = 4
DENSE_MIN_KEYS = 1 << 16
# Mixed-radix keys must stay below this bound to be exact in int64.
MAX_KEY_SPACE = 1 << 62


class PackedRows:
    """``(N, A)`` codes packed into words: attribute j is ``(word[w_j] >> shift_j) & mask_j``.

    Words are uint32 when every field fits in 32 bits, else uint64; a field never straddles
    two words, so a schema needs more than one word only beyond 64 bits of codes.
    """

    def __init__(self, columns: Sequence[np.ndarray], cardinalities: Sequence[int]):
        bits = [max(1, (int(k) - 1).bit_length()) for k in cardinalities]
        width = 32 if sum(bits) <= 32 else 64
        self.word_dtype = np.dtype(np.uint32 if width == 32 else np.uint64)
        self.word, self.shift, self.mask = [], [], []
        used = [0]
        for b in bits:
            if used[-1] + b > width:
                used.append(0)
            self.word.append(len(used) - 1)
            self.shift.append(self.word_dtype.type(used[-1]))
            self.mask.append(self.word_dtype.type((1 << b) - 1))
            used[-1] += b
        n = len(columns[0]) if len(columns) else 0
        words = [np.zeros(n, dtype=self.word_dtype) for _ in used]
        for j, column in enumerate(columns):
            words[self.word[j]] |= column.astype(self.word_dtype) << self.shift[j]
        self.words: tuple[np.ndarray, ...] = tuple(words)

    @property
    def nbytes(self) -> int:
        return sum(w.nbytes for w in self.words)

    def take(self, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        """The packed words of examples *ids*: one ``(n,)`` array per word."""
        return tuple(w.take(ids) for w in self.words)

    def field(self, taken: tuple[np.ndarray, ...], j: int) -> np.ndarray:
        """``(n,)`` int64 codes of attribute j from words returned by :meth:`take`."""
        return ((taken[self.word[j]] >> self.shift[j]) & self.mask[j]).astype(np.int64)


def index_dtype(n: int) -> type[np.integer]:
    """The smallest signed integer type that holds every id (and count) of *n* examples."""
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def key_space(cardinalities: Sequence[int]) -> int:
    """Number of distinct mixed-radix keys (an exact Python int, possibly huge)."""
    space = 1
    for k in cardinalities:
        space *= int(k)
    return space


def strides(cardinalities: Sequence[int]) -> np.ndarray:
    """Mixed-radix strides ``(A,)`` (last attribute fastest); only valid below MAX_KEY_SPACE."""
    out = np.ones(len(cardinalities), dtype=np.int64)
    for j in range(len(cardinalities) - 2, -1, -1):
        out[j] = out[j + 1] * int(cardinalities[j + 1])
    return out


def row_keys(columns: Sequence[np.ndarray], stride: np.ndarray) -> np.ndarray:
    """Per-attribute code columns -> ``(N,)`` int64 keys ``sum_j columns[j] * stride[j]``."""
    key = columns[0].astype(np.int64) * stride[0]
    for j in range(1, len(columns)):
        key += columns[j].astype(np.int64) * stride[j]
    return key


class CombinationIndex:
    """Which examples hold a given label row: a CSR over mixed-radix row keys.

    ``lookup(keys)`` returns ``(start, count)`` into :attr:`ids` for each query key; a row that
    no example holds has count 0. :attr:`max_multiplicity` is the largest number of examples that
    share one label row (1 for a dataset without duplicate rows).
    """

    def __init__(self, keys: np.ndarray, cardinalities: Sequence[int]):
        n = len(keys)
        space = key_space(cardinalities)
        self.stride = strides(cardinalities)
        idx = index_dtype(n)
        self.dense = is_dense(space, n)
        if self.dense:
            counts = np.bincount(keys, minlength=space)
            self.keys = None
        else:
            order = np.argsort(keys, kind="stable")
            self.keys, counts = np.unique(keys[order], return_counts=True)
        self.max_multiplicity = int(counts.max()) if n else 0
        self.offsets = np.zeros(len(counts) + 1, dtype=idx)
        np.cumsum(counts, out=self.offsets[1:])
        if self.dense and self.max_multiplicity <= 1:
            # Unique rows: scatter ids straight to their slots, no sort needed.
            self.ids = np.empty(n, dtype=idx)
            self.ids[self.offsets[keys]] = np.arange(n, dtype=idx)
        elif self.dense:
            self.ids = np.argsort(keys, kind="stable").astype(idx)
        else:
            self.ids = order.astype(idx)

    @classmethod
    def of(cls, columns: Sequence[np.ndarray], cardinalities: Sequence[int]) -> CombinationIndex:
        """The index of the rows whose value columns are *columns*."""
        return cls(row_keys(columns, strides(cardinalities)), cardinalities)

    @property
    def nbytes(self) -> int:
        extra = 0 if self.keys is None else self.keys.nbytes
        return self.offsets.nbytes + self.ids.nbytes + extra

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n,)`` int64 keys -> ``(start, count)`` int64 arrays into :attr:`ids`."""
        if self.keys is None:
            start = self.offsets.take(keys).astype(np.int64)
            count = self.offsets.take(keys + 1) - start
            return start, count
        pos = np.searchsorted(self.keys, keys)
        np.minimum(pos, len(self.keys) - 1, out=pos)
        found = self.keys[pos] == keys
        start = self.offsets[pos].astype(np.int64)
        count = np.where(found, self.offsets[pos + 1] - start, 0)
        return start, count

    def find(self, rows: np.ndarray, unknown_slot: Sequence[int]) -> np.ndarray:
        """``(n, A)`` checked label codes -> ``(n,)`` int64 id of an example with exactly that
        row, or -1. A -1 in *rows* asks for an example whose value is unknown there (its
        attribute's slot in *unknown_slot*; an attribute without one has no such example)."""
        slot = np.asarray(unknown_slot)
        possible = ((rows >= 0) | (slot >= 0)).all(axis=1)
        rows = np.where(rows >= 0, rows, np.maximum(slot, 0))
        start, count = self.lookup(row_keys(rows.T, self.stride))
        found = (count > 0) & possible
        return np.where(found, self.ids[np.where(found, start, 0)], -1).astype(np.int64)


def is_dense(space: int, n: int) -> bool:
    """Whether a key space of *space* keys is small enough to tabulate for *n* examples."""
    return space <= max(DENSE_KEYS_PER_EXAMPLE * n, DENSE_MIN_KEYS)


def group_ids(columns: Sequence[np.ndarray], cardinalities: Sequence[int]
              ) -> tuple[np.ndarray, int]:
    """Number the distinct sub-rows formed by *columns*: ``(ids (N,), number of ids)``.

    Ids are mixed-radix keys when the key space is small enough to count densely; otherwise
    the keys are renumbered densely (``np.unique``), folding attribute by attribute when the
    key space would overflow int64.
    """
    n = len(columns[0])
    gid = np.zeros(n, dtype=np.int64)
    space = 1
    for column, k in zip(columns, cardinalities):
        if space * int(k) >= MAX_KEY_SPACE:
            uniq, gid = np.unique(gid, return_inverse=True)
            space = len(uniq)
        gid *= int(k)
        gid += column
        space *= int(k)
    if not is_dense(space, n):
        uniq, gid = np.unique(gid, return_inverse=True)
        space = len(uniq)
    return gid.reshape(-1), space


def match_counts(columns: Sequence[np.ndarray], cardinalities: Sequence[int]) -> np.ndarray:
    """``(N,)`` int64: how many examples agree with example i on every one of *columns*
    (i itself included)."""
    gid, space = group_ids(columns, cardinalities)
    return np.bincount(gid, minlength=space)[gid]
