"""The ``ema`` callback: an exponential moving average of the model's weights.

After every optimiser step the average moves towards the weights by ``1 - decay`` (with the
usual warm-up ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so early weights do not
linger). When the loop is about to end (the step budget, the time budget, an interrupt or
``fit(until=...)``), the average replaces the model's weights before the last checkpoint, so
the saved model, the final sample sheet and ``groupsup evaluate`` see the averaged weights.
Periodic checkpoints hold the raw weights; a resumed run starts a fresh average from the
checkpoint's weights. Buffers (batch-norm statistics) are not averaged.

In a config: ``[[train.callbacks]]`` with ``name = "ema"``, ``decay = 0.999``.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from groupsup.groups import GroupBatch
from groupsup.hookspecs import Register, hookimpl
from groupsup.train.callbacks import Callback
from groupsup.train.loop import Loop


class WeightAverage(Callback):
    """Keeps an EMA of the model's parameters and puts it in the model when the loop ends."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        decay: float = Field(0.999, gt=0, lt=1, description="weight of the running average "
                             "per step (its horizon is about 1 / (1 - decay) steps)")

    def on_fit_start(self, loop: Loop) -> None:
        self.params = [p for p in loop.model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]
        self.updates = 0

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        self.updates += 1
        decay = min(self.config.decay, (1 + self.updates) / (10 + self.updates))  # type: ignore[attr-defined]
        with torch.no_grad():
            for average, param in zip(self.average, self.params):
                average.lerp_(param, 1 - decay)
        if self._ending(loop):
            with torch.no_grad():
                for average, param in zip(self.average, self.params):
                    param.copy_(average)

    @staticmethod
    def _ending(loop: Loop) -> bool:
        # the built-in StopConditions ran before this callback in the same step
        return (loop.stopped is not None or loop.step >= loop.config.train.steps
                or (loop.until is not None and loop.step >= loop.until))


@hookimpl
def register_callbacks(register: Register) -> None:
    register("ema", WeightAverage, description="exponential moving average of the weights, "
             "put in the model when training ends (before the last checkpoint)")
