"""A training callback plugin: stop a run whose loss has stopped improving.

    GROUPSUP_PLUGINS=examples/plugins/plateau_stop.py groupsup train experiment.toml

with, in the config::

    [[train.callbacks]]
    name = "plateau-stop"
    patience = 5        # logged steps without improvement before stopping
    min_delta = 0.01    # an improvement is a drop of at least 1% of the best loss

The run ends as every run does (its last checkpoint, sheets and ``metrics.jsonl``), with
``stopped = "plateau"`` in its result; ``--resume`` continues it like any stopped run.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs


class PlateauStop(gs.Callback):
    """Watches the loss of each logged step (``loop.last``, what ``metrics.jsonl`` gets) and
    stops the loop after ``patience`` logged steps without a relative drop of ``min_delta``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        patience: int = Field(5, ge=1, description="logged steps without improvement")
        min_delta: float = Field(0.01, ge=0, description="relative drop that counts as one")

    def on_fit_start(self, loop: gs.Loop) -> None:
        self.best, self.waited = float("inf"), 0

    def on_step_end(self, loop: gs.Loop, values: dict[str, float], batch: gs.GroupBatch
                    ) -> None:
        if loop.last.get("step") != loop.step:  # not a logged step
            return
        loss = loop.last["loss"]
        if self.best == float("inf") or loss < self.best * (1 - self.config.min_delta):
            self.best, self.waited = loss, 0
            return
        self.waited += 1
        if self.waited >= self.config.patience:
            loop.stop("plateau")


@gs.hookimpl
def register_callbacks(register: Any) -> None:
    register("plateau-stop", PlateauStop,
             description="stop when the logged loss has not improved for a while")
