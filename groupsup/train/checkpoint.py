"""Checkpoints: a directory per step, written atomically, loaded without executing code.

Layout of ``RUN/checkpoints/step-000120/``:

- ``model.safetensors``: the model's weights;
- ``model.json``: ``SwapAutoencoder.config_dict()`` (backbone name and config, schema JSON,
  image shape, the plugin that provides the backbone);
- ``training.pt``: optimiser, schedule, AMP scaler and RNG states, and the weights of
  parameters owned by loss terms (e.g. AE+DS classifier heads) under ``"terms"`` (plain
  tensors and numbers, read with ``torch.load(weights_only=True)``);
- ``meta.json``: step, resolved experiment config, groupsup version, and every plugin the run
  used (distribution and version), so a missing plugin is named on load.

``RUN/checkpoints/latest`` holds the name of the newest complete checkpoint. A checkpoint
whose weights or optimiser state hold a NaN or an infinity is never written.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as safetensors_bytes

from groupsup.errors import DataError, GroupsupError, PluginError, StorageError
from groupsup.fileio import atomic_directory, atomic_write_bytes, atomic_write_text
from groupsup.model import load_weights

LATEST = "latest"


class NonFiniteLossError(GroupsupError):
    """Training diverged: the loss, the weights or the optimiser state became NaN or
    infinite. Nothing is saved from the bad step; the last good checkpoint is kept."""


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
            atomic_write_bytes(tmp / "model.safetensors", safetensors_bytes(state))
            atomic_write_text(tmp / "model.json", json.dumps(model_config, indent=2))
            atomic_write_bytes(tmp / "training.pt", buffer.getvalue())
            atomic_write_text(tmp / "meta.json", json.dumps({**meta, "step": step}, indent=2))
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


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint directory from a run directory, a ``checkpoints`` folder or itself."""
    path = Path(path)
    for root in (path / "checkpoints", path):
        latest = root / LATEST
        if latest.is_file():
            name = latest.read_text(encoding="utf-8", errors="replace").strip()
            if not re.fullmatch(r"step-[0-9]{6,}", name):
                raise DataError(f"{latest}: names {name[:80]!r}, not a checkpoint folder of "
                                "this run (step-NNNNNN); the file is damaged or was edited")
            return root / name
    if (path / "model.safetensors").is_file():
        return path
    raise DataError(f"{path}: no checkpoint found (expected a run directory with "
                    "checkpoints/latest, or a checkpoint directory with model.safetensors)")


def check_plugins(meta: dict[str, Any], origin: Path) -> None:
    """Fail with the distribution to install when a plugin the run used is missing."""
    for item in meta.get("plugins", []):
        dist = item.get("distribution")
        if not dist or dist in ("groupsup", "(local)", "?"):
            continue
        try:
            metadata.version(dist)
        except metadata.PackageNotFoundError:
            raise PluginError(
                f"{origin}: this checkpoint needs {item.get('kind', 'plugin')} "
                f"{item.get('name')!r} from distribution {dist!r} (version {item.get('version')}),"
                f" which is not installed: pip install {dist}") from None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    training: bool = True) -> Checkpoint:
    """Read a checkpoint (see the module docstring); any missing, corrupt or wrongly shaped
    file is a :class:`DataError` naming it. Without *training*, ``training.pt`` is not read."""
    ckpt = resolve_checkpoint(path)
    for name in ("meta.json", "model.json", "model.safetensors",
                 *(("training.pt",) if training else ())):
        if not (ckpt / name).is_file():
            raise DataError(f"{ckpt}: incomplete checkpoint ({ckpt / name} missing)")
    meta = _read_json_object(ckpt / "meta.json")
    step = meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise DataError(f"{ckpt / 'meta.json'}: key 'step' must be a non-negative integer, "
                        f"got {step!r}")
    plugins = meta.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, dict) for p in plugins):
        raise DataError(f"{ckpt / 'meta.json'}: key 'plugins' must be a list of objects, "
                        f"got {plugins!r}")
    model_config = _read_json_object(ckpt / "model.json")
    state = load_weights(ckpt / "model.safetensors", map_location)
    train_state = _load_training_state(ckpt / "training.pt", map_location) if training else {}
    check_plugins(meta, ckpt)
    return Checkpoint(ckpt, step, state, model_config, train_state, meta)


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


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
        meta = _read_json_object(resolve_checkpoint(path) / "meta.json")
    except DataError:
        return None
    found = meta.get("machine")
    return found if isinstance(found, dict) else None


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
               registries: Any = None):
    """The :class:`~groupsup.SwapAutoencoder` of a run or checkpoint directory, with weights;
    its backbone looked up in *registries* (a :class:`~groupsup.Registries`; default: the
    plugin host's)."""
    from groupsup.model import SwapAutoencoder
    from groupsup.train.resolve import host_registries

    state = load_checkpoint(path, map_location=map_location, training=False)
    try:
        model = SwapAutoencoder.from_config(state.model_config, host_registries(registries))
    except GroupsupError as err:
        raise type(err)(f"{state.path / 'model.json'}: {err}") from None
    model.load_weights_from(state.model_state, state.path / "model.safetensors")
    return model.to(map_location)
