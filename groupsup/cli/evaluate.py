"""``groupsup evaluate RUN_DIR``: the judge, swap accuracy, leakage, synthesis quality and
co-prediction, written to a fresh evaluation folder."""

from __future__ import annotations

import argparse

from groupsup.cli import Command
from groupsup.evaluate.latent import DEFAULT_CODE_METRICS
from groupsup.hookspecs import hookimpl


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR", help="a training run directory")
    p.add_argument("--out", default=None,
                   help="folder to write (default: the next free RUN_DIR/eval/NNN); one that "
                   "already holds an evaluation is refused")
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help="a registered dataset to evaluate on instead of the one the run's config "
                   "names (its options then come from --set dataset.options.KEY=VALUE); needed "
                   "for runs trained on a dataset built in Python")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the run's stored config before its dataset is "
                   "loaded, e.g. dataset.options.root=/data/digits")
    p.add_argument("--judge-store", default=None, metavar="PATH",
                   help="a labelled store (same schema) for the judge to learn from instead of "
                   "the dataset's real images")
    p.add_argument("--judge-data", choices=("all", "train"), default="all",
                   help="the judge learns from all real images (default; held-out combinations "
                   "included) or the training split only")
    p.add_argument("--judge-folds", type=int, default=1,
                   help="1: score the judge on a held-out fifth of its images (default); K >= 2: "
                   "K-fold cross-validation, then a judge trained on all")
    p.add_argument("--max-examples", type=int, default=512,
                   help="held-out examples to synthesise (default 512)")
    p.add_argument("--classifier-steps", type=int, default=1500,
                   help="training steps of the judge (default 1500); fixes its numbers")
    p.add_argument("--classifier-budget", type=float, default=None,
                   help="optional upper bound in seconds on each training of the judge; "
                   "reported when hit (the numbers then depend on the machine's speed)")
    p.add_argument("--leakage-examples", type=int, default=256,
                   help="base images of the leakage matrix (default 256)")
    p.add_argument("--code-metrics", default=",".join(DEFAULT_CODE_METRICS), metavar="NAMES",
                   help="registered metrics of the training codes, comma-separated (default "
                   f"{','.join(DEFAULT_CODE_METRICS)}; see `groupsup plugins`)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def _run(args: argparse.Namespace) -> int:
    from groupsup.data import GroupDataset
    from groupsup.runs.evaluate import EvalOptions, evaluate_run

    options = EvalOptions(max_examples=args.max_examples, classifier_steps=args.classifier_steps,
                          classifier_budget=args.classifier_budget, judge_data=args.judge_data,
                          judge_folds=args.judge_folds, leakage_examples=args.leakage_examples,
                          seed=args.seed, device=args.device,
                          code_metrics=tuple(m.strip() for m in args.code_metrics.split(",")
                                             if m.strip()))
    overrides = list(args.overrides)
    if args.dataset is not None:  # the stored options belong to the stored dataset
        overrides = [f"dataset.name={args.dataset}", "dataset.options={}", *overrides]
    judge_set = None if args.judge_store is None else GroupDataset.from_store(args.judge_store)
    metrics = evaluate_run(args.run, options=options, overrides=overrides, judge_set=judge_set,
                           out=args.out)
    print(f"wrote {metrics['out']}: metrics.json, report.md, report.html, synthesis.png, "
          "leakage.png, reconstructions.png, coprediction.png")
    return 0


@hookimpl
def register_commands(register):
    register("evaluate", Command("evaluate a trained run: judge, swap accuracy, leakage, "
                                 "zero-shot synthesis, co-prediction", _configure, _run))
