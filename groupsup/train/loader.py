"""GroupLoader: a strategy's index batches turned into image tensors, step by step.

The batch of step k on rank r is drawn with ``np.random.default_rng([seed, r, k])``: a run is
deterministic, every worker draws exactly what the main process would, and resuming needs
only the step number. With ``shards_per_rank = S > 1`` rank r draws S shards
``s = r, r + W, ..., r + (S - 1) W`` of ``groups_per_step / S`` groups each, shard s from
``default_rng([seed, s, k])``: one process with S shards draws the same global batch as S
processes with one shard each (so a distributed run can be compared with a single one).

With ``num_workers > 0`` a torch ``DataLoader`` runs the draws and the image loading in worker
processes; worker w produces the steps k with k - start = w (mod W), and the DataLoader hands
them back in step order.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from groupsup.errors import ConfigError, GroupsupError
from groupsup.groups import GroupBatch

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset
    from groupsup.graph.strategies import Strategy

Step = tuple[int, GroupBatch, torch.Tensor]


@dataclass(frozen=True)
class Shards:
    """How a step's *groups* (all processes together) split into *shards* over *world_size*
    processes: the one place of this arithmetic (the trainer's config check and the loader's
    draws both use it)."""

    groups: int
    shards: int
    world_size: int

    def problem(self) -> str | None:
        """What makes this split impossible, or ``None``."""
        if self.shards % self.world_size or self.groups % self.shards:
            return (f"{self.shards} shards must be a multiple of the process count "
                    f"({self.world_size}) and divide the {self.groups} groups per step")
        return None

    @property
    def groups_per_rank(self) -> int:
        return self.groups // self.world_size

    @property
    def shards_per_rank(self) -> int:
        return self.shards // self.world_size

    @property
    def groups_per_shard(self) -> int:
        return self.groups // self.shards

    def of_rank(self, rank: int) -> range:
        """The shards rank *rank* draws: ``rank, rank + W, ..., rank + (S - 1) W``."""
        return range(rank, rank + self.shards_per_rank * self.world_size, self.world_size)


class GroupLoader:
    """Iterate ``(step, GroupBatch, images)``; images float32 ``(M, C, H, W)`` in ``[-1, 1]``
    for the batch's ``examples (M,)``, on *device* when one is given.

    *groups_per_step* groups per step and rank, drawn in *shards_per_rank* shards; *steps*
    limits the iteration (default: no end), counted from *start_step*.
    """

    def __init__(self, dataset: GroupDataset, strategy: Strategy, groups_per_step: int,
                 seed: int, rank: int = 0, world_size: int = 1, start_step: int = 0,
                 num_workers: int = 0, device: str | torch.device | None = None,
                 steps: int | None = None, shards_per_rank: int = 1):
        checks = {"groups_per_step": (groups_per_step, 1), "seed": (seed, 0),
                  "shards_per_rank": (shards_per_rank, 1),
                  "world_size": (world_size, 1), "rank": (rank, 0),
                  "start_step": (start_step, 0), "num_workers": (num_workers, 0)}
        for key, (value, low) in checks.items():
            if int(value) != value or value < low:
                raise ConfigError(f"GroupLoader: {key} must be an integer >= {low}, got {value}")
        if rank >= world_size:
            raise ConfigError(f"GroupLoader: rank {rank} outside world_size {world_size}")
        self.shards = Shards(int(groups_per_step) * int(world_size),
                             int(shards_per_rank) * int(world_size), int(world_size))
        if self.shards.problem() is not None:
            raise ConfigError(f"GroupLoader: groups_per_step {groups_per_step} is not a "
                              f"multiple of shards_per_rank {shards_per_rank}")
        if steps is not None and steps < 0:
            raise ConfigError(f"GroupLoader: steps must be >= 0, got {steps}")
        self.dataset, self.strategy = dataset, strategy
        self.groups_per_step, self.seed = int(groups_per_step), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.start_step, self.steps = int(start_step), steps
        self.num_workers = int(num_workers)
        self.device = None if device is None else torch.device(device)

    def rng(self, step: int, shard: int | None = None) -> np.random.Generator:
        """The Generator of *step* for *shard* (default: this rank's first shard)."""
        return np.random.default_rng([self.seed, self.rank if shard is None else shard, step])

    def batch(self, step: int) -> GroupBatch:
        """The GroupBatch of *step* (no images)."""
        if self.shards.shards_per_rank == 1:
            return self.strategy.sample(self.groups_per_step, self.rng(step))
        size = self.shards.groups_per_shard
        return GroupBatch.concat([self.strategy.sample(size, self.rng(step, s))
                                  for s in self.shards.of_rank(self.rank)])

    def load(self, step: int) -> Step:
        """``(step, batch, images)`` for *step*, images on the CPU."""
        batch = self.batch(step)
        return step, batch, self.dataset.load(batch.examples)

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError("a GroupLoader without steps= has no length")
        return self.steps

    def step_range(self, worker: int = 0, workers: int = 1) -> Iterator[int]:
        """The steps worker *worker* of *workers* produces: start + worker, + workers, ..."""
        step = self.start_step + worker
        while self.steps is None or step < self.start_step + self.steps:
            yield step
            step += workers

    def __iter__(self) -> Iterator[Step]:
        pin = self.device is not None and self.device.type == "cuda"
        if self.num_workers == 0:
            source: Any = (self.load(step) for step in self.step_range())
        else:
            source = DataLoader(_Steps(self), batch_size=None, num_workers=self.num_workers,
                                pin_memory=pin, collate_fn=_as_is)
        for item in source:
            if isinstance(item, _Failure):
                raise item.error
            step, batch, images = item
            if self.device is not None:
                images = images.to(self.device, non_blocking=pin)
            yield step, batch, images


class _Steps(IterableDataset):
    """The steps of one DataLoader worker: k = start + w, start + w + W, ..."""

    def __init__(self, loader: GroupLoader):
        super().__init__()
        self.loader = loader

    def __iter__(self) -> Iterator[Step]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        for step in self.loader.step_range(worker, workers):
            try:
                item = self.loader.load(step)
            except GroupsupError as err:
                yield _Failure(err)
                return
            yield item


class _Failure:
    """A GroupsupError raised in a worker, handed back as an item in its step's place.

    Raised in the worker, the DataLoader would re-create it in the main process with the
    worker's traceback appended to its message; handed back, it is raised there unchanged.
    """

    def __init__(self, error: GroupsupError):
        try:  # it travels pickled; one that cannot make the trip travels as its message
            pickle.loads(pickle.dumps(error))
        except Exception:
            error = GroupsupError(str(error))
        self.error = error


def _as_is(item: Step) -> Step:
    """Collate function that keeps a step as it is (the GroupBatch holds numpy arrays)."""
    return item
