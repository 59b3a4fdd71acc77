"""Checkpoints: a directory per step, written atomically, loaded without executing code.

A checkpoint saves a :class:`~groupsup.train.state.TrainState` (:class:`Checkpoints`). Layout of
``RUN/checkpoints/step-000120/``, a model directory (:mod:`groupsup.persistence`, what
``SwapAutoencoder.load`` and ``load_model`` read) plus the training state:

- ``model.safetensors`` and ``model.json``: the model's weights and description, in the
  format of a saved model;
- ``training.pt``: optimiser, schedule, AMP scaler and RNG states, and the weights of
  parameters owned by loss terms (e.g. AE+DS classifier heads) under ``"terms"`` (plain
  tensors and numbers, read with ``torch.load(weights_only=True)``);
- ``meta.json``: step, resolved experiment config, groupsup version, and every plugin the run
  used (distribution and version), so a missing plugin is named on load.

``RUN/checkpoints/latest`` holds the name of the newest complete checkpoint. A checkpoint
whose weights or optimiser state hold a NaN or an infinity is never written. Checkpoints written
before ``model.json`` carried the model format (a bare ``config_dict()``) still load.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupsup.errors import DataError, StorageError
from groupsup.fileio import atomic_directory, atomic_write_bytes, atomic_write_text
from groupsup.persistence import (
    LATEST,
    META_FILE,
    find_checkpoint,
    read_json_object,
    read_model,
    write_model,
)
from groupsup.train.distributed import DistInfo
from groupsup.train.state import NonFiniteLossError, TrainState


def _tensors(obj: Any) -> list[torch.Tensor]:
    """Every floating-point tensor in a nest of dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return [obj] if obj.is_floating_point() else []
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


def count_non_finite(obj: Any) -> tuple[int, int]:
    """``(non-finite, all)`` floating-point tensors in *obj* (a tensor or a nest of them)."""
    tensors = _tensors(obj)
    return sum(not bool(torch.isfinite(t).all()) for t in tensors), len(tensors)


def check_finite(root: Path, step: int, parts: dict[str, Any]) -> None:
    """Raise :class:`NonFiniteLossError` when a tensor in *parts* (name -> state) holds a NaN
    or an infinity, naming the counts and the last good checkpoint under *root*."""
    counts = {name: count_non_finite(state) for name, state in parts.items()}
    if not any(bad for bad, _ in counts.values()):
        return
    latest = root / LATEST
    good = (f"the last good checkpoint is {root / latest.read_text().strip()}"
            if latest.is_file() else "no checkpoint was written before")
    found = ", ".join(f"{bad} of {n} {name} tensors" for name, (bad, n) in counts.items() if n)
    raise NonFiniteLossError(
        f"step {step}: NaN or infinite values in {found}; no checkpoint written for this step, "
        f"{good}. Lower optim.lr or set optim.grad_clip")


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        # plain lists: torch.load(weights_only=True) refuses numpy arrays
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Checkpoint:
    """A loaded checkpoint: tensors and JSON, no code."""

    path: Path
    step: int
    model_state: dict[str, torch.Tensor]
    model_config: dict[str, Any]
    training: dict[str, Any]
    meta: dict[str, Any]


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, model_config: dict,
                    training: dict[str, Any], meta: dict[str, Any], keep: int) -> Path:
    """Write checkpoint ``step`` under ``run_dir/checkpoints``; keep the newest *keep*.

    Refuses (:class:`NonFiniteLossError`) to write one whose model weights or *training*
    tensors (optimiser moments, loss-term weights, ...) are not all finite.
    """
    root = run_dir / "checkpoints"
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    check_finite(root, step, {"model": state, **training})
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(root)
    final = root / f"step-{step:06d}"
    # serialised in memory, so a full disk is an OSError(ENOSPC) naming the file rather than
    # torch's "enforce fail at inline_container.cc"
    buffer = io.BytesIO()
    torch.save(training, buffer)
    try:
        with atomic_directory(final) as tmp:
            write_model(tmp, model_config, state)
            atomic_write_bytes(tmp / "training.pt", buffer.getvalue())
            atomic_write_text(tmp / META_FILE, json.dumps({**meta, "step": step}, indent=2))
    except StorageError as err:
        previous = (root / LATEST).read_text().strip() if (root / LATEST).is_file() else None
        kept = f"the previous checkpoint {previous} is kept" if previous else "no checkpoint kept"
        raise StorageError(f"{err} (checkpoint of step {step} not written; {kept})") from None
    atomic_write_text(root / LATEST, final.name + "\n")
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_stale_staging(root: Path) -> list[Path]:
    """Remove the staging folders (``.step-NNNNNN.<pid>.<hex>.tmp``) that a process killed in
    the middle of a checkpoint left in *root*, each up to a checkpoint's size; returns them.
    The run directory is locked by one process, so a staging folder of another pid is stale."""
    removed = []
    for staging in root.glob(".step-*.tmp"):
        parts = staging.name.split(".")
        if len(parts) == 5 and parts[2].isdigit() and int(parts[2]) != os.getpid():
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    training: bool = True) -> Checkpoint:
    """Read a checkpoint (see the module docstring); any missing, corrupt or wrongly shaped
    file is a :class:`DataError` naming it. Without *training*, ``training.pt`` is not read."""
    ckpt = find_checkpoint(path)
    for name in (META_FILE, "model.json", "model.safetensors",
                 *(("training.pt",) if training else ())):
        if not (ckpt / name).is_file():
            raise DataError(f"{ckpt}: incomplete checkpoint ({ckpt / name} missing)")
    saved = read_model(ckpt, map_location)
    train_state = _load_training_state(ckpt / "training.pt", map_location) if training else {}
    return Checkpoint(ckpt, saved.meta["step"], saved.state, saved.config, train_state,
                      saved.meta)


