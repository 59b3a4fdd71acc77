"""The trainer: builds everything a config names, owns the model's training state, and runs
the loop (:mod:`groupsup.train.loop`) with its callbacks (:mod:`groupsup.train.callbacks`).

Building is :func:`~groupsup.train.resolve.resolve` (dataset, split, graph, strategy, model,
loss recipe, callbacks, with provenance) followed by what training adds on top: the device and
process group, the run directory (locked), the optimiser, scheduler and gradient scaler, the
DDP-wrapped step module, and a resumed checkpoint.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from groupsup.data import GroupDataset
from groupsup.data.check import check_images, user_cache_dir
from groupsup.errors import ConfigError, DataError, GroupsupError, GroupsWarning
from groupsup.graph.splits import Split
from groupsup.groups import GroupBatch
from groupsup.losses import LossRecipe
from groupsup.machine import machine
from groupsup.model import SwapAutoencoder
from groupsup.registry import Registries
from groupsup.train import checkpoint as ckpt
from groupsup.train.callbacks import Callback, builtin_callbacks
from groupsup.train.checkpoint import NonFiniteLossError
from groupsup.train.config import ExperimentConfig
from groupsup.train.curves import CURVES_FILE, plot_training_curves, read_log
from groupsup.train.distributed import (
    all_reduce_mean,
    broadcast_from_main,
    device_for,
    env_info,
    init_distributed,
    wrap_ddp,
)
from groupsup.train.loader import GroupLoader
from groupsup.train.loop import RunResult, run_loop
from groupsup.train.preflight import check_amp, check_step_size
from groupsup.train.resolve import Resolved, resolve
from groupsup.train.resume import rebase_rate, resume_changes, schema_difference
from groupsup.train.rundir import RunLock, clear_run, previous_run_files, truncate_metrics
from groupsup.train.samples import prune_samples, sample_sheet, sample_sheets, sheet_step
from groupsup.version import __version__

__all__ = ["NonFiniteLossError", "RunResult", "Trainer"]


class _StepModule(nn.Module):
    """model + recipe (and the parameters its terms own) as one module, so that DDP sees the
    whole step in ``forward``."""

    def __init__(self, model: SwapAutoencoder, recipe: LossRecipe):
        super().__init__()
        self.model = model
        self.recipe = recipe
        self.terms = recipe.build(model)

    def forward(self, images: torch.Tensor, batch: GroupBatch, labels: np.ndarray):
        out = self.recipe.compute(self.model, images, batch, labels)
        return out.total, out.terms


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
        self._lock = RunLock(resume if resume is not None else config.train.out)
        try:
            self._setup(config, resume, overwrite, registries, resolved,
                        {"dataset": dataset, "model": model, "split": split})
        except BaseException:
            self._lock.release()
            raise
        self.callbacks: list[Callback] = [*self.resolved.callbacks, *callbacks]

    def _setup(self, config: ExperimentConfig, resume: str | Path | None, overwrite: bool,
               registries: Registries | None, resolved: Resolved | None,
               given: dict[str, Any]) -> None:
        self.config = config
        cfg = config.train
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.dist = env_info()
        self.device = device_for(cfg.device, self.dist)
        init_distributed(self.device, self.dist)
        check_amp(cfg, self.device)
        if cfg.shards % self.dist.world_size or cfg.groups_per_step % cfg.shards:
            raise ConfigError(
                f"train.shards={cfg.shards} must be a multiple of the process count "
                f"({self.dist.world_size}) and divide train.groups_per_step="
                f"{cfg.groups_per_step}")
        self.run_dir = Path(resume) if resume is not None else Path(cfg.out)
        self._claim_run_dir(resume is not None, overwrite)
        self.image_check = None
        if resolved is None:
            resolved = resolve(config, registries, **given, check=self._check_images)
        elif resolved.config is not config:
            raise ConfigError("Trainer(config, resolved=...): resolved was built from another "
                              "config; pass resolve(config)")
        else:
            self._check_images(resolved.dataset)
        self.resolved = resolved
        r = self.resolved
        self.registries, self.plugins_used = r.registries, r.provenance
        self.full_dataset, self.split, self.dataset = r.dataset, r.split, r.train_dataset
        self.graph, self.strategy = r.graph, r.strategy
        check_step_size(cfg.groups_per_step, self.dataset, self.strategy)
        self.partner_report = (self.strategy.partner_report()
                               if hasattr(self.strategy, "partner_report") else None)
        if self.partner_report is not None and self.dist.is_main:
            for message in self.partner_report.warnings():
                warnings.warn(message, GroupsWarning, stacklevel=2)
        self.model = r.model.to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.recipe = r.recipe
        # parameters owned by loss terms (e.g. classifier heads): optimised and checkpointed
        self.term_modules = self.recipe.build(self.model).to(self.device)

        self.step_module: nn.Module = _StepModule(self.model, self.recipe)
        if cfg.compile:
            self.step_module = torch.compile(self.step_module)
        self.step_module = wrap_ddp(self.step_module, self.device, self.dist)
        self.optimizer = self._build_optimizer()
        self._fit_started: float | None = None  # perf_counter() at the start of fit()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=cfg.amp == "fp16" and self.device.type == "cuda")
        self.step = 0
        self.last_checkpoint: Path | None = None
        if resume is not None:
            self._resume(Path(resume))

    def _check_images(self, dataset: GroupDataset) -> None:
        """Every bad image listed before training, not when first sampled; good ones cached
        in the user's cache directory (in the run directory where that is not writable)."""
        if self.config.train.check_images:
            self.image_check = check_images(dataset, cache_dirs=[user_cache_dir(), self.run_dir])

    # ------------------------------------------------------------------ run directory
    def _claim_run_dir(self, resuming: bool, overwrite: bool) -> None:
        """Lock the run directory (rank 0) and check that it suits a new run or a resume;
        every process raises the same error when it does not."""
        problem: GroupsupError | None = None
        if self.dist.is_main:
            try:
                self._lock.acquire()
                self._check_run_dir(resuming, overwrite)
            except GroupsupError as err:
                self._lock.release()
                problem = err
        problem = broadcast_from_main(problem, self.dist)
        if problem is not None:
            raise problem

    def _check_run_dir(self, resuming: bool, overwrite: bool) -> None:
        run = self.run_dir
        if resuming:
            if overwrite:
                raise ConfigError("--overwrite starts a new run; it cannot be combined with "
                                  f"--resume {run}")
            if not (run / "checkpoints" / ckpt.LATEST).is_file():
                raise ConfigError(f"--resume {run}: the run holds no checkpoint (it stopped "
                                  "before its first); start it afresh with --overwrite")
            return
        found = previous_run_files(run)
        if found and not overwrite:
            raise ConfigError(
                f"train.out {str(run)!r} already holds a run "
                f"({', '.join(p.name for p in found)}); continue it with --resume {run}, "
                "start it afresh with --overwrite (deletes those files), or choose another "
                "train.out")
        if found:
            clear_run(run)
            print(f"groupsup: overwrote the previous run in {run} "
                  f"({', '.join(p.name for p in found)})", file=sys.stderr)

    def close(self) -> None:
        """Release the run directory (:meth:`fit` does this when it returns)."""
        self._lock.release()

    # ------------------------------------------------------------------ building
    def _build_optimizer(self) -> torch.optim.Optimizer:
        o = self.config.optim
        cls = torch.optim.Adam if o.name == "adam" else torch.optim.AdamW
        kwargs: dict[str, Any] = {"lr": o.lr, "betas": o.betas, "weight_decay": o.weight_decay}
        params = [p for p in self._parameters() if p.requires_grad]
        try:  # the fused kernel is 1.2-1.6x faster per step where it exists
            return cls(params, fused=True, **kwargs)
        except (RuntimeError, TypeError):
            return cls(params, **kwargs)

    def _parameters(self) -> list[nn.Parameter]:
        """The model's parameters, then those its loss terms own."""
        return [*self.model.parameters(), *self.term_modules.parameters()]

    def _lr_factor(self, step: int) -> float:
        o, cfg = self.config.optim, self.config.train
        warm = min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps else 1.0
        if o.schedule == "constant":
            return warm
        done = min(step, cfg.steps) / cfg.steps
        if o.schedule_by == "time" and self._fit_started is not None and cfg.time_budget:
            # the budget usually ends first: decay over the wall clock of this fit()
            elapsed = time.perf_counter() - self._fit_started
            done = max(done, min(1.0, elapsed / cfg.time_budget))
        if o.schedule == "wsd":
            return warm * min(1.0, (1.0 - done) / o.decay_fraction)
        return warm * 0.5 * (1 + math.cos(math.pi * done))

    # ------------------------------------------------------------------ state
    def _meta(self) -> dict[str, Any]:
        return {"groupsup_version": __version__, "config": self.config.to_dict(),
                "schema": self.model.schema.to_dict(), "plugins": self.plugins_used,
                "world_size": self.dist.world_size, "machine": machine()}

    def save(self) -> Path | None:
        if not self.dist.is_main:
            # rank 0 refuses to save non-finite weights (the same on every rank): stop together
            ckpt.check_finite(self.run_dir / "checkpoints", self.step,
                              {"model": self.model.state_dict(),
                               "optimizer": self.optimizer.state_dict(),
                               "terms": self.term_modules.state_dict()})
            return None
        terms = {k: v.detach().cpu() for k, v in self.term_modules.state_dict().items()}
        training = {"optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(),
                    "scaler": self.scaler.state_dict(), "rng": ckpt.rng_state(),
                    "terms": terms,
                    "step": self.step}
        self.last_checkpoint = ckpt.save_checkpoint(
            self.run_dir, self.step, self.model, self.model.config_dict(), training,
            self._meta(), self.config.train.keep_checkpoints)
        return self.last_checkpoint

    def _resume(self, run_dir: Path) -> None:
        state = ckpt.load_checkpoint(run_dir, map_location=self.device)
        saved = state.meta.get("config")
        changes = (resume_changes(saved, self.config.to_dict(), str(run_dir))
                   if isinstance(saved, dict) else {})
        schema, now = state.meta.get("schema"), self.model.schema.to_dict()
        if isinstance(schema, dict) and ({**schema, "name": None} != {**now, "name": None}):
            raise ConfigError(f"--resume {run_dir}: the data's labels no longer match the run's "
                              f"({schema_difference(schema, now)}); "
                              "the checkpoint's blocks were trained on the old values: start "
                              "a new run")
        self.model.load_state_dict(state.model_state)
        self.term_modules.load_state_dict(state.training.get("terms", {}))
        self.optimizer.load_state_dict(state.training["optimizer"])
        self.scheduler.load_state_dict(state.training["scheduler"])
        self.scaler.load_state_dict(state.training["scaler"])
        ckpt.restore_rng_state(state.training["rng"])
        self.step = state.step
        self.last_checkpoint = state.path
        if "optim.lr" in changes:  # the optimiser's state holds the old rate: re-base it
            rebase_rate(self.scheduler, self.config.optim.lr, self._lr_factor(self.step))
        if changes and self.dist.is_main:
            print(f"resuming {run_dir} at step {self.step} with "
                  + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items()),
                  file=sys.stderr, flush=True)
        if self.dist.is_main:  # the steps after the checkpoint are run (and logged) again
            truncate_metrics(run_dir, self.step)
            for sheet in sample_sheets(run_dir / "samples"):
                if sheet_step(sheet) > self.step:
                    sheet.unlink()

    def _write_run_files(self) -> None:
        if not self.dist.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.atomic_write_text(self.run_dir / "config.json",
                               json.dumps(self.config.to_dict(), indent=2))
        ckpt.atomic_write_text(self.run_dir / "schema.json", self.model.schema.to_json())
        if self.partner_report is not None:
            ckpt.atomic_write_text(self.run_dir / "partners.json",
                                   json.dumps(self.partner_report.to_dict(), indent=2))
        if self.split is not None:
            ckpt.atomic_write_text(self.run_dir / "split.json",
                                   json.dumps(self.split.to_dict(), indent=2))

    def loader(self) -> GroupLoader:
        cfg = self.config.train
        world = self.dist.world_size
        return GroupLoader(self.dataset, self.strategy, cfg.groups_per_step // world,
                           self.config.seed, rank=self.dist.rank, world_size=world,
                           shards_per_rank=cfg.shards // world, start_step=self.step,
                           steps=max(0, cfg.steps - self.step), num_workers=cfg.num_workers,
                           device=self.device)

    def _autocast(self):
        amp = self.config.train.amp
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def train_step(self, images: torch.Tensor, batch: GroupBatch) -> dict[str, float]:
        """One optimiser step; returns the (process-averaged) loss values."""
        if self.config.train.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        self.step_module.train()
        with self._autocast():
            total, terms = self.step_module(images, batch, self.dataset.labels[batch.examples])
        if not torch.isfinite(total):
            where = (f"the last good checkpoint is {self.last_checkpoint}"
                     if self.last_checkpoint else "no checkpoint was written yet")
            values = {k: float(v) for k, v in terms.items()}
            raise NonFiniteLossError(
                f"non-finite loss {float(total.detach())} at step {self.step + 1} (terms "
                f"{values}); {where}. Lower optim.lr or set optim.grad_clip")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.config.optim.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self._parameters(), self.config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        values = torch.stack([total.detach().float(), *(v.float() for v in terms.values())])
        values = all_reduce_mean(values, self.dist).tolist()
        return dict(zip(["loss", *terms], values))

    def fit(self, until: int | None = None) -> RunResult:
        """Train until ``train.steps`` (or step *until*, or the time budget, or a callback's
        stop); checkpoint and return. A run stopped early continues with
        ``Trainer(config, resume=run_dir)``. The run directory stays locked until this
        returns."""
        if self.config.optim.schedule_by == "time" and not self.config.train.time_budget:
            raise ConfigError("optim.schedule_by='time' decays the learning rate over "
                              "train.time_budget, which is not set; set it or use "
                              "schedule_by='steps'")
        if self.dist.is_main:
            self._lock.acquire()  # again, when an earlier fit() released it
        try:
            self._write_run_files()
            self._fit_started = time.perf_counter()
            return run_loop(self, [*builtin_callbacks(), *self.callbacks], until)
        finally:
            self._lock.release()

    def saved_at_step(self) -> bool:
        """Whether the latest checkpoint is of the current step."""
        return self.last_checkpoint is not None and self.last_checkpoint.name.endswith(
            f"{self.step:06d}")

    def stop_on_data_error(self, err: DataError) -> DataError:
        """Checkpoint the steps done so far, then say which file stopped the run and how to go
        on (the steps since the last checkpoint would be lost otherwise)."""
        if self.step and not self.saved_at_step():
            self.save()
        saved = (f"checkpoint {self.last_checkpoint} saved; fix the file and continue with "
                 f"--resume {self.run_dir}" if self.last_checkpoint else "no checkpoint written")
        return DataError(f"{err} (while loading step {self.step + 1}; {saved})")

    def write_samples(self, examples: np.ndarray) -> Path:
        """A PNG sheet of originals, reconstructions and block swaps at the current step."""
        images = self.dataset.load(examples).to(self.device)
        path = self.run_dir / "samples" / f"step-{self.step:06d}.png"
        sample_sheet(self.model, images, path)
        prune_samples(path.parent, self.config.train.keep_samples)
        return path

    def write_curves(self) -> Path | None:
        """``RUN/training_curves.png``: the total loss and each term against the step, from
        ``metrics.jsonl`` (``None`` before the first log line)."""
        return plot_training_curves(read_log(self.run_dir), self.run_dir / CURVES_FILE)
