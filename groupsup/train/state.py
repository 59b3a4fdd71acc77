"""The state training changes: model, loss terms' parameters, optimiser, schedule, scaler, step.

A :class:`TrainState` is what a checkpoint saves and restores (:mod:`groupsup.train.checkpoint`)
and what one optimiser step (:meth:`TrainState.train_step`) advances.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from groupsup.errors import GroupsupError
from groupsup.groups import GroupBatch
from groupsup.losses import LossRecipe
from groupsup.model import SwapAutoencoder
from groupsup.train.config import ExperimentConfig, OptimConfig, TrainConfig
from groupsup.train.runtime import Runtime


class NonFiniteLossError(GroupsupError):
    """Training diverged: the loss, the weights or the optimiser state became NaN or
    infinite. Nothing is saved from the bad step; the last good checkpoint is kept."""


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


class LearningRate:
    """The factor on ``optim.lr`` at a step: warm-up, then constant, cosine or WSD decay over
    ``train.steps`` or (``optim.schedule_by = "time"``) over the time budget since
    :attr:`started` (``time.perf_counter()`` at the start of ``fit``)."""

    def __init__(self, optim: OptimConfig, train: TrainConfig) -> None:
        self.optim, self.train = optim, train
        self.started: float | None = None

    def factor(self, step: int) -> float:
        o, cfg = self.optim, self.train
        warm = min(1.0, (step + 1) / o.warmup_steps) if o.warmup_steps else 1.0
        if o.schedule == "constant":
            return warm
        done = min(step, cfg.steps) / cfg.steps
        if o.schedule_by == "time" and self.started is not None and cfg.time_budget:
            # the budget usually ends first: decay over the wall clock of this fit()
            elapsed = time.perf_counter() - self.started
            done = max(done, min(1.0, elapsed / cfg.time_budget))
        if o.schedule == "wsd":
            return warm * min(1.0, (1.0 - done) / o.decay_fraction)
        return warm * 0.5 * (1 + math.cos(math.pi * done))


def build_optimizer(optim: OptimConfig, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
    cls = torch.optim.Adam if optim.name == "adam" else torch.optim.AdamW
    kwargs: dict[str, Any] = {"lr": optim.lr, "betas": optim.betas,
                              "weight_decay": optim.weight_decay}
    params = [p for p in parameters if p.requires_grad]
    try:  # the fused kernel is 1.2-1.6x faster per step where it exists
        return cls(params, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return cls(params, **kwargs)


class TrainState:
    """The model (placed on the runtime's device), the parameters its loss terms own, the
    optimiser, the learning-rate schedule, the AMP scaler and the step count."""

    def __init__(self, model: SwapAutoencoder, recipe: LossRecipe, config: ExperimentConfig,
                 runtime: Runtime) -> None:
        self.config, self.runtime = config, runtime
        self.model: SwapAutoencoder = runtime.place(model)  # type: ignore[assignment]
        self.recipe = recipe
        # parameters owned by loss terms (e.g. classifier heads): optimised and checkpointed
        self.terms = recipe.build(self.model).to(runtime.device)
        self.step_module = runtime.wrap(_StepModule(self.model, recipe))
        self.optimizer = build_optimizer(config.optim, self.parameters())
        self.learning_rate = LearningRate(config.optim, config.train)
        # a bound method, not the object: LambdaLR's state_dict would pickle a callable
        # object's attributes (the configs) into training.pt, which loads weights-only
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           self.learning_rate.factor)
        self.scaler = runtime.grad_scaler()
        self.step = 0

    def parameters(self) -> list[nn.Parameter]:
        """The model's parameters, then those its loss terms own."""
        return [*self.model.parameters(), *self.terms.parameters()]

    def train_step(self, images: torch.Tensor, batch: GroupBatch, labels: np.ndarray,
                   last_checkpoint: Path | None = None) -> dict[str, float]:
        """One optimiser step on *images* ``(M, C, H, W)`` of ``batch.examples`` with their
        *labels* ``(M, A)``; returns the (process-averaged) loss values. A non-finite loss
        is a :class:`NonFiniteLossError` naming *last_checkpoint*, before any update."""
        images = self.runtime.images(images)
        self.step_module.train()
        with self.runtime.autocast():
            total, terms = self.step_module(images, batch, labels)
        if not torch.isfinite(total):
            where = (f"the last good checkpoint is {last_checkpoint}"
                     if last_checkpoint else "no checkpoint was written yet")
            values = {k: float(v) for k, v in terms.items()}
            raise NonFiniteLossError(
                f"non-finite loss {float(total.detach())} at step {self.step + 1} (terms "
                f"{values}); {where}. Lower optim.lr or set optim.grad_clip")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.config.optim.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.parameters(), self.config.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        values = torch.stack([total.detach().float(), *(v.float() for v in terms.values())])
        return dict(zip(["loss", *terms], self.runtime.mean(values).tolist()))

    def state_dict(self) -> dict[str, Any]:
        """``{"model": weights, "training": {optimizer, scheduler, scaler, terms, step}}``,
        the terms' tensors detached on the CPU."""
        terms = {k: v.detach().cpu() for k, v in self.terms.state_dict().items()}
        return {"model": self.model.state_dict(),
                "training": {"optimizer": self.optimizer.state_dict(),
                             "scheduler": self.scheduler.state_dict(),
                             "scaler": self.scaler.state_dict(), "terms": terms,
                             "step": self.step}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (``training["terms"]`` may be absent)."""
        training = state["training"]
        self.model.load_state_dict(state["model"])
        self.terms.load_state_dict(training.get("terms", {}))
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        self.scaler.load_state_dict(training["scaler"])
        self.step = int(training["step"])
