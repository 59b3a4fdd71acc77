"""Evaluate a trained run: the judge, swap accuracy, leakage, zero-shot synthesis, co-prediction.

``evaluate_run(run)`` (exported as ``groupsup.evaluate_run``) rebuilds the run's dataset (or
takes it as ``dataset=``) and split (``RUN/split.json``, or ``split=``), loads the latest
checkpoint and writes one evaluation folder (the next free ``RUN/eval/NNN``, or ``out``):

- ``metrics.json``: every result with the config that produced the run and the evaluation's
  own options (a provenance trail), including MIG, block-MIG, DCI, FactorVAE and SAP of the
  training codes under ``"disentanglement"`` (:mod:`groupsup.evaluate.latent`); wall-clock
  times apart under ``timing``, so the rest is the same for the same run, options and seed
  on any machine;
- ``synthesis.png``: per row the attribute providers, the synthesised image, the truth;
- ``leakage.png``, ``reconstructions.png`` and ``coprediction.png``;
- ``report.md`` and ``report.html`` (self-contained): config, training curves, sheets and every
  metric (:mod:`groupsup.runs.report`).

The evaluation is a loop: :func:`evaluation_steps` picks the registered steps
(``register_evaluations``, :mod:`groupsup.runs.step`) that apply to the run's
:class:`~groupsup.runs.context.EvalContext`, and each adds its entries to ``metrics.json`` in
turn (:mod:`groupsup.runs.builtin` holds the built-in ones).

``adapt`` turns the loaded model into the one to evaluate, given the dataset and the training
ids: e.g. a baseline trained without a latent partition (beta-VAE) gets one searched on the
training codes. The evaluated partition is recorded in ``metrics.json``.

Zero-shot synthesis: for each held-out test example t and each attribute j, a provider is
drawn from the *training* split among the examples showing t's value of j; the blocks are
assembled into one code and decoded. A model with an unlabelled block takes it from one more
training example drawn at random, the *base* (never from the target, whose unnamed variation
would hand the synthesis its truth, nor from a provider of an attribute, which would hide an
attribute carried in it). The test example itself is the ground truth. The judge
(:mod:`groupsup.evaluate.judge`) reads swaps; see docs/evaluation.md for every definition.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from groupsup.data import GroupDataset
from groupsup.errors import ConfigError, GroupsupError, PluginError
from groupsup.evaluate.judge import Judge, fit_judge
from groupsup.fileio import atomic_write_text
from groupsup.graph.splits import Split
from groupsup.machine import machine
from groupsup.model import SwapAutoencoder, load_model
from groupsup.registry import Entry, Registries
from groupsup.runs import unlabelled
from groupsup.runs.context import EvalContext, eval_dir, run_dataset, split_ids
from groupsup.runs.options import EvalOptions
from groupsup.runs.step import CodeMetric, EvaluationStep, SynthesisMeasure
from groupsup.train.checkpoint import training_machine
from groupsup.train.resolve import host_registries

if TYPE_CHECKING:
    from groupsup.train.trainer import RunResult

# (loaded model, full dataset, training ids) -> the model to evaluate
ModelAdapter = Callable[[SwapAutoencoder, GroupDataset, np.ndarray], SwapAutoencoder]


def fit_shared_judge(dataset: GroupDataset, split: Split | None,
                     options: EvalOptions | None = None) -> Judge:
    """The judge *options* describe, fitted once on *dataset* with *split* (``None``: nothing
    held out), to pass as ``evaluate_run(..., judge=...)`` to every run read on that data, so
    their rows are comparable (``groupsup compare``, the weak-supervision example). Seeded by
    the first draw of ``options.seed``."""
    o = options or EvalOptions()
    return fit_judge(dataset, train=np.arange(len(dataset)) if split is None else split.train,
                     test=None if split is None else split.test, judge_data=o.judge_data,
                     folds=o.judge_folds, holdout=o.judge_holdout, steps=o.classifier_steps,
                     time_budget=o.classifier_budget,
                     seed=int(np.random.default_rng(o.seed).integers(2**62)), device=o.device)


def evaluate_run(run: str | Path | RunResult, dataset: GroupDataset | None = None,
                 options: EvalOptions | None = None, progress: bool = True,
                 adapt: ModelAdapter | None = None, report: bool = True, *,
                 split: Split | None = None, judge_set: GroupDataset | None = None,
                 judge: Judge | None = None, checkpoint: str | Path | None = None,
                 out: str | Path | None = None, overrides: list[str] | None = None,
                 registries: Registries | None = None) -> dict[str, Any]:
    """Evaluate the latest checkpoint of a run; write one evaluation folder; return metrics.

    *run*: a run directory or the :class:`~groupsup.RunResult` of ``groupsup.train``.
    *options*: over those the run config's ``[evaluate]`` table sets
    (:meth:`~groupsup.EvalOptions.over`; default: the table's).
    *dataset*: the full dataset the run was trained on (default: the registered dataset its
    config names, with *overrides* such as ``["dataset.options.root=..."]`` applied first; a
    run trained on a Python dataset needs it). *split*: the :class:`~groupsup.Split` to
    evaluate (default the run's ``split.json``). *judge_set*: a labelled dataset with the same
    schema for the judge to learn from instead of *dataset*. *judge*: a judge fitted already
    (:func:`groupsup.evaluate.fit_judge`), used instead of fitting one, so that evaluations of
    several runs on one dataset and split are read by the same classifier (``groupsup
    compare``); the rest of the evaluation draws the same examples either way. *checkpoint*: a
    checkpoint directory of the run to evaluate instead of the latest (e.g. one point of a
    learning curve). *out*: the folder to write
    (default the next free ``RUN/eval/NNN``; one that already holds an evaluation is refused).
    *adapt* (optional) maps ``(model, dataset, training ids)`` to the model to evaluate;
    *report* writes ``report.md`` and ``report.html`` beside ``metrics.json``. *registries*:
    where the dataset, the backbone and the evaluation steps are looked up (default: the
    plugin host's).
    """
    from groupsup.runs.report import write_report

    started = time.perf_counter()
    if judge is not None and judge_set is not None:
        raise ConfigError("evaluate_run: give judge (fitted) or judge_set (to fit one on), not "
                          "both")
    ctx = _context(Path(getattr(run, "run_dir", run)), dataset, split,
                   options or EvalOptions(), host_registries(registries), checkpoint=checkpoint,
                   out=out, overrides=overrides or [], adapt=adapt)
    ctx.judge, ctx.judge_set = judge, judge_set
    ctx.say = print if progress else (lambda *a, **k: None)
    steps = evaluation_steps(ctx)
    ctx.metrics.update(_provenance(ctx, steps, adapt=adapt, judge=judge, checkpoint=checkpoint,
                                   overrides=overrides or []))
    for entry in steps:
        ctx.metrics.update(_run_step(entry, ctx))
    ctx.timing["seconds"] = round(time.perf_counter() - started, 1)
    # wall-clock times apart: everything else is the same on a busy or an idle machine
    ctx.metrics["timing"] = ctx.timing
    atomic_write_text(ctx.out / "metrics.json", json.dumps(ctx.metrics, indent=2))
    if report:
        write_report(ctx.run_dir, ctx.metrics, ctx.out)
    return ctx.metrics


def _context(run_dir: Path, dataset: GroupDataset | None, split: Split | None,
             options: EvalOptions, registries: Registries, *, checkpoint: str | Path | None,
             out: str | Path | None, overrides: list[str], adapt: ModelAdapter | None
             ) -> EvalContext:
    """The loaded run: config, model (adapted), dataset, split and a fresh output folder."""
    from groupsup.train.config import load_config

    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir}: not a training run (no config.json)")
    config = load_config(run_dir / "config.json", overrides)
    options = options.over(EvalOptions.from_table(config.evaluate, str(run_dir / "config.json")))
    full = run_dataset(config, run_dir, registries) if dataset is None else dataset
    model = load_model(run_dir if checkpoint is None else checkpoint, options.device,
                       registries=registries).eval()
    # a dataset labelling attributes the model was trained without: those are read apart
    seen = unlabelled.model_view(full, model)
    train, test = split_ids(run_dir, seen, split)
    folder = eval_dir(run_dir, out)
    if adapt is not None:
        model = adapt(model, seen, train).eval()
    return EvalContext(run_dir=run_dir, config=config, model=model, full=full, dataset=seen,
                       train=train, test=test, out=folder, options=options,
                       rng=np.random.default_rng(options.seed), registries=registries)


def evaluation_steps(ctx: EvalContext) -> list[Entry[EvaluationStep]]:
    """The registered steps that apply to *ctx*, in the order they run (``order``, then
    name). Code metrics are run by the ``codes`` step; anything else registered is refused."""
    if not len(ctx.registries.evaluations):
        raise ConfigError("the registries given hold no evaluation steps: add the host's "
                          "(gs.get_host().evaluations) to their evaluations registry")
    steps = []
    for entry in ctx.registries.evaluations:
        if isinstance(entry.obj, EvaluationStep):
            if entry.obj.applies(ctx):
                steps.append(entry)
        elif not isinstance(entry.obj, CodeMetric):
            raise PluginError(f"evaluation {entry.name!r} registered by plugin {entry.plugin!r} "
                              f"is a {type(entry.obj).__name__}, neither an EvaluationStep "
                              "nor a CodeMetric")
    return sorted(steps, key=lambda e: (e.obj.order, e.name))


def _provenance(ctx: EvalContext, steps: list[Entry[EvaluationStep]], *,
                adapt: ModelAdapter | None, judge: Judge | None,
                checkpoint: str | Path | None, overrides: list[str]) -> dict[str, Any]:
    """The first entries of ``metrics.json``: what was evaluated, how, and where."""
    options = ctx.options.record()
    extra = options.pop("extra")
    measures = sorted(e.name for e in steps if isinstance(e.obj, SynthesisMeasure))
    return {"run": str(ctx.run_dir), "out": str(ctx.out), "config": ctx.config.to_dict(),
            "evaluation": {**options, "synthesis_metrics": measures, "extra": extra,
                           "adapt": None if adapt is None else repr(adapt),
                           "judge_set": None if ctx.judge_set is None else ctx.judge_set.name,
                           "judge": "fitted" if judge is None else "given",
                           "checkpoint": None if checkpoint is None else str(checkpoint),
                           "overrides": list(overrides),
                           "partition": ctx.model.partition.to_dict()},
            "machine": machine(), "training_machine": training_machine(
                ctx.run_dir if checkpoint is None else checkpoint),
            "dataset": {"name": ctx.dataset.name, "examples": len(ctx.dataset),
                        "train": len(ctx.train),
                        "test": 0 if ctx.test is None else len(ctx.test)}}


def _run_step(entry: Entry[EvaluationStep], ctx: EvalContext) -> dict[str, Any]:
    """Run one step; an error names the step (and the plugin that registered it)."""
    ctx.step = entry.name
    try:
        return entry.obj.run(ctx)
    except GroupsupError as err:
        raise type(err)(f"evaluation step {entry.name!r}: {err}") from err
    except Exception as err:
        raise PluginError(f"evaluation step {entry.name!r} (plugin {entry.plugin!r}) failed: "
                          f"{type(err).__name__}: {err}") from err
