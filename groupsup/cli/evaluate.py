"""``groupsup evaluate RUN_DIR``: synthesis quality, swap accuracy and co-prediction."""

from __future__ import annotations

import argparse

from groupsup.cli import Command
from groupsup.hookspecs import hookimpl


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a training run directory")
    p.add_argument("--max-examples", type=int, default=512,
                   help="held-out examples to synthesise (default 512)")
    p.add_argument("--classifier-budget", type=float, default=60.0,
                   help="seconds to train the independent attribute classifier (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def _run(args: argparse.Namespace) -> int:
    from groupsup.evaluate.run import EvalOptions, evaluate_run

    options = EvalOptions(max_examples=args.max_examples,
                          classifier_budget=args.classifier_budget, seed=args.seed,
                          device=args.device)
    evaluate_run(args.run, options=options)
    print(f"wrote {args.run}/eval/metrics.json, synthesis.png, reconstructions.png, "
          "coprediction.png")
    return 0


@hookimpl
def register_commands(register):
    register("evaluate", Command("evaluate a trained run: zero-shot synthesis, swap accuracy, "
                                 "co-prediction", _configure, _run))
