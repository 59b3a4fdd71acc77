"""The training loop every experiment runs through, for every dataset."""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from groupsup.data import GroupDataset
from groupsup.data.check import check_images, user_cache_dir
from groupsup.errors import ConfigError, DataError, GroupsupError, GroupsWarning
from groupsup.graph import MultiGraph
from groupsup.graph.splits import Split, resolve_split
from groupsup.groups import GroupBatch
from groupsup.losses import LossRecipe
from groupsup.model import SwapAutoencoder
from groupsup.plugins import get_host
from groupsup.train import checkpoint as ckpt
from groupsup.train.checkpoint import NonFiniteLossError
from groupsup.train.config import ExperimentConfig, dataset_options
from groupsup.train.curves import CURVES_FILE, plot_training_curves, read_log
from groupsup.train.distributed import (
    all_reduce_mean,
    broadcast_from_main,
    device_for,
    env_info,
    init_distributed,
    shutdown,
    wrap_ddp,
)
from groupsup.train.loader import GroupLoader
from groupsup.train.rundir import RunLock, clear_run, previous_run_files, truncate_metrics
from groupsup.train.samples import prune_samples, sample_sheet, sample_sheets, sheet_step
from groupsup.validation import validate
from groupsup.version import __version__


@dataclass
class RunResult:
    """What a finished (or stopped) run reports."""

    run_dir: Path
    step: int
    stopped: str  # "steps", "time_budget", "interrupted" or "until"
    checkpoint: Path | None
    last: dict[str, Any] = field(default_factory=dict)
    wall_time: float = 0.0


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


def _split_dataset(config: ExperimentConfig, dataset: GroupDataset, spec: Any) -> Split | None:
    d = config.dataset
    return resolve_split(dataset, d.split, seed=config.seed, options=d.split_options,
                         held_out=d.held_out, dataset_options=d.options,
                         named=getattr(spec, "splits", {}) or {}, dataset_name=d.name)


