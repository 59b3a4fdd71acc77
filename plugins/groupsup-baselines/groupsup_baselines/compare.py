"""``groupsup compare CONFIG... --budget SECONDS --out DIR``: train and evaluate under one budget.

Each config is resolved (:func:`groupsup.resolve`) and trains with the same
:class:`groupsup.Trainer` for the same wall-clock training budget (``train.time_budget``;
``train.out`` becomes ``DIR/<config file stem>``, or ``DIR/<stem>/seed-<seed>`` with
``--seeds N``, which trains seeds ``seed, seed + 1, ...`` of each config on the split of its
first seed; ``--seeds-for STEM=N`` gives one config N seeds), then
:func:`~groupsup.evaluate_run` evaluates it with the same options (the flags of
:class:`groupsup.EvalOptions`, derived from its fields as ``groupsup evaluate``'s are).
``--jobs N`` trains N runs at a time in worker processes (:func:`train_all`), every run at
the same share of the machine; evaluation follows in this process. The judge is fitted once
per dataset and split (:func:`groupsup.fit_shared_judge`) and reads every run's syntheses, so
the rows are comparable. A run whose backbone is ``vae``
has no trained partition (unless its loss is ML-VAE's, whose blocks are trained per attribute):
its latent dimensions are assigned to attributes by
:class:`~groupsup_baselines.search.PartitionSearch` first (written to
``RUN/eval/partition_search.json``). A StarGAN run is evaluated through
:class:`~groupsup_baselines.stargan.TrueLabels` (its label blocks get the providers' labels);
the codes of StarGAN and ELEGANT runs carry the source image's pixels
(:data:`SOURCE_BACKBONES`), so their code-based measures (co-prediction, MIG, DCI, ...) are
not applicable: left out of the evaluation and ``n/a`` in the table. ``--curve-points K`` also
evaluates every run at K regular points of its budget (:mod:`groupsup_baselines.curves`).
Writes ``DIR/compare.md`` (the table, mean ± std over seeds), ``DIR/compare.json`` (every
run's row and curve, the per-config summary, the full configs and options: provenance), one
bar chart per metric (``DIR/compare-<metric>.png``) and, with curves,
``DIR/compare-curves-{seconds,steps}.png``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import groupsup as gs
from groupsup.evaluate import Judge
from groupsup.fileio import atomic_write_text
from groupsup_baselines.compare_args import (
    check_arguments,
    parse_seeds_for,
    shared_evaluation_table,
)
from groupsup_baselines.curves import CurvePoints, curve_record, plot_curves, tail_gain
from groupsup_baselines.mlvae import MLVAEKL, MLVAERecon
from groupsup_baselines.search import PartitionSearch
from groupsup_baselines.stargan import TrueLabels
from groupsup_baselines.table import (
    METRICS,
    machines_of,
    markdown_table,
    plot_metrics,
    summarise_seeds,
)

__all__ = ["METRICS", "PARTITIONED_TERMS", "SOURCE_BACKBONES", "compare", "needs_search",
           "summarise"]

# loss terms that train the partition of a ``vae`` model, so no search is needed (ML-VAE)
PARTITIONED_TERMS = frozenset({MLVAERecon.name, MLVAEKL.name})
# backbones whose code carries the source image's pixels (StarGAN, ELEGANT): a probe of the
# code reads every attribute off them, so code-based measures do not apply
SOURCE_BACKBONES = frozenset({"stargan", "elegant"})


def needs_search(config: gs.ExperimentConfig) -> bool:
    """Whether a run has no trained partition, so evaluation must search one: the ``vae``
    backbone, unless a term of its loss trains one (ML-VAE's, :data:`PARTITIONED_TERMS`)."""
    if config.model.backbone != "vae":
        return False
    loss = config.loss
    terms = ([t["term"] for t in loss.terms] if loss.terms is not None
             else [spec.term for spec in gs.build_recipe(loss.recipe).specs])
    return not PARTITIONED_TERMS.intersection(terms)


def summarise(name: str, config: gs.ExperimentConfig, result: gs.RunResult,
              metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison from a training result and its evaluation metrics."""
    loss = config.loss
    source = config.model.backbone in SOURCE_BACKBONES
    return {
        "name": name, "backbone": config.model.backbone,
        "loss": loss.recipe if loss.terms is None else "+".join(t["term"] for t in loss.terms),
        "steps": result.step, "train_seconds": round(result.wall_time, 1),
        "searched_partition": needs_search(config),
        "psnr": metrics["synthesis"]["psnr"], "ssim": metrics["synthesis"]["ssim"],
        "mse": metrics["synthesis"]["mse"],
        "best_provider_psnr": metrics["synthesis"]["baseline_best_provider_psnr"],
        "reconstruction_psnr": metrics["reconstruction"]["psnr"],
        "swap_accuracy": metrics["swap_accuracy"]["mean"],
        "swap_all_correct": metrics["swap_accuracy"]["all_correct"],
        "leakage": metrics["leakage"]["off_diagonal_mean"],
        "judge_accuracy": metrics["classifier"]["mean_accuracy"],
        "judge_unreliable": metrics["classifier"]["unreliable"],
        "coprediction_diagonal": None if source else metrics["coprediction"]["diagonal_mean"],
        "coprediction_off_diagonal": (None if source
                                      else metrics["coprediction"]["off_diagonal_mean"]),
        "machine": metrics.get("training_machine"),
    }


class SharedData:
    """Per dataset section and data seed of the configs: the dataset, its split and the judge
    (fitted at first use); ``fits`` counts the judges fitted."""

    def __init__(self, options: gs.EvalOptions) -> None:
        self.options = options
        self.entries: dict[str, dict[str, Any]] = {}
        self.fits = 0

    def data(self, config: gs.ExperimentConfig) -> dict[str, Any]:
        key = json.dumps([config.to_dict()["dataset"], config.seed], sort_keys=True)
        if key not in self.entries:
            first = gs.resolve(config)
            self.entries[key] = {"dataset": first.dataset, "split": first.split, "judge": None}
        return self.entries[key]

    def judge(self, entry: dict[str, Any]) -> Judge:
        if entry["judge"] is None:
            entry["judge"] = gs.fit_shared_judge(entry["dataset"], entry["split"],
                                                 self.options)
            self.fits += 1
        return entry["judge"]


def evaluate_point(run_dir: Path, config: gs.ExperimentConfig, dataset: gs.GroupDataset,
                   judge: Judge, options: gs.EvalOptions, *, checkpoint: str | None, out: Path,
                   report: bool, progress: bool) -> dict[str, Any]:
    """Evaluate the run's latest checkpoint (or *checkpoint*) into *out* with the shared
    *judge*; through a searched partition when the run has none (:func:`needs_search`), through
    the true labels for StarGAN, without code metrics for :data:`SOURCE_BACKBONES`."""
    adapt = (PartitionSearch(seed=options.seed, out=out / "partition_search.json")
             if needs_search(config)
             else TrueLabels() if config.model.backbone == "stargan" else None)
    if config.model.backbone in SOURCE_BACKBONES:
        options = options.model_copy(update={"code_metrics": ()})
    return gs.evaluate_run(run_dir, dataset=dataset, options=options,
                           progress=progress and report, adapt=adapt, judge=judge,
                           checkpoint=checkpoint, out=out, report=report)


@dataclass(frozen=True)
class Job:
    """One training of the comparison: config *name* (its file stem), run *run_name*, the run's
    full config and the config whose dataset section and seed fix the data and split."""

    name: str
    run_name: str
    config: dict[str, Any]
    data_config: dict[str, Any]


@dataclass
class Trained:
    """What a job's training hands to the evaluation: the result and the curve points taken,
    and the split's fingerprint (the held-out rows the run trained without)."""

    result: gs.RunResult
    points: list[dict[str, Any]]
    split: str


def split_fingerprint(split: gs.Split | None) -> str:
    """A short digest of a split's held-out rows (which a worker must share with the parent)."""
    if split is None:
        return "none"
    held = np.sort(np.asarray(split.test, dtype=np.int64))
    return hashlib.sha256(held.tobytes()).hexdigest()[:16]


# a worker process's datasets and splits (its judges are never fitted: evaluation stays in the
# parent); a worker trains several jobs, most on one dataset
_WORKER_SHARED: SharedData | None = None


def train_job(job: Job, budget: float, curve_points: int, progress: bool,
              shared: SharedData | None = None) -> Trained:
    """Train *job* for *budget* seconds on the data of *shared* (the parent's), or, in a worker
    of ``--jobs``, on the worker's own :class:`SharedData`."""
    global _WORKER_SHARED
    if shared is None:
        _WORKER_SHARED = _WORKER_SHARED or SharedData(gs.EvalOptions())
        shared = _WORKER_SHARED
    config = gs.load_config(job.config)
    entry = shared.data(gs.load_config(job.data_config))
    if progress:
        print(f"[{job.run_name}] training {config.model.backbone} / "
              f"{'custom terms' if config.loss.terms else config.loss.recipe} for {budget:g} s",
              flush=True)
    resolved = gs.resolve(config, dataset=entry["dataset"], split=entry["split"])
    points = CurvePoints(budget, curve_points) if curve_points > 1 else None
    result = gs.Trainer(config, resolved=resolved, callbacks=[points] if points else []).fit()
    if progress:
        print(f"[{job.run_name}] {result.step} steps in {result.wall_time:.0f} s", flush=True)
    return Trained(result, points.points_taken if points else [],
                   split_fingerprint(entry["split"]))


def plan(names: Sequence[str], loaded: Sequence[gs.ExperimentConfig], out: Path,
         seeds: dict[str, int], threads: int | None) -> list[Job]:
    """Every training of the comparison, in table order (configs, then seeds)."""
    jobs = []
    for name, base in zip(names, loaded):
        count = seeds[name]
        for k in range(count):
            seed = base.seed + k
            run_name = name if count == 1 else f"{name}/seed-{seed}"
            extra = [f"seed={seed}", f"train.out={out / run_name}"]
            if threads and base.train.threads is None:
                extra.append(f"train.threads={threads}")
            config = gs.load_config(base.to_dict(), extra)
            jobs.append(Job(name, run_name, config.to_dict(), base.to_dict()))
    return jobs


def train_all(jobs: Sequence[Job], shared: SharedData, *, budget: float, curve_points: int,
              workers: int, progress: bool) -> list[Trained]:
    """Train every job: here one after another, or *workers* at a time in worker processes
    (each at ``cpu_count // workers`` torch threads unless the config sets ``train.threads``),
    so that every run has the same budget and the same share of the machine."""
    for job in jobs:
        run_dir = Path(job.config["train"]["out"])
        if run_dir.exists():
            shutil.rmtree(run_dir)
    if workers <= 1:
        return [train_job(job, budget, curve_points, progress, shared) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(train_job, job, budget, curve_points, progress)
                   for job in jobs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def compare(configs: Sequence[str | Path], *, budget: float, out: str | Path,
            overrides: Sequence[str] = (), options: gs.EvalOptions | None = None,
            progress: bool = True, command: str | None = None, curve_points: int = 0,
            seeds: int = 1, seeds_for: dict[str, int] | None = None,
            workers: int = 1) -> dict[str, Any]:
    """Train and evaluate every config (*seeds* seeds each, or ``seeds_for[stem]``) under
    *budget* seconds of training, *workers* trainings at a time, with learning curves of
    *curve_points* points when > 1; write the comparison into *out*; return what
    ``compare.json`` holds."""
    seeds_for = dict(seeds_for or {})
    names = [Path(c).stem for c in configs]
    check_arguments(names, budget=budget, seeds=seeds, seeds_for=seeds_for,
                    curve_points=curve_points, workers=workers)
    out = Path(out)
    say = print if progress else (lambda *a, **k: None)
    # validate every config before the first (long) training starts
    loaded = [gs.load_config(path, [*overrides, f"train.time_budget={budget}"])
              for path in configs]
    options = (options or gs.EvalOptions()).over(shared_evaluation_table(configs, loaded))
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    jobs = plan(names, loaded, out, {n: seeds_for.get(n, seeds) for n in names}, threads)
    shared = SharedData(options)
    trained = train_all(jobs, shared, budget=budget, curve_points=curve_points,
                        workers=workers, progress=progress)
    rows, curves = [], {}
    for job, done in zip(jobs, trained):
        say(f"[{job.run_name}] {done.result.step} steps; evaluating", flush=True)
        row, curve = evaluate_job(job, done, shared, curve_points=curve_points,
                                  progress=progress)
        rows.append(row)
        if curve:
            curves[job.run_name] = curve
    summary = summarise_seeds(rows)
    first, differing = machines_of(rows)
    for name, diff in differing.items():
        say(f"[{name}] trained on another machine than {rows[0]['name']}: "
            + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in diff.items()))
    document = {"budget_seconds": budget, "seeds": seeds, "seeds_for": seeds_for,
                "jobs": workers, "curve_points": curve_points,
                "command": command, "overrides": list(overrides),
                "evaluation": options.record(),
                "judges_fitted": shared.fits, "rows": rows, "summary": summary,
                "curves": curves, "configs": {job.run_name: job.config for job in jobs},
                "machine": first, "machine_differences": differing}
    atomic_write_text(out / "compare.json", json.dumps(document, indent=2))
    atomic_write_text(out / "compare.md", markdown_table(document))
    plot_metrics(summary, out)
    if curves:
        plot_curves(curves, out)
    return document


def evaluate_job(job: Job, done: Trained, shared: SharedData, *, curve_points: int,
                 progress: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The table row of one trained job and its learning curve (empty without curve points),
    evaluated with the shared judge of its dataset and split."""
    config = gs.load_config(job.config)
    entry = shared.data(gs.load_config(job.data_config))
    if done.split != split_fingerprint(entry["split"]):
        raise gs.DataError(f"[{job.run_name}] the worker's split differs from this "
                           f"process's ({done.split} != {split_fingerprint(entry['split'])}): "
                           "the dataset or split is not deterministic")
    run_dir, result = Path(job.config["train"]["out"]), done.result
    evaluate = functools.partial(evaluate_point, run_dir, config, entry["dataset"],
                                 shared.judge(entry), shared.options, progress=progress)
    metrics = evaluate(checkpoint=None, out=run_dir / "eval", report=True)
    row = {**summarise(job.run_name, config, result, metrics), "config": job.name,
           "seed": config.seed}
    if curve_points <= 1:
        return row, []
    curve = [curve_record(p["point"], curve_points, p["step"], p["seconds"],
                          evaluate(checkpoint=p["path"], report=False,
                                   out=run_dir / "curve" / f"eval-{p['point']}"))
             for p in done.points]
    curve.append(curve_record(curve_points, curve_points, result.step, result.wall_time,
                              metrics))
    row["curve_tail_gain"] = tail_gain(curve)
    return row, curve


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG",
                        help="experiment configs; each file's stem names its run folder")
    parser.add_argument("--budget", type=float, required=True,
                        help="training seconds per config (train.time_budget)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key in every config")
    parser.add_argument("--seeds", type=int, default=1,
                        help="train each config with this many seeds (seed, seed + 1, ...) on "
                             "one split; the table reports mean ± std (default 1)")
    parser.add_argument("--seeds-for", action="append", default=[], metavar="STEM=N",
                        help="this many seeds for the config whose file stem is STEM "
                             "(repeatable; the others take --seeds)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="train N configs at a time, each in its own process at "
                             "cpu_count // N torch threads unless the config sets "
                             "train.threads; evaluation follows, one run at a time (default 1)")
    parser.add_argument("--curve-points", type=int, default=0, metavar="K",
                        help="also evaluate each run at K regular points of its budget "
                             "(learning curves against seconds and steps; default: off)")
    gs.EvalOptions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    options = gs.EvalOptions.from_flags(args)  # over the configs' [evaluate] table
    compare(args.configs, budget=args.budget, out=args.out, overrides=args.overrides,
            options=options, command="groupsup " + " ".join(sys.argv[1:]),
            curve_points=args.curve_points, seeds=args.seeds,
            seeds_for=parse_seeds_for(args.seeds_for), workers=args.jobs)
    print(f"wrote {Path(args.out) / 'compare.md'}, compare.json and compare-*.png in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


COMMAND = gs.Command("train configs under one time budget, evaluate each, and tabulate "
                     "held-out MSE/PSNR/SSIM, swap accuracy and co-prediction", configure, run)
