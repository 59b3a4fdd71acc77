"""The run behind ``groupsup explore``, loaded once: its model, dataset and split, the names a
request may use, the ground truth of a combination, and the listings the page asks for
(``GET /api/info``, ``/api/examples``, ``/api/run``).

:class:`LoadedRun` holds no state that changes after loading, so the server's threads share it
without a lock; what changes (cached codes, uploads) lives in :mod:`groupsup.explore.memory`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from groupsup.data import GroupDataset, to_tensor
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.image_quality import mse, psnr
from groupsup.explore import checks
from groupsup.explore.checks import Limits, Provider, RequestError
from groupsup.explore.runinfo import finite, latest_evaluation, training_curves
from groupsup.model import load_model
from groupsup.persistence import LATEST, find_checkpoint
from groupsup.registry import Registries
from groupsup.runs.context import run_dataset, split_ids
from groupsup.train.config import load_config
from groupsup.train.resolve import host_registries

__all__ = ["LoadedRun", "find_run_dir"]


def find_run_dir(path: Path) -> Path:
    """The run directory of *path*: itself, or the run a checkpoint directory belongs to
    (``RUN/checkpoints/step-N``)."""
    for candidate in (path, *path.parents[:2]):
        if (candidate / "config.json").is_file():
            return candidate
    raise ConfigError(f"{path}: not a training run or checkpoint (no config.json in it or "
                      "above it)")


class LoadedRun:
    """A run's checkpoint, config, dataset, model and split, checked to fit one another.

    *run*: a run directory or one of its checkpoint directories (the model is that checkpoint;
    for a run, its latest). *dataset*: the full dataset it was trained on (default: the
    registered dataset its config names, after *overrides* such as
    ``["dataset.options.path=..."]``).
    """

    def __init__(self, run: str | Path, *, dataset: GroupDataset | None = None,
                 overrides: list[str] | None = None, device: str = "cpu",
                 registries: Registries | None = None):
        path = Path(run)
        registries = host_registries(registries)
        self.checkpoint = find_checkpoint(path)
        self.run_dir = find_run_dir(path)
        self.config = load_config(self.run_dir / "config.json", overrides or [])
        self.dataset = dataset if dataset is not None else run_dataset(
            self.config, self.run_dir, registries)
        self.model = load_model(self.checkpoint, device, registries=registries).eval()
        self.names = list(self.model.schema.names)
        self.free: str | None = self.model.partition.free  # the unlabelled block's name
        # what a composition takes a provider for: every attribute, then the unlabelled block
        self.blocks = [*self.names, *([self.free] if self.free else [])]
        if list(self.dataset.schema.names) != self.names or tuple(
                self.dataset.image_shape) != tuple(self.model.image_shape):
            raise DataError(f"{self.run_dir}: dataset {self.dataset.name!r} (attributes "
                            f"{list(self.dataset.schema.names)}, images "
                            f"{self.dataset.image_shape}) does not fit the model (attributes "
                            f"{self.names}, images {tuple(self.model.image_shape)})")
        self.train, test = split_ids(self.run_dir, self.dataset, None)
        self.held_out = np.zeros(len(self.dataset), dtype=bool)
        if test is not None:
            self.held_out[test] = True
        self.values = [list(a.values) for a in self.model.schema.attributes]
        # every label row -> (first example, count): ground truth of a composed combination
        rows, first, counts = np.unique(self.dataset.labels, axis=0, return_index=True,
                                        return_counts=True)
        self._combos = {tuple(r): (int(i), int(c)) for r, i, c in zip(rows.tolist(), first,
                                                                      counts)}

    # ------------------------------------------------------------------ names in requests
    def attribute(self, value: Any, field: str = "attribute") -> int:
        """The index of the attribute named *value*."""
        if not isinstance(value, str) or value not in self.names:
            raise RequestError(field, f"unknown attribute {value!r}; one of {self.names}")
        return self.names.index(value)

    def block(self, value: Any, field: str = "attribute") -> str:
        """The name of an attribute or of the unlabelled block."""
        if not isinstance(value, str) or value not in self.blocks:
            free = "" if self.free is None else (f" ({self.free!r} is the unlabelled block: "
                                                 "the image whose unnamed variation to keep)")
            raise RequestError(field, f"unknown attribute {value!r}; one of {self.blocks}{free}")
        return value

    def columns(self, name: str) -> slice:
        """The latent columns of block *name* (an attribute's or the unlabelled one)."""
        if name not in self.model.partition.names:
            raise RequestError("attribute", f"{name!r} has no latent block of its own")
        return self.model.partition.slice(name)

    def named(self, codes: list[int] | None) -> dict[str, str | None] | None:
        """``{attribute: value name}`` of label *codes* (``None`` for a missing label)."""
        if codes is None:
            return None
        return {n: (self.values[j][c] if c >= 0 else None)
                for j, (n, c) in enumerate(zip(self.names, codes))}

    # ------------------------------------------------------------------ ground truth
    def labels_of(self, provider: Provider) -> list[int] | None:
        """The label codes of an example; ``None`` for an upload (it has none)."""
        return None if isinstance(provider, str) else self.dataset.labels[provider].tolist()

    def truth(self, combination: list[int] | None, image: np.ndarray) -> dict[str, Any]:
        """The ground truth of *combination* where the data holds it, and the error of *image*
        ``(H, W, C)`` uint8 against it (MSE and PSNR on images in [-1, 1])."""
        found = None if combination is None or min(combination) < 0 else self._combos.get(
            tuple(combination))
        if found is None:
            return {"truth": None, "instances": 0, "error": None}
        first, count = found
        pred, real = to_tensor(image[None]), self.dataset.load([first])
        return {"truth": first, "instances": count,
                "held_out": bool(self.held_out[first]),
                "error": {"mse": float(mse(pred, real).mean),
                          "psnr": finite(psnr(pred, real, data_range=2.0).mean)}}

    # ------------------------------------------------------------------ listings
    def info(self, limits: Limits) -> dict[str, Any]:
        """What the page needs first: attributes and values, the latent blocks (the unlabelled
        one, if any, last and flagged; ``free`` is its name or ``None``), sizes, held-out
        combinations, the server's *limits*."""
        c, h, w = self.model.image_shape
        held = np.unique(self.dataset.labels[self.held_out], axis=0)
        return {"run": str(self.run_dir), "checkpoint": self.checkpoint.name,
                "name": self.config.name,
                "attributes": [{"name": n, "values": v} for n, v in zip(self.names, self.values)],
                "blocks": [{"name": n, "latent": w, "unlabelled": n == self.free}
                           for n, w in self.model.partition],
                "free": self.free,
                "image": {"channels": c, "height": h, "width": w},
                "examples": len(self.dataset), "train": len(self.train),
                "held_out_examples": int(self.held_out.sum()),
                "held_out": [self.named(r) for r in held.tolist()],
                "limits": {"json_bytes": limits.json_bytes,
                           "upload_bytes": limits.upload_bytes,
                           "upload_formats": list(checks.UPLOAD_FORMATS), "page": limits.page,
                           "sweep": limits.sweep}}

    def examples(self, query: Mapping[str, str], limits: Limits) -> dict[str, Any]:
        """A page of examples matching ``{attribute: value name}`` filters, plus ``held_out``
        ("1"/"0"), ``offset`` and ``limit`` (at most ``limits.page``): ``{"total", "examples":
        [{id, labels, held_out}]}``."""
        keep = np.ones(len(self.dataset), dtype=bool)
        offset = checks.query_int(query.get("offset", "0"), "offset", 0, len(self.dataset))
        limit = checks.query_int(query.get("limit", "100"), "limit", 1, limits.page)
        for key, value in query.items():
            if key in ("offset", "limit"):
                continue
            if key == "held_out":
                if value not in ("0", "1"):
                    raise RequestError(key, f"expected 0 or 1, got {value!r}")
                keep &= self.held_out == (value == "1")
                continue
            k = self.attribute(key, key)
            if value not in self.values[k]:
                raise RequestError(key, f"unknown value {value!r} of {key!r}")
            keep &= self.dataset.labels[:, k] == self.values[k].index(value)
        ids = np.flatnonzero(keep)
        page = ids[offset:offset + limit]
        return {"total": len(ids), "offset": offset, "limit": limit,
                "examples": [{"id": int(i), "labels": self.named(self.dataset.labels[i].tolist()),
                              "held_out": bool(self.held_out[i])} for i in page]}

    def run_info(self) -> dict[str, Any]:
        """The run's training curves (``metrics.jsonl``, downsampled), the latest evaluation's
        headline, leakage and co-prediction matrices (``None`` before any; their last block row
        is the unlabelled block's, named by ``free``)."""
        latest = self.run_dir / "checkpoints" / LATEST
        return {"run": str(self.run_dir), "checkpoint": self.checkpoint.name, "free": self.free,
                "latest": latest.read_text().strip() if latest.is_file() else None,
                "curves": training_curves(self.run_dir),
                "evaluation": latest_evaluation(self.run_dir)}