TRAINING_KEYS = ("optimizer", "scheduler", "scaler", "rng")


def _load_training_state(path: Path, map_location: str | torch.device) -> dict[str, Any]:
    """``training.pt`` as plain tensors and numbers; anything else is refused unexecuted."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unpickling, zip and I/O errors all mean a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: not a loadable training state, truncated, corrupt or not "
                        f"written by groupsup ({first})") from None
    missing = [k for k in TRAINING_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise DataError(f"{path}: training state lacks {missing}")
    return state


def training_machine(path: str | os.PathLike) -> dict[str, Any] | None:
    """The machine record (:func:`groupsup.machine.machine`) of the training process that
    wrote the checkpoint of *path* (a run or checkpoint directory); ``None`` for a checkpoint
    written before it was recorded, or one whose ``meta.json`` is unreadable."""
    try:
        meta = read_json_object(find_checkpoint(path) / META_FILE)
    except DataError:
        return None
    found = meta.get("machine")
    return found if isinstance(found, dict) else None


class Checkpoints:
    """The checkpoints of a run: each saves a :class:`TrainState` (and the RNG states) under
    ``RUN/checkpoints``, keeping the newest *keep*; :meth:`restore` loads one back. Only rank
    0 writes; the other ranks check that the state is finite, so all stop together when it
    is not. *meta* makes what goes into each ``meta.json`` (with the step), at its save."""

    def __init__(self, run_dir: Path, keep: int, meta: Callable[[], dict[str, Any]],
                 dist: DistInfo) -> None:
        self.run_dir, self.keep, self.meta, self.dist = run_dir, keep, meta, dist
        self.last: Path | None = None  # the newest checkpoint written or restored

    def save(self, state: TrainState) -> Path | None:
        """Checkpoint *state* at its step; returns the folder (``None`` on other ranks)."""
        saved = state.state_dict()
        if not self.dist.is_main:
            check_finite(self.run_dir / "checkpoints", state.step,
                         {"model": saved["model"], "optimizer": saved["training"]["optimizer"],
                          "terms": saved["training"]["terms"]})
            return None
        training = {**saved["training"], "rng": rng_state()}
        self.last = save_checkpoint(self.run_dir, state.step, state.model,
                                    state.model.config_dict(), training, self.meta(), self.keep)
        return self.last

    def saved_at(self, step: int) -> bool:
        """Whether the newest checkpoint is of *step*."""
        return self.last is not None and self.last.name.endswith(f"{step:06d}")

    def restore(self, state: TrainState, found: Checkpoint) -> None:
        """Load checkpoint *found* (:func:`load_checkpoint`) into *state* and restore the RNG
        states, so that the run goes on as if it had never stopped."""
        state.load_state_dict({"model": found.model_state,
                               "training": {**found.training, "step": found.step}})
        restore_rng_state(found.training["rng"])
        self.last = found.path
