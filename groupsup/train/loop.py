"""The training loop: optimiser steps, with everything else done by callbacks.

:func:`run_loop` draws the trainer's batches, runs :meth:`~groupsup.Trainer.train_step` and
calls the callbacks (:mod:`groupsup.train.callbacks`) around each step; when the loop ends,
the last step is checkpointed (unless it just was) before the callbacks' ``on_fit_end``. The
trainer (the
builder) owns the model, the optimiser and the checkpoints; the loop owns only the run's
clock, its stop reason and its last log record, shown to callbacks as a :class:`Loop`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groupsup.errors import DataError
from groupsup.train.callbacks import Callback
from groupsup.train.config import ExperimentConfig
from groupsup.train.distributed import shutdown

if TYPE_CHECKING:
    from groupsup.train.trainer import Trainer


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
    """What callbacks see of a running :meth:`~groupsup.Trainer.fit`."""

    def __init__(self, trainer: Trainer, until: int | None) -> None:
        self.trainer = trainer
        self.until = until
        self.started = time.perf_counter()
        self.stopped: str | None = None
        self.last: dict[str, Any] = {}  # the latest metrics.jsonl record

    @property
    def config(self) -> ExperimentConfig:
        return self.trainer.config

    @property
    def step(self) -> int:
        """Optimiser steps done (those of earlier runs of a resumed run included)."""
        return self.trainer.step

    @property
    def run_dir(self) -> Path:
        return self.trainer.run_dir

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the process that writes the run's files)."""
        return self.trainer.dist.is_main

    def elapsed(self) -> float:
        """Seconds since this :meth:`~groupsup.Trainer.fit` started."""
        return time.perf_counter() - self.started

    def stop(self, reason: str) -> None:
        """Stop after the current step; the first reason given is the run's ``stopped``."""
        if self.stopped is None:
            self.stopped = reason


def run_loop(trainer: Trainer, callbacks: Sequence[Callback], until: int | None = None
             ) -> RunResult:
    """Train until ``train.steps`` or a callback stops the loop; return the run's result."""
    loop = Loop(trainer, until)
    started: list[Callback] = []
    try:
        for callback in callbacks:
            started.append(callback)
            callback.on_fit_start(loop)
        try:
            for step, batch, images in trainer.loader():
                values = trainer.train_step(images.to(trainer.device, non_blocking=True), batch)
                assert trainer.step == step + 1
                for callback in callbacks:
                    callback.on_step_end(loop, values, batch)
                if loop.stopped is not None:
                    break
        except DataError as err:  # an image unreadable mid-run (changed after the check)
            raise trainer.stop_on_data_error(err) from None
    finally:
        for callback in reversed(started):
            callback.close(loop)
    if not trainer.saved_at_step():  # the last step is always checkpointed, before on_fit_end
        trainer.save()
    for callback in callbacks:
        callback.on_fit_end(loop)
    shutdown(trainer.dist)
    return RunResult(trainer.run_dir, trainer.step, loop.stopped or "steps",
                     trainer.last_checkpoint, loop.last, loop.elapsed())
