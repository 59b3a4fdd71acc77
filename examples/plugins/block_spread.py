"""An evaluation step plugin: how much each latent block varies over the training codes.

    GROUPSUP_PLUGINS=examples/plugins/block_spread.py groupsup evaluate runs/shapes

adds ``block_spread`` to ``metrics.json``: per block of the partition, the mean standard
deviation of its dimensions over the codes the co-prediction step encoded, and which blocks
are collapsed (spread below ``--extra collapsed_below=VALUE``, default 0.01): a block that
hardly varies carries no attribute, whatever co-prediction reads from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import groupsup as gs


class BlockSpread(gs.EvaluationStep):
    """Per block, the mean standard deviation of its dimensions over the training codes
    ``ctx.codes (N, Z)`` that the ``coprediction`` step (order 60) leaves on the context."""

    order = 80.0  # after the code metrics (70), before the headline (90)

    def run(self, ctx: gs.EvalContext) -> dict[str, Any]:
        if ctx.codes is None:
            raise gs.ConfigError("block_spread needs the training codes of the coprediction "
                                 "step")
        floor = float(ctx.options.extra.get("collapsed_below", 0.01))
        spread, start = {}, 0
        for name, size in zip(ctx.model.partition.names, ctx.model.partition.sizes):
            spread[name] = float(np.std(ctx.codes[:, start:start + size], axis=0).mean())
            start += size
        collapsed = [name for name, value in spread.items() if value < floor]
        if collapsed:
            ctx.say(f"collapsed latent blocks (spread below {floor}): {', '.join(collapsed)}")
        return {"block_spread": {"spread": spread, "collapsed": collapsed,
                                 "collapsed_below": floor}}


@gs.hookimpl
def register_evaluations(register: Any) -> None:
    register("block_spread", BlockSpread(),
             description="per latent block, the spread of the training codes")
