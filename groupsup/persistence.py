"""One format for a saved model, the same in a model directory and in a training checkpoint.

A saved model is two files, written atomically and loaded without executing code:

- ``model.safetensors``: the weights (header metadata ``format``);
- ``model.json``: ``{"format": "groupsup.model/1", "weights": "model.safetensors", "model":
  <SwapAutoencoder.config_dict()>}``, i.e. the backbone's registry name and options, the
  schema, the image shape and the plugin the backbone came from (``config.json`` in a folder
  of :func:`groupsup.save_pretrained`, the Hugging Face Hub's name; read alike).

:meth:`SwapAutoencoder.save <groupsup.SwapAutoencoder.save>` writes them into a directory (or
as a pair ``x.safetensors`` + ``x.json``). A checkpoint directory
(``RUN/checkpoints/step-000120``, :mod:`groupsup.train.checkpoint`) is a model directory plus
``training.pt`` and ``meta.json``, so :func:`read_model` (behind
:meth:`SwapAutoencoder.load <groupsup.SwapAutoencoder.load>` and :func:`groupsup.load_model`)
reads a model directory, a file pair, a checkpoint directory or a run directory (its latest
checkpoint) alike. Checkpoints written before the format key (``model.json`` holding the bare
``config_dict()``) still load. A backbone whose plugin is missing is named with what to
install (:func:`missing_plugin`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from groupsup.errors import DataError, PluginError
from groupsup.fileio import atomic_write_bytes, atomic_write_text
from groupsup.plugins import PLUGINS_ENV

MODEL_FORMAT = "groupsup.model/1"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "model.json"
# the same document under the Hugging Face Hub's name, in a folder of save_pretrained
HUB_CONFIG_FILE = "config.json"
META_FILE = "meta.json"  # a checkpoint's (groupsup.train.checkpoint)
LATEST = "latest"  # RUN/checkpoints/latest: the name of the newest complete checkpoint


@dataclass
class SavedModel:
    """A saved model as read from disk: its description and its weights (no code run).

    *meta* is the checkpoint's ``meta.json`` (``{}`` for a model saved on its own).
    """

    config: dict[str, Any]
    state: dict[str, torch.Tensor]
    config_file: Path
    weights_file: Path
    meta: dict[str, Any] = field(default_factory=dict)


def model_files(path: Path, create: bool = False) -> tuple[Path, Path]:
    """``(weights, config)`` files of a directory, or of a file-pair path ending in
    ``.safetensors`` or ``.json``; *create* makes the directory."""
    if path.suffix in (".safetensors", ".json"):
        return path.with_suffix(".safetensors"), path.with_suffix(".json")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    elif not (path / CONFIG_FILE).is_file() and (path / HUB_CONFIG_FILE).is_file() \
            and (path / WEIGHTS_FILE).is_file():
        return path / WEIGHTS_FILE, path / HUB_CONFIG_FILE  # a save_pretrained folder
    return path / WEIGHTS_FILE, path / CONFIG_FILE


def write_model(path: str | os.PathLike, config: Mapping[str, Any],
                state: Mapping[str, torch.Tensor]) -> Path:
    """Write *state* (tensors) and *config* (``config_dict()``) in the model format at *path*
    (a directory or a file pair, see :func:`model_files`); returns the config file."""
    weights, config_file = model_files(Path(path), create=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    document = {"format": MODEL_FORMAT, "weights": weights.name, "model": dict(config)}
    atomic_write_bytes(weights, safetensors_bytes(tensors, metadata={"format": MODEL_FORMAT}))
    atomic_write_text(config_file, json.dumps(document, indent=2))
    return config_file


def find_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint directory from a run directory, a ``checkpoints`` folder or itself."""
    path = Path(path)
    found = _latest(path)
    if found is not None:
        return found
    if (path / WEIGHTS_FILE).is_file():
        return path
    raise DataError(f"{path}: no checkpoint found (expected a run directory with "
                    "checkpoints/latest, or a checkpoint directory with model.safetensors)")


def _latest(path: Path) -> Path | None:
    """The checkpoint that ``latest`` names under *path* or ``path/checkpoints``, if any."""
    for root in (path / "checkpoints", path):
        latest = root / LATEST
        if latest.is_file():
            name = latest.read_text(encoding="utf-8", errors="replace").strip()
            if not re.fullmatch(r"step-[0-9]{6,}", name):
                raise DataError(f"{latest}: names {name[:80]!r}, not a checkpoint folder of "
                                "this run (step-NNNNNN); the file is damaged or was edited")
            return root / name
    return None


