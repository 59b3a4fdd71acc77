"""Callbacks: everything the training loop does besides optimiser steps.

The loop (:mod:`groupsup.train.loop`) calls, for each callback in order,
``on_fit_start(loop)`` once, ``on_step_end(loop, values, batch)`` after every optimiser step,
``on_fit_end(loop)`` once when the loop ends (whatever stopped it; after the last step's
checkpoint), and
``close(loop)`` always, also when a step raised. A callback asks the loop to stop after the
current step with ``loop.stop(reason)``; the first reason given is the run's ``stopped``. It
reads the run through the loop's typed fields (``loop.state``, ``loop.model``,
``loop.dataset``, ``loop.runtime``, ``loop.checkpoints``, ...; :class:`~groupsup.Loop`).

The built-in callbacks, run in this order before the user's: :class:`LogMetrics`
(``metrics.jsonl``, TensorBoard, the progress bar or lines), :class:`SampleSheets` (sample
sheets and training curves), :class:`Checkpoints` and :class:`StopConditions` (time budget,
Ctrl-C, ``fit(until=...)``). Callbacks named in ``[[train.callbacks]]`` are looked up in the
callback registry (hook ``register_callbacks``) and built as ``Callback(Config(**options))``.
"""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from groupsup.groups import GroupBatch
from groupsup.train.curves import CURVES_FILE, plot_training_curves, read_log
from groupsup.train.progress import Progress, StopFlag, TensorBoard
from groupsup.train.samples import prune_samples, sample_sheet

if TYPE_CHECKING:
    from groupsup.train.loop import Loop


class NoOptions(BaseModel):
    """The options of a callback that takes none."""

    model_config = ConfigDict(extra="forbid")


class Callback:
    """Base class of training callbacks; override the methods you need.

    *config* is an instance of the class's ``Config`` (a pydantic model; ``[[train.callbacks]]``
    entries are validated against it), or ``None`` for its defaults.
    """

    Config: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = self.Config() if config is None else config

    def on_fit_start(self, loop: Loop) -> None:
        """Before the first step of :meth:`~groupsup.Trainer.fit` (``loop.step`` may be > 0
        when the run resumed)."""

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        """After optimiser step ``loop.step``; *values* are its process-averaged losses
        (``"loss"`` and one per term)."""

    def on_fit_end(self, loop: Loop) -> None:
        """After the last step, when the loop ended without an error."""

    def close(self, loop: Loop) -> None:
        """Always, last: release what the callback holds (files, bars, signal handlers)."""


class LogMetrics(Callback):
    """Every ``train.log_every`` steps (and at ``train.steps``): the window's mean losses,
    throughput, learning rate and time, appended to ``RUN/metrics.jsonl`` (rank 0), written to
    TensorBoard (``train.tensorboard``) and shown as progress (``train.progress``)."""

    def on_fit_start(self, loop: Loop) -> None:
        cfg, main = loop.config.train, loop.is_main
        self.progress = Progress(cfg.progress if main else "off", loop.config.name, cfg.steps,
                                 loop.step, cfg.time_budget)
        self.writer = TensorBoard(loop.run_dir) if cfg.tensorboard and main else None
        self.sums: dict[str, float] = defaultdict(float)
        self.count, self.groups, self.images = 0, 0, 0
        self.window_start = time.perf_counter()

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        cfg, world = loop.config.train, loop.world_size
        for k, v in values.items():
            self.sums[k] += v
        self.count += 1
        self.groups += batch.groups * world
        self.images += len(batch.examples) * world
        if loop.step % cfg.log_every == 0 or loop.step == cfg.steps:
            elapsed = time.perf_counter() - self.window_start
            record = {"step": loop.step, **{k: v / self.count for k, v in self.sums.items()},
                      "groups_per_s": self.groups / elapsed,
                      "images_per_s": self.images / elapsed,
                      "lr": loop.lr,
                      "time": loop.elapsed()}
            loop.last = record
            if loop.is_main:
                self._write(loop, record)
            self.progress.log(record, [k for k in values if k != "loss"],
                              self.count / elapsed)
            self.sums.clear()
            self.count, self.groups, self.images = 0, 0, 0
            self.window_start = time.perf_counter()
        self.progress.advance(loop.elapsed())

    def _write(self, loop: Loop, record: dict[str, Any]) -> None:
        with open(loop.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if k != "step":
                    self.writer.add_scalar(k, v, record["step"])

    def close(self, loop: Loop) -> None:
        self.progress.close()
        if self.writer is not None:
            self.writer.close()


class SampleSheets(Callback):
    """Rank 0, every ``train.sample_every`` steps and at the end: a sample sheet of eight
    fixed training examples (``RUN/samples``) and ``RUN/training_curves.png``."""

    def on_fit_start(self, loop: Loop) -> None:
        n = len(loop.dataset)
        self.fixed = np.random.default_rng(loop.config.seed).choice(n, size=min(8, n),
                                                                    replace=False)

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        if loop.is_main and loop.step % loop.config.train.sample_every == 0:
            self.write_sheet(loop)
            self.write_curves(loop)

    def on_fit_end(self, loop: Loop) -> None:
        if not loop.is_main:
            return
        if loop.step % loop.config.train.sample_every:
            self.write_sheet(loop)
        self.write_curves(loop)

    def write_sheet(self, loop: Loop) -> Path:
        """``RUN/samples/step-NNNNNN.png``: originals, reconstructions and block swaps of the
        fixed examples at the current step; the newest ``train.keep_samples`` are kept."""
        images = loop.dataset.load(self.fixed).to(loop.device)
        path = loop.run_dir / "samples" / f"step-{loop.step:06d}.png"
        sample_sheet(loop.model, images, path)
        prune_samples(path.parent, loop.config.train.keep_samples)
        return path

    @staticmethod
    def write_curves(loop: Loop) -> Path | None:
        """``RUN/training_curves.png``: the total loss and each term against the step, from
        ``metrics.jsonl`` (``None`` before the first log line)."""
        return plot_training_curves(read_log(loop.run_dir), loop.run_dir / CURVES_FILE)


class Checkpoints(Callback):
    """A checkpoint every ``train.checkpoint_every`` steps (the loop itself checkpoints the
    last step)."""

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        if loop.step % loop.config.train.checkpoint_every == 0:
            loop.save()


class StopConditions(Callback):
    """Stops after the step that reaches ``train.time_budget`` seconds ("time_budget"), after a
    first Ctrl-C ("interrupted") or SIGTERM ("terminated"; a second signal aborts), or at
    ``fit(until=...)`` ("until"). The stop saves a checkpoint, as every stop does."""

    def on_fit_start(self, loop: Loop) -> None:
        self.flag = StopFlag().__enter__()

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        budget = loop.config.train.time_budget
        if budget and loop.elapsed() >= budget:
            loop.stop("time_budget")
        if self.flag.requested:
            loop.stop("interrupted" if self.flag.signal == signal.SIGINT else "terminated")
        if loop.until is not None and loop.step >= loop.until:
            loop.stop("until")

    def close(self, loop: Loop) -> None:
        self.flag.__exit__(None, None, None)


def builtin_callbacks() -> list[Callback]:
    """Fresh instances of the built-in callbacks, in the order the loop runs them."""
    return [LogMetrics(), SampleSheets(), Checkpoints(), StopConditions()]
