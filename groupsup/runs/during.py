"""Evaluation during training: the ``evaluate`` callback.

Every ``every`` steps (and after the last step) it measures, on rank 0 and with the model in
memory, what :func:`groupsup.evaluate_run` reports first, on a fixed draw of examples so that
the numbers form a curve: the reconstruction PSNR/SSIM of training examples, and the PSNR/SSIM
of zero-shot synthesis of held-out test examples (of training examples for a run without a
split), whose attribute blocks come from training providers (:func:`draw_providers`). Each
evaluation appends one record to ``RUN/evaluations.jsonl``::

    {"step": 500, "reconstruction_psnr": 24.1, "reconstruction_ssim": 0.81,
     "synthesis_psnr": 19.7, "synthesis_ssim": 0.66, "held_out": true, "n": 64, "seconds": 0.4}

In a config: ``[[train.callbacks]]`` with ``name = "evaluate"``, ``every = 500``; from
Python: ``Trainer(config, callbacks=[EvaluateDuringTraining(every=500)])``. A resumed run
drops the records after its checkpoint's step, as it does for ``metrics.jsonl``. The judge,
leakage and the disentanglement metrics take minutes and stay in ``groupsup evaluate``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from groupsup.data import GroupDataset
from groupsup.errors import DataError
from groupsup.evaluate.arrays import json_float
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.groups import GroupBatch
from groupsup.hookspecs import Register, hookimpl
from groupsup.runs.zeroshot import draw_providers, synthesize
from groupsup.train.callbacks import Callback
from groupsup.train.loop import Loop
from groupsup.train.rundir import truncate_metrics

EVALUATIONS_FILE = "evaluations.jsonl"


class EvaluateDuringTraining(Callback):
    """Quick held-out metrics every ``every`` steps into ``RUN/evaluations.jsonl``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        every: int = Field(500, gt=0, description="evaluate every this many steps")
        examples: int = Field(64, gt=0, description="examples reconstructed and synthesised")
        seed: int = Field(0, description="seeds the fixed draw of examples and providers")

    def __init__(self, config: BaseModel | None = None, **options: Any) -> None:
        super().__init__(self.Config(**options) if config is None else config)

    def on_fit_start(self, loop: Loop) -> None:
        if not loop.is_main:
            return
        truncate_metrics(loop.run_dir, loop.step, EVALUATIONS_FILE)
        n = self.config.examples
        data: GroupDataset = loop.full_dataset
        split = loop.split
        train = np.arange(len(data)) if split is None else split.train
        test = None if split is None or not len(split.test) else split.test
        rng = np.random.default_rng(self.config.seed)
        self.recon = rng.choice(train, size=min(n, len(train)), replace=False)
        targets = train if test is None else test
        self.targets = rng.choice(targets, size=min(n, len(targets)), replace=False)
        self.held_out = test is not None
        try:
            self.providers = draw_providers(data.labels, train, data.labels[self.targets], rng)
        except DataError as err:
            raise DataError(f"train.callbacks 'evaluate': {err}") from None
        # the unlabelled block, if any, from a random training image (as groupsup evaluate)
        self.free = (None if loop.model.partition.free is None
                     else rng.choice(train, size=len(self.targets)))
        self.evaluated = -1

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        if loop.is_main and loop.step % self.config.every == 0:
            self.evaluate(loop)

    def on_fit_end(self, loop: Loop) -> None:
        if loop.is_main and self.evaluated != loop.step:
            self.evaluate(loop)

    @torch.no_grad()
    def evaluate(self, loop: Loop) -> dict[str, Any]:
        """Measure the model now; append the record to ``RUN/evaluations.jsonl``; return it."""
        started = time.perf_counter()
        model, data, device = loop.model, loop.full_dataset, str(loop.device)
        was_training = model.training
        model.eval()
        try:
            truth = data.load(self.recon)
            recon = torch.cat([model.reconstruct(truth[i:i + 256].to(device)).cpu()
                               for i in range(0, len(truth), 256)])
            synth = synthesize(model, data, self.providers, device, free=self.free)
        finally:
            model.train(was_training)
        rec = synthesis_quality(recon, truth, data_range=2.0).overall
        syn = synthesis_quality(synth, data.load(self.targets), data_range=2.0).overall
        record = {"step": loop.step, "reconstruction_psnr": json_float(rec["psnr"]),
                  "reconstruction_ssim": json_float(rec["ssim"]),
                  "synthesis_psnr": json_float(syn["psnr"]),
                  "synthesis_ssim": json_float(syn["ssim"]),
                  "held_out": self.held_out, "n": len(self.targets),
                  "seconds": round(time.perf_counter() - started, 3)}
        with open(loop.run_dir / EVALUATIONS_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.evaluated = loop.step
        return record


@hookimpl
def register_callbacks(register: Register) -> None:
    register("evaluate", EvaluateDuringTraining,
             description="quick held-out PSNR/SSIM every N steps into RUN/evaluations.jsonl")