def read_model(path: str | os.PathLike, map_location: str | torch.device = "cpu"
               ) -> SavedModel:
    """Read the saved model at *path*: a model directory or file pair, a checkpoint
    directory, or a run directory (its latest checkpoint). Every missing, corrupt or wrongly
    shaped file is a :class:`DataError` naming it; a plugin the checkpoint's run used that is
    not installed, a :class:`PluginError` naming the distribution."""
    given = Path(path)
    folder = _latest(given) if given.suffix not in (".safetensors", ".json") else None
    weights, config_file = model_files(folder or given)
    for file in (config_file, weights):
        if not file.is_file():
            raise DataError(f"no saved model at {path}: {file} is missing (expected a model "
                            "directory or file pair, a checkpoint directory, or a run "
                            "directory with checkpoints/latest)")
    meta_file = config_file.parent / META_FILE
    meta = read_meta(meta_file) if folder is not None or meta_file.is_file() else {}
    config = model_config(read_json_object(config_file), config_file, checkpoint=bool(meta))
    state = load_weights(weights, map_location)
    check_plugins(meta, config_file.parent)
    return SavedModel(config, state, config_file, weights, meta)


def model_config(document: dict[str, Any], origin: Path, checkpoint: bool) -> dict[str, Any]:
    """The model description of a ``model.json`` *document*: under ``"model"`` in the model
    format, or (a checkpoint written before the format key) the document itself."""
    if document.get("format") == MODEL_FORMAT:
        config = document.get("model")
        if not isinstance(config, dict):
            raise DataError(f"{origin}: key 'model' must be a JSON object, got {config!r}")
        return config
    if checkpoint and "format" not in document:
        return document
    raise DataError(f"{origin}: not a groupsup model (expected format {MODEL_FORMAT!r})")


def read_meta(path: Path) -> dict[str, Any]:
    """A checkpoint's ``meta.json``, its ``step`` and ``plugins`` checked."""
    meta = read_json_object(path)
    step = meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise DataError(f"{path}: key 'step' must be a non-negative integer, got {step!r}")
    plugins = meta.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, dict) for p in plugins):
        raise DataError(f"{path}: key 'plugins' must be a list of objects, got {plugins!r}")
    return meta


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object from *path*; unreadable JSON or another type is a :class:`DataError`."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def load_weights(path: Path, map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a truncated or corrupt one, or one holding a NaN or
    an infinity (weights that would synthesise garbage without a word), is a
    :class:`DataError` naming the file and the tensor."""
    state = _read_safetensors(path, map_location)
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise DataError(f"{path}: tensor {name!r} holds {bad:,} NaN or infinite values of "
                            f"{tensor.numel():,}; these weights are unusable (a diverged or "
                            "damaged save)")
    return state


def _read_safetensors(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device=str(torch.device(map_location)))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise DataError(f"{path}: not a readable safetensors file, truncated or corrupt "
                        f"({str(err).splitlines()[0] if str(err) else type(err).__name__})"
                        ) from None


def check_plugins(meta: Mapping[str, Any], origin: Path) -> None:
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


def missing_plugin(backbone: str, plugin: Mapping[str, Any]) -> None:
    """Raise :class:`PluginError` naming what provides *backbone* (from a saved model's
    ``plugin`` record) when that is not loaded: the distribution to install, or the local
    module to add to ``GROUPSUP_PLUGINS``. Returns for a built-in or unrecorded backbone."""
    dist, version = plugin.get("distribution"), plugin.get("version", "")
    if dist == "(local)":
        where = plugin.get("location")
        hint = (f"add {where} to {PLUGINS_ENV}, e.g. {PLUGINS_ENV}={where}" if where else
                f"add its module or .py file to {PLUGINS_ENV}")
        raise PluginError(f"backbone {backbone!r} comes from local plugin "
                          f"{plugin.get('name')!r}, which is not loaded: {hint}")
    if dist and dist != "groupsup":
        raise PluginError(f"backbone {backbone!r} comes from distribution {dist} {version}, "
                          f"which is not installed: pip install {dist}")
