"""Training: the experiment config, the trainer, checkpoints and distributed training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groupsup.data import GroupDataset
from groupsup.graph.splits import Split
from groupsup.model import SwapAutoencoder
from groupsup.train.callbacks import Callback
from groupsup.train.checkpoint import load_checkpoint
from groupsup.train.config import ExperimentConfig, load_config
from groupsup.train.lock import RunLockedError
from groupsup.train.loop import Loop
from groupsup.train.resolve import Resolved, build_dataset, resolve
from groupsup.train.trainer import NonFiniteLossError, RunResult, Trainer


def train(model: SwapAutoencoder, data: GroupDataset, *, strategy: str = "centre-cover",
          strategy_options: dict[str, Any] | None = None,
          losses: Sequence[str | dict[str, Any]] = ("recon", "swap", "cover"),
          distance: str = "l1", steps: int = 1000, groups_per_step: int = 4, lr: float = 1e-3,
          seed: int = 1, out: str | Path = "runs/experiment", resume: bool = False,
          split: Split | str | None = None, held_out: Sequence[dict[str, Any]] = (),
          split_options: dict[str, Any] | None = None, overwrite: bool = False,
          callbacks: Sequence[Callback] = (), **train_options: Any) -> RunResult:
    """Train *model* on *data* from Python objects (no registry look-up for either).

    ``losses`` lists term names or ``{term, weight, distance, options}`` dicts; further
    keyword arguments are ``train`` config keys (``time_budget``, ``device``, ...).
    ``split`` holds examples of *data* out of training: a :class:`~groupsup.Split` of *data*,
    or a split name as in ``[dataset] split`` (``"held-out"`` with ``held_out=[{...}]``,
    ``"random-combinations"`` with ``split_options``). The run's ``split.json`` records it, and
    :func:`groupsup.evaluate_run` evaluates the held-out side.
    ``resume=True`` continues the run in *out* from its latest checkpoint (a new run when it
    has none); ``overwrite=True`` deletes a previous run's files in *out* first. *callbacks*
    (:class:`~groupsup.Callback` instances) run in the loop after the built-in ones.
    """
    terms = [{"term": t} if isinstance(t, str) else dict(t) for t in losses]
    named = split if isinstance(split, str) else "none" if split is None else "(python)"
    config = load_config({
        "name": Path(out).name, "seed": seed,
        "dataset": {"name": f"(python: {data.name})", "split": named,
                    "split_options": split_options or {}, "held_out": list(held_out)},
        "model": {"backbone": model.backbone_name,
                  "options": model.config_dict()["backbone_config"]},
        "strategy": {"name": strategy, "options": strategy_options or {}},
        "loss": {"recipe": None, "terms": terms, "distance": distance},
        "optim": {"lr": lr},
        "train": {"steps": steps, "groups_per_step": groups_per_step, "out": str(out),
                  **train_options},
    })
    trainer = Trainer(config, dataset=data, model=model, overwrite=overwrite,
                      resume=out if resume and Path(out, "checkpoints").exists() else None,
                      split=split if isinstance(split, Split) else None, callbacks=callbacks)
    return trainer.fit()


__all__ = ["Callback", "ExperimentConfig", "Loop", "NonFiniteLossError", "Resolved",
           "RunLockedError", "RunResult", "Trainer", "build_dataset", "load_checkpoint",
           "load_config", "resolve", "train"]
