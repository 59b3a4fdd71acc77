"""``groupsup evaluate RUN_DIR``: the judge, swap accuracy, leakage, synthesis quality and
co-prediction, written to a fresh evaluation folder. The evaluation's flags are derived from
the fields of :class:`groupsup.EvalOptions`."""

from __future__ import annotations

import argparse

from groupsup.cli import Command, add_run_dataset, run_overrides
from groupsup.hookspecs import hookimpl
from groupsup.runs.options import EvalOptions


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a training run directory")
    p.add_argument("--out", default=None,
                   help="folder to write (default: the next free RUN_DIR/eval/NNN); one that "
                   "already holds an evaluation is refused")
    add_run_dataset(p, "evaluate on (needed for runs trained on a dataset built in Python)",
                    "dataset.options.root=/data/digits")
    p.add_argument("--judge-store", default=None, metavar="PATH",
                   help="a labelled store (same schema) for the judge to learn from instead of "
                   "the dataset's real images")
    EvalOptions.add_flags(p)
    p.add_argument("--track", choices=("mlflow",), default=None,
                   help="also add the evaluation to the run's MLflow run (a run trained with "
                   "--track mlflow)")


def _run(args: argparse.Namespace) -> int:
    from groupsup.data import GroupDataset
    from groupsup.runs.evaluate import evaluate_run

    options = EvalOptions.from_flags(args)  # over the run config's [evaluate] table
    overrides = run_overrides(args)
    judge_set = None if args.judge_store is None else GroupDataset.from_store(args.judge_store)
    metrics = evaluate_run(args.run, options=options, overrides=overrides, judge_set=judge_set,
                           out=args.out)
    print(f"wrote {metrics['out']}: metrics.json, report.md, report.html, synthesis.png, "
          "leakage.png, reconstructions.png, coprediction.png")
    if args.track == "mlflow":
        from groupsup.train.tracking import log_evaluation

        run_id = log_evaluation(args.run, metrics["out"], metrics)
        print(f"added to MLflow run {run_id}")
    return 0


@hookimpl
def register_commands(register):
    register("evaluate", Command("evaluate a trained run: judge, swap accuracy, leakage, "
                                 "zero-shot synthesis, co-prediction", _configure, _run))
