"""``EvalContext``: what every evaluation step reads, and what earlier steps left for later ones.

:func:`groupsup.evaluate_run` builds one context per evaluation: the loaded model, the run's
dataset and split, the judge (given, or fitted by the ``judge`` step), the one seeded
generator every step draws from in turn, the output folder and the options. Steps add what
later steps need (the syntheses, the leakage and co-prediction results, the training codes)
and the metrics written so far (``metrics``, in ``metrics.json`` order).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from groupsup.data import GroupDataset
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.coprediction import CoPrediction
from groupsup.evaluate.judge import Judge
from groupsup.evaluate.leakage import Leakage
from groupsup.graph.splits import Split
from groupsup.model import SwapAutoencoder
from groupsup.registry import Registries
from groupsup.runs.options import EvalOptions

if TYPE_CHECKING:
    from groupsup.train.config import ExperimentConfig


@dataclass
class Syntheses:
    """The zero-shot syntheses of the ``synthesis`` step.

    ``targets (n,)`` ids; ``providers (n, A)`` ids (attribute j's block from
    ``providers[:, j]``); ``free (n,)`` ids of the unlabelled block's provider or ``None``;
    ``images``, ``truth`` ``(n, C, H, W)`` in [-1, 1]; ``combos (n, A)`` the target codes.
    """

    targets: np.ndarray
    providers: np.ndarray
    free: np.ndarray | None
    images: torch.Tensor
    truth: torch.Tensor
    combos: np.ndarray


@dataclass
class EvalContext:
    """One evaluation of one model. ``dataset`` is the run's dataset seen with the model's
    attributes; ``full`` the dataset as given (it may label attributes the model was trained
    without). ``test`` is ``None`` for a run without a split. ``step`` is the registered name
    of the step running."""

    run_dir: Path
    config: ExperimentConfig
    model: SwapAutoencoder
    full: GroupDataset
    dataset: GroupDataset
    train: np.ndarray
    test: np.ndarray | None
    out: Path
    options: EvalOptions
    rng: np.random.Generator
    registries: Registries
    judge: Judge | None = None
    judge_set: GroupDataset | None = None
    say: Callable[..., None] = print
    metrics: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    step: str = ""
    judge_seed: int | None = None
    syntheses: Syntheses | None = None
    leakage: Leakage | None = None
    leakage_bases: np.ndarray | None = None
    coprediction: CoPrediction | None = None
    codes: np.ndarray | None = None
    code_labels: np.ndarray | None = None

    @property
    def names(self) -> list[str]:
        """The model's attributes, in label-column order."""
        return list(self.model.schema.names)

    @property
    def free(self) -> str | None:
        """The name of the model's unlabelled block, or ``None``."""
        return self.model.partition.free

    @property
    def device(self) -> str:
        return self.options.device

    def draw(self, ids: np.ndarray, count: int) -> np.ndarray:
        """``min(count, len(ids))`` of *ids* without replacement, from the shared generator."""
        return self.rng.choice(ids, size=min(count, len(ids)), replace=False)

    def require(self, value: Any, what: str, step: str) -> Any:
        """*value*, or a ConfigError saying the step running needs step *step* first."""
        if value is None:
            raise ConfigError(f"evaluation step {self.step!r} needs {what} from step {step!r}, "
                              "which did not run before it")
        return value


def split_ids(run_dir: Path, dataset: GroupDataset, split: Split | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(train, test)`` ids of *dataset*: *split* when given, else ``RUN/split.json`` (no
    file: every example trains, ``test`` is ``None``). Raises :class:`DataError` when the ids
    do not fit *dataset* (a dataset other than the run's)."""
    if split is None:
        path = run_dir / "split.json"
        if not path.is_file():
            return np.arange(len(dataset)), None
        split = Split.from_dict(json.loads(path.read_text()))
        where = f"{path}"
    else:
        where = "the split passed to evaluate_run"
    ids = np.concatenate([split.train, split.test])
    if ids.size and (ids.min() < 0 or ids.max() >= len(dataset)):
        raise DataError(f"{where} names example {int(ids.max())} but dataset {dataset.name!r} "
                        f"has {len(dataset)}: evaluate the run with the dataset it was "
                        "trained on")
    if len(split.test) and len(split.held_out) and not np.array_equal(
            np.unique(dataset.labels[split.test], axis=0), split.held_out):
        raise DataError(f"{where}: the labels of dataset {dataset.name!r} at the held-out ids "
                        "are not the split's held-out combinations: evaluate the run with the "
                        "dataset it was trained on")
    return split.train, split.test


def eval_dir(run_dir: Path, out: str | Path | None) -> Path:
    """A fresh folder for one evaluation: *out* (refused when it already holds an
    evaluation's ``metrics.json``), else the next free ``RUN/eval/NNN``."""
    if out is not None:
        out = Path(out)
        if (out / "metrics.json").exists():
            raise ConfigError(f"{out} already holds an evaluation (metrics.json); choose "
                              "another --out or remove it")
        out.mkdir(parents=True, exist_ok=True)
        return out
    root = run_dir / "eval"
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name) for p in root.iterdir() if p.name.isdigit()]
    number = max(taken, default=0) + 1
    while True:  # mkdir is atomic: two evaluations started at once get different folders
        path = root / f"{number:03d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def run_dataset(config: ExperimentConfig, run_dir: Path,
                registries: Registries | None = None) -> GroupDataset:
    """The full dataset the run's stored *config* names (a registered dataset)."""
    from groupsup.train.resolve import build_dataset

    name = config.dataset.name
    if name.startswith("(python"):
        raise ConfigError(f"{run_dir} was trained on a dataset built in Python ({name}); pass "
                          "it as evaluate_run(run, dataset=...), or name a registered dataset: "
                          "groupsup evaluate RUN --dataset NAME --set dataset.options.KEY=VALUE")
    return build_dataset(config, registries)
