"""The training loop: optimiser steps, with everything else done by callbacks.

:func:`run_loop` draws the batches, runs the optimiser step and calls the callbacks
(:mod:`groupsup.train.callbacks`) around each step; when the loop ends, the last step is
checkpointed (unless it just was) before the callbacks' ``on_fit_end``. The trainer builds
the parts; callbacks see them as the typed fields of a :class:`Loop`: the config, the
:class:`~groupsup.train.state.TrainState` (model, optimiser, schedule, step), the
:class:`~groupsup.train.runtime.Runtime` (device, processes), the run's data and its
checkpoints, plus the run's clock, its stop reason and its last log record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from groupsup.errors import DataError
from groupsup.groups import GroupBatch
from groupsup.train.callbacks import Callback
from groupsup.train.checkpoint import Checkpoints
from groupsup.train.config import ExperimentConfig
from groupsup.train.runtime import Runtime
from groupsup.train.state import TrainState

if TYPE_CHECKING:
    from groupsup.data import GroupDataset
    from groupsup.graph.splits import Split
    from groupsup.model import SwapAutoencoder
    from groupsup.train.loader import Step
    from groupsup.train.resolve import Resolved


@dataclass
class RunResult:
    """What a finished (or stopped) run reports."""

    run_dir: Path
    step: int
    stopped: str  # "steps", "time_budget", "interrupted", "terminated", "until" or a callback's
    # reason
    checkpoint: Path | None
    last: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0


class Loop:
    """What callbacks see of a running :meth:`~groupsup.Trainer.fit`: the run's parts as
    fields (``config``, ``state``, ``runtime``, ``data``, ``checkpoints``, ``run_dir``,
    ``until``) and shortcuts to what callbacks use most: ``model``, ``dataset`` (the
    training examples: the training side of the split, if any), ``full_dataset`` (held-out
    examples included), ``split``, ``device``, ``is_main`` (rank 0, the process that writes the
    run's files) and ``world_size``, fixed for the run, and ``step`` and ``lr``, which move."""

    def __init__(self, config: ExperimentConfig, state: TrainState, runtime: Runtime,
                 data: Resolved, checkpoints: Checkpoints, run_dir: Path,
                 until: int | None = None) -> None:
        self.config, self.state, self.runtime = config, state, runtime
        self.data, self.checkpoints, self.run_dir = data, checkpoints, run_dir
        self.until = until
        self.model: SwapAutoencoder = state.model
        self.dataset: GroupDataset = data.train_dataset
        self.full_dataset: GroupDataset = data.dataset
        self.split: Split | None = data.split
        self.device: torch.device = runtime.device
        self.is_main: bool = runtime.is_main
        self.world_size: int = runtime.dist.world_size
        self.started = time.perf_counter()
        self.stopped: str | None = None
        self.last: dict[str, Any] = {}  # the latest metrics.jsonl record

    @property
    def step(self) -> int:
        """Optimiser steps done (those of earlier runs of a resumed run included)."""
        return self.state.step

    @property
    def lr(self) -> float:
        """The learning rate of the next step (the schedule's value after the last)."""
        return self.state.optimizer.param_groups[0]["lr"]

    def elapsed(self) -> float:
        """Seconds since this :meth:`~groupsup.Trainer.fit` started."""
        return time.perf_counter() - self.started

    def stop(self, reason: str) -> None:
        """Stop after the current step; the first reason given is the run's ``stopped``."""
        if self.stopped is None:
            self.stopped = reason

    def save(self) -> Path | None:
        """Checkpoint the current step (the folder; ``None`` on ranks other than 0)."""
        return self.checkpoints.save(self.state)

    def stop_on_data_error(self, err: DataError) -> DataError:
        """Checkpoint the steps done so far, then say which file stopped the run and how to go
        on (the steps since the last checkpoint would be lost otherwise)."""
        if self.step and not self.checkpoints.saved_at(self.step):
            self.save()
        last = self.checkpoints.last
        saved = (f"checkpoint {last} saved; fix the file and continue with "
                 f"--resume {self.run_dir}" if last else "no checkpoint written")
        return DataError(f"{err} (while loading step {self.step + 1}; {saved})")


def run_loop(loop: Loop, batches: Iterable[Step],
             train_step: Callable[[torch.Tensor, GroupBatch], dict[str, float]],
             callbacks: Sequence[Callback]) -> RunResult:
    """Run *train_step* on each of *batches* until they end or a callback stops the loop;
    return the run's result."""
    started: list[Callback] = []
    try:
        for callback in callbacks:
            started.append(callback)
            callback.on_fit_start(loop)
        try:
            for step, batch, images in batches:
                values = train_step(images.to(loop.device, non_blocking=True), batch)
                assert loop.step == step + 1
                for callback in callbacks:
                    callback.on_step_end(loop, values, batch)
                if loop.stopped is not None:
                    break
        except DataError as err:  # an image unreadable mid-run (changed after the check)
            raise loop.stop_on_data_error(err) from None
    finally:
        for callback in reversed(started):
            callback.close(loop)
    if not loop.checkpoints.saved_at(loop.step):  # the last step is always checkpointed
        loop.save()
    for callback in callbacks:
        callback.on_fit_end(loop)
    loop.runtime.stop()
    return RunResult(loop.run_dir, loop.step, loop.stopped or "steps", loop.checkpoints.last,
                     loop.last, loop.elapsed())