class Trainer:
    """Builds everything a config names and runs the loop.

    Pass ``dataset`` / ``model`` to train objects built in Python instead of looking the
    dataset and backbone up in the plugin registries (``groupsup.train`` does this), and
    ``split`` to use a :class:`Split` of that dataset instead of the config's.


    The run directory is locked (``RUN/run.lock``) from construction to the end of
    :meth:`fit`, so no other process trains into it meanwhile. A new run refuses a directory
    that holds a previous run's files unless ``overwrite=True``, which deletes them.
    """

    def __init__(self, config: ExperimentConfig, *, dataset: GroupDataset | None = None,
                 model: SwapAutoencoder | None = None, resume: str | Path | None = None,
                 split: Split | None = None, overwrite: bool = False):
        self._lock = RunLock(resume if resume is not None else config.train.out)
        try:
            self._setup(config, dataset, model, resume, overwrite, split)
        except BaseException:
            self._lock.release()
            raise

    def _setup(self, config: ExperimentConfig, dataset: GroupDataset | None,
               model: SwapAutoencoder | None, resume: str | Path | None,
               overwrite: bool, split: Split | None) -> None:
        self.config = config
        cfg = config.train
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.host = get_host()
        self.plugins_used: list[dict[str, str]] = []
        self.dist = env_info()
        self.device = device_for(cfg.device, self.dist)
        init_distributed(self.device, self.dist)
        self._check_amp()
        if cfg.shards % self.dist.world_size or cfg.groups_per_step % cfg.shards:
            raise ConfigError(
                f"train.shards={cfg.shards} must be a multiple of the process count "
                f"({self.dist.world_size}) and divide train.groups_per_step="
                f"{cfg.groups_per_step}")
        self.run_dir = Path(resume) if resume is not None else Path(cfg.out)
        self._claim_run_dir(resume is not None, overwrite)

        # data -> split -> graph -> strategy
        self.full_dataset = dataset if dataset is not None else self._load_dataset()
        # every bad image listed before training, not when first sampled; good ones cached
        # in the user's cache directory (in the run directory where that is not writable)
        self.image_check = (check_images(self.full_dataset,
                                         cache_dirs=[user_cache_dir(), self.run_dir])
                            if cfg.check_images else None)
        self.split = (split if split is not None
                      else _split_dataset(config, self.full_dataset, self._dataset_spec()))
        self.dataset = (self.full_dataset if self.split is None
                        else self.full_dataset.subset(self.split.train, name="train"))
        self.graph = MultiGraph(self.dataset)
        strategy_cls = self._use("strategy", self.host.strategies, config.strategy.name)
        self.strategy = strategy_cls(self.graph, validate(strategy_cls.Config,
                                                          config.strategy.options,
                                                          "strategy.options", noun="option"))
        self.partner_report = (self.strategy.partner_report()
                               if hasattr(self.strategy, "partner_report") else None)
        if self.partner_report is not None and self.dist.is_main:
            for message in self.partner_report.warnings():
                warnings.warn(message, GroupsWarning, stacklevel=2)
        # model -> loss recipe
        torch.manual_seed(config.seed)
        schema = self.dataset.schema
        if config.schema_.latent:
            schema = schema.with_latent(**config.schema_.latent)
        if model is None:
            self._use("backbone", self.host.backbones, config.model.backbone)
            try:
                model = SwapAutoencoder(config.model.backbone, schema, self.dataset.image_shape,
                                        config.model.options)
            except ConfigError:  # e.g. "sides must be powers of two": from mixed image sizes?
                mismatch = getattr(self.full_dataset.source, "size_mismatch", None)
                if mismatch is not None and (message := mismatch()):
                    raise DataError(message) from None
                raise
        self.model = model.to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.recipe = self._build_recipe()
        self.recipe.check(set(getattr(self.strategy, "provides", set())))
        # parameters owned by loss terms (e.g. classifier heads): optimised and checkpointed
        self.term_modules = self.recipe.build(self.model).to(self.device)

        self.step_module: nn.Module = _StepModule(self.model, self.recipe)
        if cfg.compile:
            self.step_module = torch.compile(self.step_module)
        self.step_module = wrap_ddp(self.step_module, self.device, self.dist)
        self.optimizer = self._build_optimizer()
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=cfg.amp == "fp16" and self.device.type == "cuda")
        self.step = 0
        self.last_checkpoint: Path | None = None
        if resume is not None:
            self._resume(Path(resume))

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
    def _use(self, kind: str, registry: Any, name: str) -> Any:
        entry = registry.entry(name)
        self.plugins_used.append({"kind": kind, "name": entry.name, "plugin": entry.plugin,
                                  "distribution": entry.distribution, "version": entry.version})
        return entry.obj

    def _dataset_spec(self) -> Any:
        name = self.config.dataset.name
        return self.host.datasets.get(name) if name in self.host.datasets else None

    def _load_dataset(self) -> GroupDataset:
        self._use("dataset", self.host.datasets, self.config.dataset.name)
        return load_dataset(self.config)

    def _build_recipe(self) -> LossRecipe:
        loss = self.config.loss
        if loss.terms is not None:
            recipe = LossRecipe(loss.terms, distance=loss.distance)
        elif loss.recipe is None:
            raise ConfigError("loss: give a recipe name or a list of terms")
        else:
            specs = self._use("recipe", self.host.recipes, loss.recipe)
            recipe = LossRecipe(specs, distance=loss.distance)
        for spec in recipe.specs:
            self._use("loss", self.host.losses, spec.term)
        return recipe

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
        o, total = self.config.optim, self.config.train.steps
        warm = min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps else 1.0
        if o.schedule == "cosine":
            return warm * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        return warm

    def _check_amp(self) -> None:
        cfg = self.config.train
        if cfg.amp == "off":
            return
        if self.device.type == "cpu" and not cfg.force_amp:
            raise ConfigError(
                f"train.amp={cfg.amp!r} on CPU: reduced precision is much slower than fp32 on "
                "CPUs without native support (bf16 measured ~18x slower on the project's "
                "machines); use amp='off', or set train.force_amp=true to use it anyway")

    # ------------------------------------------------------------------ state
    def _meta(self) -> dict[str, Any]:
        return {"groupsup_version": __version__, "config": self.config.to_dict(),
                "schema": self.model.schema.to_dict(), "plugins": self.plugins_used,
                "world_size": self.dist.world_size}

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
        self.model.load_state_dict(state.model_state)
        self.term_modules.load_state_dict(state.training.get("terms", {}))
        self.optimizer.load_state_dict(state.training["optimizer"])
        self.scheduler.load_state_dict(state.training["scheduler"])
        self.scaler.load_state_dict(state.training["scaler"])
        ckpt.restore_rng_state(state.training["rng"])
        self.step = state.step
        self.last_checkpoint = state.path
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

    # ------------------------------------------------------------------ loop
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
        """Train until ``train.steps`` (or step *until*, or the time budget); checkpoint and
        return. A run stopped early continues with ``Trainer(config, resume=run_dir)``.
        The run directory stays locked until this returns."""
        if self.dist.is_main:
            self._lock.acquire()  # again, when an earlier fit() released it
        try:
            return self._fit(until)
        finally:
            self._lock.release()

    def _fit(self, until: int | None) -> RunResult:
        cfg = self.config.train
        self._write_run_files()
        main = self.dist.is_main
        progress = _Progress(cfg.progress if main else "off", self.config.name, cfg.steps,
                             self.step, cfg.time_budget)
        writer = _TensorBoard(self.run_dir) if cfg.tensorboard and main else None
        stop = _StopFlag()
        sums: dict[str, float] = defaultdict(float)
        count, window_start, window_groups, window_images = 0, time.perf_counter(), 0, 0
        started = time.perf_counter()
        stopped, last = "steps", {}
        fixed = np.random.default_rng(self.config.seed).choice(
            len(self.dataset), size=min(8, len(self.dataset)), replace=False)
        try:
            with stop:
                for step, batch, images in self.loader():
                    values = self.train_step(images.to(self.device, non_blocking=True), batch)
                    assert self.step == step + 1
                    for k, v in values.items():
                        sums[k] += v
                    count += 1
                    window_groups += batch.groups * self.dist.world_size
                    window_images += len(batch.examples) * self.dist.world_size
                    if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                        elapsed = time.perf_counter() - window_start
                        last = {"step": self.step, **{k: v / count for k, v in sums.items()},
                                "groups_per_s": window_groups / elapsed,
                                "images_per_s": window_images / elapsed,
                                "lr": self.scheduler.get_last_lr()[0],
                                "time": time.perf_counter() - started}
                        if main:
                            self._log(last, writer)
                        progress.log(last, [k for k in values if k != "loss"], count / elapsed)
                        sums.clear()
                        count, window_groups, window_images = 0, 0, 0
                        window_start = time.perf_counter()
                    progress.advance(time.perf_counter() - started)
                    if main and self.step % cfg.sample_every == 0:
                        self.write_samples(fixed)
                        self.write_curves()
                    if self.step % cfg.checkpoint_every == 0:
                        self.save()
                    if cfg.time_budget and time.perf_counter() - started >= cfg.time_budget:
                        stopped = "time_budget"
                        break
                    if stop.requested:
                        stopped = "interrupted"
                        break
                    if until is not None and self.step >= until:
                        stopped = "until"
                        break
        except DataError as err:  # an image unreadable mid-run (changed after the check)
            raise self._stop_on_data_error(err) from None
        finally:
            progress.close()
            if writer is not None:
                writer.close()
        if self.last_checkpoint is None or not self.last_checkpoint.name.endswith(
                f"{self.step:06d}"):
            self.save()
        if main and self.step % cfg.sample_every:
            self.write_samples(fixed)
        if main:
            self.write_curves()
        shutdown(self.dist)
        return RunResult(self.run_dir, self.step, stopped, self.last_checkpoint, last,
                         time.perf_counter() - started)

    def _stop_on_data_error(self, err: DataError) -> DataError:
        """Checkpoint the steps done so far, then say which file stopped the run and how to go
        on (the steps since the last checkpoint would be lost otherwise)."""
        if self.step and not (self.last_checkpoint and self.last_checkpoint.name.endswith(
                f"{self.step:06d}")):
            self.save()
        saved = (f"checkpoint {self.last_checkpoint} saved; fix the file and continue with "
                 f"--resume {self.run_dir}" if self.last_checkpoint else "no checkpoint written")
        return DataError(f"{err} (while loading step {self.step + 1}; {saved})")

    def _log(self, record: dict[str, Any], writer: Any) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if writer is not None:
            for k, v in record.items():
                if k != "step":
                    writer.add_scalar(k, v, record["step"])

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


