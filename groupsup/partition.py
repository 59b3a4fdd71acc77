"""LatentPartition: named contiguous blocks of a latent code z.

The encoder's output z of width ``size`` is split, before training, into one block per
attribute. Everything here works on batches with index operations, never a Python loop over
samples, and is differentiable (gradients flow through every selected entry).

A partition may end with one *unlabelled* block (``free``): latent width for variation no
attribute names. It is a block like the others for split, swap and compose; :meth:`assemble`
takes its rows separately, since no attribute's provider supplies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

import torch

from groupsup.errors import PartitionError, did_you_mean

AttributeSelector = str | Sequence[str] | torch.Tensor


def _checked_blocks(blocks: Mapping[str, int] | Iterable[tuple[str, int]],
                    free: str | None) -> list[tuple[str, int]]:
    """``[(name, width), ...]`` of *blocks*, each name once, each width a positive int, the
    unlabelled block *free* (if any) last."""
    items = list(blocks.items() if isinstance(blocks, Mapping) else blocks)
    if not items:
        raise PartitionError("a latent partition needs at least one block")
    names = [name for name, _ in items]
    for name, width in items:
        if not isinstance(width, int) or isinstance(width, bool) or width <= 0:
            raise PartitionError(f"block {name!r}: width must be a positive int, got {width!r}")
        if names.count(name) > 1:
            raise PartitionError(f"block {name!r} appears more than once")
    if free is not None and names[-1] != free:
        raise PartitionError(f"the unlabelled block {free!r} must be the last block of the "
                             f"partition; blocks are {names}")
    return items


def _with_free_column(providers: torch.Tensor, free: torch.Tensor | None,
                      unlabelled: str | None) -> torch.Tensor:
    """``(K, A)`` *providers* of the attributes' blocks with the unlabelled block's column,
    *free* ``(K,)``, appended (*unlabelled*: that block's name, ``None`` without one)."""
    if unlabelled is None:
        raise PartitionError("free rows were given, but the partition has no unlabelled block")
    if free is None:
        raise PartitionError(f"the partition has an unlabelled block {unlabelled!r}: pass "
                             "free=(K,) rows to take it from (the target's own in training)")
    free = free.to(providers.device).long().reshape(-1, 1)
    if free.shape[0] != providers.shape[0]:
        raise PartitionError(f"free rows must have shape ({providers.shape[0]},), got "
                             f"{tuple(free.shape[:1])}")
    return torch.cat([providers, free], dim=1)


def _broadcast_rows(names: Sequence[str], codes: list[torch.Tensor]) -> list[torch.Tensor]:
    """The ``(B_i, size)`` *codes* of the blocks *names* expanded to one batch ``B``: each
    ``B_i`` must be 1 or ``B``, the largest."""
    batch = max(c.shape[0] for c in codes)
    for name, code in zip(names, codes):
        if code.shape[0] not in (1, batch):
            raise PartitionError(f"source for {name!r} has batch {code.shape[0]}, "
                                 f"expected 1 or {batch}")
    return [c.expand(batch, -1) for c in codes]


def _row_masks(block_ids: torch.Tensor, attributes: torch.Tensor, rows: int) -> torch.Tensor:
    """``(rows, size)`` bool: per row, the columns of the block whose index *attributes*
    ``(rows,)`` gives (*block_ids*: the block index of every column)."""
    if attributes.ndim != 1 or attributes.shape[0] != rows:
        raise PartitionError(f"per-row attribute indices must have shape ({rows},), "
                             f"got {tuple(attributes.shape)}")
    return block_ids.unsqueeze(0) == attributes.long().unsqueeze(1)


def _blocks_text(blocks: Iterable[tuple[str, int]]) -> str:
    return "{" + ", ".join(f"{n}: {s}" for n, s in blocks) + "}"


def _check_names(what: str, needed: Sequence[str], given: Iterable[str]) -> None:
    """Raise unless *given* names exactly the blocks *needed* (*what*: the operation)."""
    given = list(given)
    missing = [n for n in needed if n not in given]
    extra = [n for n in given if n not in needed]
    if missing or extra:
        raise PartitionError(f"{what} {list(needed)}; missing {missing}, unexpected {extra}")


class LatentPartition:
    """Named contiguous blocks ``[(name, width), ...]`` of a latent vector.

    >>> p = LatentPartition([("shape", 2), ("color", 3)])
    >>> p.size, p.slice("color")
    (5, slice(2, 5, None))

    *free* names the unlabelled block, which must be the last one (``None``: every block is
    an attribute's).
    """

    def __init__(self, blocks: Mapping[str, int] | Iterable[tuple[str, int]],
                 free: str | None = None):
        items = _checked_blocks(blocks, free)
        self._free = free
        self._names: tuple[str, ...] = tuple(name for name, _ in items)
        self._sizes: tuple[int, ...] = tuple(int(w) for _, w in items)
        self._offsets = (0, *accumulate(self._sizes))
        self._index = {name: i for i, name in enumerate(self._names)}
        # block_ids[d] = index of the block that dimension d belongs to; drives all gathers.
        self._block_ids = torch.repeat_interleave(torch.arange(len(self._sizes)),
                                                  torch.tensor(self._sizes))

    # ----------------------------------------------------------------- description
    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def free(self) -> str | None:
        """The name of the unlabelled block (always the last), or ``None``."""
        return self._free

    @property
    def labelled(self) -> tuple[str, ...]:
        """The names of the attributes' blocks, in order (every block but the unlabelled)."""
        return self._names[:-1] if self._free else self._names

    @property
    def sizes(self) -> tuple[int, ...]:
        return self._sizes

    @property
    def size(self) -> int:
        """Total width of z."""
        return self._offsets[-1]

    @property
    def starts(self) -> tuple[int, ...]:
        """The first column of every block in z."""
        return self._offsets[:-1]

    @property
    def block_ids(self) -> torch.Tensor:
        """``(size,)`` int64: the block index of every latent dimension."""
        return self._block_ids

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self):
        return iter(zip(self._names, self._sizes))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LatentPartition) and list(self) == list(other)
                and self.free == other.free)

    def __hash__(self) -> int:
        return hash((tuple(self), self._free))

    def __repr__(self) -> str:
        blocks = ", ".join(f"{n}={s}" + (" unlabelled" if n == self._free else "")
                           for n, s in self)
        return f"LatentPartition({blocks}; size={self.size})"

    def index(self, name: str) -> int:
        """Position of block *name*."""
        try:
            return self._index[name]
        except KeyError:
            raise PartitionError(f"no latent block named {name!r}"
                                 f"{did_you_mean(name, self._names)}; blocks are "
                                 f"{list(self._names)}") from None

    def slice(self, name: str) -> slice:
        """The columns of block *name* in z."""
        i = self.index(name)
        return slice(self._offsets[i], self._offsets[i + 1])

    def block_mask(self, attributes: str | Iterable[str]) -> torch.Tensor:
        """``(len(self),)`` bool: True at the positions of the named blocks."""
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        wanted = torch.zeros(len(self), dtype=torch.bool)
        for name in names:
            wanted[self.index(name)] = True
        return wanted

    def mask(self, attributes: str | Iterable[str]) -> torch.Tensor:
        """``(size,)`` bool: True on the columns of the named blocks."""
        return self.block_mask(attributes)[self._block_ids]

    # ----------------------------------------------------------------- operations
    def check(self, z: torch.Tensor, what: str = "z") -> None:
        """Raise :class:`PartitionError` unless *z* is ``(..., size)``."""
        if z.ndim < 1 or z.shape[-1] != self.size:
            raise PartitionError(f"{what} must have last dimension {self.size} (partition "
                                 f"{_blocks_text(self)}), got shape {tuple(z.shape)}")

    def split(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(..., size)`` -> ``{name: (..., width)}`` (views, in block order)."""
        self.check(z)
        return dict(zip(self._names, torch.split(z, self._sizes, dim=-1)))

    def join(self, blocks: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Inverse of :meth:`split`: ``{name: (..., width)}`` -> ``(..., size)``."""
        _check_names("join needs exactly the blocks", self._names, blocks)
        for name, width in self:
            if blocks[name].shape[-1] != width:
                raise PartitionError(f"block {name!r} must have width {width}, "
                                     f"got shape {tuple(blocks[name].shape)}")
        return torch.cat([blocks[n] for n in self._names], dim=-1)

    def _swap_mask(self, attributes: AttributeSelector, z: torch.Tensor) -> torch.Tensor:
        """Column mask ``(size,)`` for names, or ``(B, size)`` for per-row block indices."""
        if isinstance(attributes, torch.Tensor):
            return _row_masks(self._block_ids.to(z.device), attributes.to(z.device), len(z))
        return self.mask(attributes).to(z.device)

    def swap(
        self, z_a: torch.Tensor, z_b: torch.Tensor, attributes: AttributeSelector
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exchange the named blocks between two batches of codes.

        *attributes* is a block name, a list of names (same for every row), or a ``(B,)`` int
        tensor giving, per row, the index of the single block to exchange.
        Returns ``(z_a', z_b')``, each ``(B, size)``.
        """
        self.check(z_a, "z_a")
        self.check(z_b, "z_b")
        if z_a.shape != z_b.shape:
            raise PartitionError(f"swap needs codes of one shape, got {tuple(z_a.shape)} "
                                 f"and {tuple(z_b.shape)}")
        take = self._swap_mask(attributes, z_a)
        return torch.where(take, z_b, z_a), torch.where(take, z_a, z_b)

    def with_block(self, z: torch.Tensor, name: str, block: torch.Tensor) -> torch.Tensor:
        """*z* ``(B, size)`` with block *name*'s columns replaced by *block* ``(B, width)``
        (a new tensor; gradients flow to both)."""
        self.check(z)
        span = self.slice(name)
        return torch.cat([z[:, :span.start], block, z[:, span.stop:]], dim=1)

    def assemble(self, z: torch.Tensor, providers: torch.Tensor,
                 free: torch.Tensor | None = None) -> torch.Tensor:
        """Build new codes block by block from rows of *z*.

        ``z``: ``(M, size)``; ``providers``: ``(K, A)`` int, row of *z* supplying block j of
        output k, one column per attribute's block. With an unlabelled block, ``free`` ``(K,)``
        gives the row supplying it (in training, the target's own); ``providers`` may instead
        hold that column too. Returns ``(K, size)``. One gather, no loop: the cover and
        synthesis primitive.
        """
        self.check(z)
        labelled = len(self.labelled)
        if providers.ndim != 2 or providers.shape[1] not in (labelled, len(self)):
            raise PartitionError(f"providers must have shape (K, {labelled}), "
                                 f"got {tuple(providers.shape)}")
        providers = providers.to(z.device).long()
        if providers.shape[1] == len(self) and free is not None and self._free is not None:
            raise PartitionError(f"providers hold the unlabelled block {self._free!r}'s "
                                 "column already; do not pass free rows as well")
        if providers.shape[1] != len(self) or free is not None:
            providers = _with_free_column(providers, free, self._free)
        rows = providers[:, self._block_ids.to(z.device)]  # (K, size)
        cols = torch.arange(self.size, device=z.device).expand_as(rows)
        return z[rows, cols]

    def compose(self, sources: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Zero-shot recombination: block j of the result comes from ``sources[name_j]``.

        Every source is ``(B, size)`` or ``(size,)``; batches of 1 broadcast. Returns
        ``(B, size)``.
        """
        _check_names("compose needs a source for every block", self._names, sources)
        codes = [sources[name] for name in self._names]
        for name, code in zip(self._names, codes):
            self.check(code, f"source for {name!r}")
        codes = _broadcast_rows(self._names, [c.reshape(-1, self.size) for c in codes])
        return torch.cat([c[:, self.slice(n)] for n, c in zip(self._names, codes)], dim=-1)

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, int]:
        """``{block: width}`` in order (the unlabelled block, if any, last: see :attr:`free`)."""
        return dict(self)

    @classmethod
    def from_dict(cls, blocks: Mapping[str, int], free: str | None = None) -> LatentPartition:
        return cls(blocks, free=free)
