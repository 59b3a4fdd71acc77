"""The trainer: builds what a config names and runs the loop (:mod:`groupsup.train.loop`)
with its callbacks (:mod:`groupsup.train.callbacks`).

Building is :func:`~groupsup.train.resolve.resolve` (dataset, split, graph, strategy, model,
loss recipe, callbacks, with provenance) followed by what training adds on top, each a part
of its own: the :class:`~groupsup.train.runtime.Runtime` (device, process group, threads,
AMP), the :class:`~groupsup.train.rundir.RunDirectory` (claimed and locked), the
:class:`~groupsup.train.state.TrainState` (model, terms, optimiser, schedule, scaler, step),
its :class:`~groupsup.train.checkpoint.Checkpoints`, and a resumed checkpoint.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from groupsup.data import GroupDataset
from groupsup.data.check import check_images, user_cache_dir
from groupsup.errors import ConfigError, GroupsWarning
from groupsup.graph.splits import Split
from groupsup.groups import GroupBatch
from groupsup.machine import machine
from groupsup.model import SwapAutoencoder
from groupsup.registry import Registries
from groupsup.train.callbacks import Callback, builtin_callbacks
from groupsup.train.checkpoint import Checkpoints
from groupsup.train.config import ExperimentConfig
from groupsup.train.loader import GroupLoader
from groupsup.train.loop import Loop, RunResult, run_loop
from groupsup.train.preflight import check_step_size
from groupsup.train.resolve import Resolved, resolve
from groupsup.train.resume import resume_run
from groupsup.train.rundir import RunDirectory
from groupsup.train.runtime import Runtime
from groupsup.train.state import NonFiniteLossError, TrainState
from groupsup.version import __version__

__all__ = ["NonFiniteLossError", "RunResult", "Trainer"]


class Trainer:
    """Builds everything a config names and runs the loop.

    Pass ``dataset`` / ``model`` to train objects built in Python instead of looking the
    dataset and backbone up in the registries (``groupsup.train`` does this), and ``split``
    to use a :class:`Split` of that dataset instead of the config's; or pass *resolved*,
    what :func:`~groupsup.resolve` built from this *config*. *registries* are where
    every name is looked up (default: the plugin host's, with the config's
    ``disable_plugins`` applied). *callbacks* run after the built-in ones and after those the
    config's ``[[train.callbacks]]`` names (:mod:`groupsup.train.callbacks`).

    The run directory is locked (``RUN/run.lock``) from construction to the end of
    :meth:`fit`, so no other process trains into it meanwhile. A new run refuses a directory
    that holds a previous run's files unless ``overwrite=True``, which deletes them.
    """

    def __init__(self, config: ExperimentConfig, *, dataset: GroupDataset | None = None,
                 model: SwapAutoencoder | None = None, resume: str | Path | None = None,
                 split: Split | None = None, overwrite: bool = False,
                 registries: Registries | None = None, resolved: Resolved | None = None,
                 callbacks: Sequence[Callback] = ()):
        self.config = config
        self.run_dir = RunDirectory(resume if resume is not None else config.train.out)
        self.image_check = None
        try:
            self.runtime = Runtime.start(config.train)
            self.run_dir.claim(resume is not None, overwrite, self.runtime)
            self.resolved = self._resolve(registries, resolved,
                                          {"dataset": dataset, "model": model, "split": split})
            self._build(resume is not None)
        except BaseException:
            self.run_dir.release()
            raise
        self.callbacks: list[Callback] = [*self.resolved.callbacks, *callbacks]

    def _resolve(self, registries: Registries | None, resolved: Resolved | None,
                 given: dict[str, Any]) -> Resolved:
        if resolved is None:
            return resolve(self.config, registries, **given, check=self._check_images)
        if resolved.config is not self.config:
            raise ConfigError("Trainer(config, resolved=...): resolved was built from another "
                              "config; pass resolve(config)")
        self._check_images(resolved.dataset)
        return resolved

    def _build(self, resuming: bool) -> None:
        r, cfg = self.resolved, self.config
        check_step_size(cfg.train.groups_per_step, r.train_dataset, r.strategy)
        self.report = r.strategy.report()
        if self.report is not None and self.runtime.is_main:
            for message in self.report.warnings():
                warnings.warn(message, GroupsWarning, stacklevel=2)
        self.state = TrainState(r.model, r.recipe, cfg, self.runtime)
        self.checkpoints = Checkpoints(self.run_dir.path, cfg.train.keep_checkpoints,
                                       self._meta, self.runtime.dist)
        if resuming:
            resume_run(self.run_dir, cfg, self.state, self.checkpoints)

    def _meta(self) -> dict[str, Any]:
        """What each checkpoint records of the run besides its step."""
        return {"groupsup_version": __version__, "config": self.config.to_dict(),
                "schema": self.state.model.schema.to_dict(), "plugins": self.resolved.provenance,
                "world_size": self.runtime.dist.world_size, "machine": machine()}

    def _check_images(self, dataset: GroupDataset) -> None:
        """Every bad image listed before training, not when first sampled; good ones cached
        in the user's cache directory (in the run directory where that is not writable)."""
        if self.config.train.check_images:
            self.image_check = check_images(dataset,
                                            cache_dirs=[user_cache_dir(), self.run_dir.path])

    def close(self) -> None:
        """Release the run directory (:meth:`fit` does this when it returns)."""
        self.run_dir.release()

    def loader(self) -> GroupLoader:
        """This process's batches, from the step after the state's."""
        cfg, shards, rank = self.config.train, self.runtime.shards, self.runtime.dist.rank
        return GroupLoader(self.resolved.train_dataset, self.resolved.strategy,
                           shards.groups_per_rank, self.config.seed, rank=rank,
                           world_size=shards.world_size, shards_per_rank=shards.shards_per_rank,
                           start_step=self.state.step, steps=max(0, cfg.steps - self.state.step),
                           num_workers=cfg.num_workers, device=self.runtime.device)

    def train_step(self, images: torch.Tensor, batch: GroupBatch) -> dict[str, float]:
        """One optimiser step; returns the (process-averaged) loss values."""
        labels = self.resolved.train_dataset.labels[batch.examples]
        return self.state.train_step(images, batch, labels, self.checkpoints.last)

    def run_files(self) -> dict[str, Any]:
        """The files that describe the run: config, schema, the strategy's report, split."""
        r = self.resolved
        return {"config.json": self.config.to_dict(), "schema.json": r.model.schema.to_json(),
                **({"partners.json": self.report.to_dict()} if self.report else {}),
                **({"split.json": r.split.to_dict()} if r.split is not None else {})}

    def fit(self, until: int | None = None) -> RunResult:
        """Train until ``train.steps`` (or step *until*, or the time budget, or a callback's
        stop); checkpoint and return. A run stopped early continues with
        ``Trainer(config, resume=run_dir)``. The run directory stays locked until this
        returns."""
        if self.config.optim.schedule_by == "time" and not self.config.train.time_budget:
            raise ConfigError("optim.schedule_by='time' decays the learning rate over "
                              "train.time_budget, which is not set; set it or use "
                              "schedule_by='steps'")
        try:
            if self.runtime.is_main:
                self.run_dir.lock.acquire()  # again, when an earlier fit() released it
                self.run_dir.write(self.run_files())
            self.state.learning_rate.started = time.perf_counter()
            loop = Loop(self.config, self.state, self.runtime, self.resolved, self.checkpoints,
                        self.run_dir.path, until)
            return run_loop(loop, self.loader(), self.train_step,
                            [*builtin_callbacks(), *self.callbacks])
        finally:
            self.run_dir.release()