def load_dataset(config: ExperimentConfig) -> GroupDataset:
    """The full dataset (before any split) that *config* names, from the plugin registry."""
    return get_host().datasets.get(config.dataset.name).load(dataset_options(config))


def _duration(seconds: float) -> str:
    """``"1h02m"``, ``"4m05s"`` or ``"12s"``."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class _Progress:
    """Training progress where the user looks: a tqdm bar on a terminal; one plain line per
    log interval elsewhere, so that a log file gets no carriage returns; or nothing.

    *mode* is ``train.progress``: "bar", "lines", "off", or "auto" (a bar when stdout and
    stderr are both terminals, else lines). Under a time budget the bar counts seconds up to
    the budget, when the run will stop, rather than steps it will not reach.
    """

    def __init__(self, mode: str, name: str, steps: int, start: int,
                 time_budget: float | None) -> None:
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() and sys.stderr.isatty() else "lines"
        self.mode, self.name, self.steps, self.time_budget = mode, name, steps, time_budget
        self.bar: Any = None
        if mode == "bar" and time_budget:
            self.bar = tqdm(total=time_budget, desc=name, unit="s", dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s "
                                       "[{elapsed}<{remaining}{postfix}]")
        elif mode == "bar":
            self.bar = tqdm(total=steps, initial=start, desc=name, unit="step",
                            dynamic_ncols=True)

    def advance(self, elapsed: float) -> None:
        """One step done, *elapsed* seconds into the run."""
        if self.bar is None:
            return
        if self.time_budget:
            self.bar.update(min(elapsed, self.time_budget) - self.bar.n)
        else:
            self.bar.update(1)

    def time_left(self, record: dict[str, Any], steps_per_s: float) -> float:
        """Seconds until the run stops: at ``train.steps`` or at the time budget."""
        left = (self.steps - record["step"]) / steps_per_s if steps_per_s > 0 else math.inf
        if self.time_budget:
            left = min(left, self.time_budget - record["time"])
        return left

    def log(self, record: dict[str, Any], terms: list[str], steps_per_s: float) -> None:
        """Show a ``metrics.jsonl`` record (its loss terms named by *terms*)."""
        if self.bar is not None:
            postfix = {"loss": f"{record['loss']:.4f}",
                       **{k: f"{record[k]:.3f}" for k in terms},
                       "gps": f"{record['groups_per_s']:.1f}"}
            if self.time_budget:
                postfix["step"] = str(record["step"])
            self.bar.set_postfix(postfix)
        elif self.mode == "lines":
            losses = "  ".join(f"{k} {record[k]:.4f}" for k in ("loss", *terms))
            where = (f"step {record['step']} ({record['time']:.0f}/{self.time_budget:.0f} s)"
                     if self.time_budget else f"step {record['step']}/{self.steps}")
            print(f"{self.name} {where}  {losses}  "
                  f"{steps_per_s:.2f} steps/s  "
                  f"{_duration(self.time_left(record, steps_per_s))} left", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _StopFlag:
    """Turns the first Ctrl-C into a request to checkpoint and stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write("interrupt: finishing this step, then saving a checkpoint "
                   "(Ctrl-C again to abort)")

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _TensorBoard:
    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ConfigError("train.tensorboard=true needs the tensorboard package: "
                              "pip install tensorboard") from err
        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def add_scalar(self, key: str, value: float, step: int) -> None:
        self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()
