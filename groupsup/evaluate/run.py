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
  metric (:mod:`groupsup.evaluate.report`).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from groupsup.data import GroupDataset, to_uint8
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate import unlabelled
from groupsup.evaluate.arrays import json_array
from groupsup.evaluate.coprediction import coprediction
from groupsup.evaluate.image_quality import psnr
from groupsup.evaluate.judge import Judge, fit_judge
from groupsup.evaluate.latent import DEFAULT_CODE_METRICS, disentanglement_metrics, summary_line
from groupsup.evaluate.swap import swap_accuracy
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.evaluate.zeroshot import (
    draw_providers,
    encode_all,
    instance_reference,
    leakage_swaps,
    novel_values,
    synthesize,
)
from groupsup.fileio import atomic_write_text
from groupsup.graph.splits import Split
from groupsup.imaging import image_grid, save_png
from groupsup.machine import machine
from groupsup.model import SwapAutoencoder
from groupsup.plugins import get_host
from groupsup.registry import Registries
from groupsup.train.checkpoint import load_model, training_machine

if TYPE_CHECKING:
    from groupsup.train.config import ExperimentConfig
    from groupsup.train.trainer import RunResult

# (loaded model, full dataset, training ids) -> the model to evaluate
ModelAdapter = Callable[[SwapAutoencoder, GroupDataset, np.ndarray], SwapAutoencoder]


@dataclass
class EvalOptions:
    """How much to evaluate; every random choice comes from ``seed``.

    ``classifier_steps`` fixes the judge's training (so the same run and seed give the same
    numbers on any machine); ``classifier_budget`` (seconds, optional) is only an upper bound,
    reported in ``metrics.json`` when hit. ``judge_data`` (``"all"`` real images or the
    ``"train"`` split), ``judge_folds`` and ``judge_holdout``: see
    :mod:`groupsup.evaluate.judge`. ``leakage_examples``: base images of the leakage matrix.
    ``code_metrics``: registered metrics (``register_metrics``) run on the training codes.
    ``synthesis_metrics``: more ``metric(synth, truth, labels, dataset) -> dict`` measures of
    the zero-shot syntheses, by name, besides those the dataset's registry entry provides
    (``DatasetSpec.synthesis_metrics``); each is reported under ``synthesis.<name>``.
    """

    max_examples: int = 512
    classifier_budget: float | None = None
    classifier_steps: int = 1500
    judge_data: str = "all"
    judge_folds: int = 1
    judge_holdout: float = 0.2
    leakage_examples: int = 256
    coprediction_examples: int = 2000
    code_metrics: tuple[str, ...] = DEFAULT_CODE_METRICS
    sheet_rows: int = 12
    seed: int = 0
    device: str = "cpu"
    synthesis_metrics: dict[str, Callable[..., dict[str, Any]]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def split_ids(run_dir: Path, dataset: GroupDataset, split: Split | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(train, test)`` ids of *dataset*: *split* when given, else ``RUN/split.json`` (no
    file: every example trains, ``test`` is ``None``). Raises :class:`DataError` when the ids
    do not fit *dataset* (a dataset other than the run's)."""
    if split is None:
        path = run_dir / "split.json"
        if not path.is_file():
            return np.arange(len(dataset)), None
        split = Split.from_dict(json.loads(path.read_text()))
        where = f"{path}"
    else:
        where = "the split passed to evaluate_run"
    ids = np.concatenate([split.train, split.test])
    if ids.size and (ids.min() < 0 or ids.max() >= len(dataset)):
        raise DataError(f"{where} names example {int(ids.max())} but dataset {dataset.name!r} "
                        f"has {len(dataset)}: evaluate the run with the dataset it was "
                        "trained on")
    if len(split.test) and len(split.held_out) and not np.array_equal(
            np.unique(dataset.labels[split.test], axis=0), split.held_out):
        raise DataError(f"{where}: the labels of dataset {dataset.name!r} at the held-out ids "
                        "are not the split's held-out combinations: evaluate the run with the "
                        "dataset it was trained on")
    return split.train, split.test


def eval_dir(run_dir: Path, out: str | Path | None) -> Path:
    """A fresh folder for one evaluation: *out* (refused when it already holds an
    evaluation's ``metrics.json``), else the next free ``RUN/eval/NNN``."""
    if out is not None:
        out = Path(out)
        if (out / "metrics.json").exists():
            raise ConfigError(f"{out} already holds an evaluation (metrics.json); choose "
                              "another --out or remove it")
        out.mkdir(parents=True, exist_ok=True)
        return out
    root = run_dir / "eval"
    root.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name) for p in root.iterdir() if p.name.isdigit()]
    number = max(taken, default=0) + 1
    while True:  # mkdir is atomic: two evaluations started at once get different folders
        path = root / f"{number:03d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def resolve_dataset(config: ExperimentConfig, run_dir: Path,
                    registries: Registries | None = None) -> GroupDataset:
    """The full dataset the run's stored *config* names (a registered dataset)."""
    from groupsup.train.resolve import build_dataset

    name = config.dataset.name
    if name.startswith("(python"):
        raise ConfigError(f"{run_dir} was trained on a dataset built in Python ({name}); pass "
                          "it as evaluate_run(run, dataset=...), or name a registered dataset: "
                          "groupsup evaluate RUN --dataset NAME --set dataset.options.KEY=VALUE")
    return build_dataset(config, registries)


def dataset_metrics(config: ExperimentConfig, registries: Registries | None = None
                    ) -> dict[str, Callable[..., dict[str, Any]]]:
    """The synthesis metrics the registry entry of the run's dataset provides (none for a
    dataset built in Python or not registered here)."""
    from groupsup.train.resolve import registries_for

    datasets = registries_for(config, registries).datasets
    if config.dataset.name not in datasets:
        return {}
    return dict(getattr(datasets.get(config.dataset.name), "synthesis_metrics", {}))


def headline(metrics: dict[str, Any]) -> str:
    """The one-line summary: swap accuracy, leakage and SSIM first, then PSNR."""
    swap, leak, synth = metrics["swap_accuracy"], metrics["leakage"], metrics["synthesis"]
    judge = metrics["classifier"]
    text = (f"swap accuracy {swap['mean']:.3f} (judge on real images {judge['mean_accuracy']:.3f})"
            f", leakage {_fmt(leak['off_diagonal_mean'])}, SSIM {synth['ssim']:.3f}, "
            f"PSNR {synth['psnr']:.2f} dB")
    if judge["unreliable"]:
        text += f"; UNRELIABLE judge for {', '.join(judge['unreliable'])}"
    return text


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


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
    where the dataset and backbone are looked up (default: the plugin host's).
    """
    from groupsup.evaluate.report import write_report
    from groupsup.train.config import load_config

    opts = options or EvalOptions()
    if judge is not None and judge_set is not None:
        raise ConfigError("evaluate_run: give judge (fitted) or judge_set (to fit one on), not "
                          "both")
    run_dir = Path(getattr(run, "run_dir", run))
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir}: not a training run (no config.json)")
    started = time.perf_counter()
    config = load_config(run_dir / "config.json", overrides or [])
    if dataset is None:
        dataset = resolve_dataset(config, run_dir, registries)
    model = load_model(run_dir if checkpoint is None else checkpoint, opts.device,
                       registries=registries).eval()
    # a dataset labelling attributes the model was trained without: those are read apart
    full, dataset = dataset, unlabelled.model_view(dataset, model)
    train, test = split_ids(run_dir, dataset, split)
    out = eval_dir(run_dir, out)
    rng = np.random.default_rng(opts.seed)
    if adapt is not None:
        model = adapt(model, dataset, train).eval()
    say = print if progress else (lambda *a, **k: None)
    extra_metrics = {**dataset_metrics(config, registries), **opts.synthesis_metrics}
    metrics: dict[str, Any] = {"run": str(run_dir), "out": str(out), "config": config.to_dict(),
                               "evaluation": {**opts.__dict__,
                                              "synthesis_metrics": sorted(extra_metrics),
                                              "adapt": None if adapt is None else repr(adapt),
                                              "judge_set": None if judge_set is None
                                              else judge_set.name,
                                              "judge": "fitted" if judge is None else "given",
                                              "checkpoint": None if checkpoint is None
                                              else str(checkpoint),
                                              "overrides": list(overrides or []),
                                              "partition": model.partition.to_dict()},
                               "machine": machine(), "training_machine": training_machine(
                                   run_dir if checkpoint is None else checkpoint),
                               "dataset": {"name": dataset.name, "examples": len(dataset),
                                           "train": len(train),
                                           "test": 0 if test is None else len(test)}}
    timing: dict[str, float] = {}
    names = list(model.schema.names)

    # 1. reconstructions of training examples (a reference point for the synthesis numbers)
    recon_ids = rng.choice(train, size=min(opts.max_examples, len(train)), replace=False)
    truth = dataset.load(recon_ids)
    with torch.no_grad():
        recon = torch.cat([model.reconstruct(truth[i:i + 256].to(opts.device)).cpu()
                           for i in range(0, len(truth), 256)])
    metrics["reconstruction"] = synthesis_quality(recon, truth, data_range=2.0).to_dict()["overall"]
    save_png(image_grid([to_uint8(truth[:12]), to_uint8(recon[:12])], ["original", "recon"]),
             out / "reconstructions.png")
    say(f"reconstruction PSNR {metrics['reconstruction']['psnr']:.2f} dB")

    # 2. the judge: an attribute classifier trained on real labelled images, scored on real
    # images it did not train on (its seed is drawn either way: a given judge leaves every
    # later draw as it would be)
    judge_seed = int(rng.integers(2**62))
    if judge is None:
        judge = fit_judge(dataset, train=train, test=test, judge_data=opts.judge_data,
                          judge_set=judge_set, folds=opts.judge_folds, holdout=opts.judge_holdout,
                          steps=opts.classifier_steps, time_budget=opts.classifier_budget,
                          seed=judge_seed, device=opts.device)
        timing["judge_seconds"] = round(judge.seconds, 1)
    elif judge.attributes != tuple(names):
        raise ConfigError(f"the judge given reads attributes {list(judge.attributes)}, the run's "
                          f"model has {names}")
    metrics["classifier"] = judge.to_dict()
    say(f"judge accuracy on real images it did not train on {judge.mean_accuracy:.3f} ("
        + ", ".join(f"{a} {v:.2f}" for a, v in zip(names, judge.accuracy)) + ")")
    if judge.config["budget_hit"]:
        say(f"warning: the judge's training hit --classifier-budget {opts.classifier_budget} s "
            "before --classifier-steps; its numbers depend on the machine's speed")
    for a in judge.unreliable:
        k = names.index(a)
        say(f"warning: UNRELIABLE judge for {a!r}: real-image accuracy "
            f"{judge.accuracy[k]:.3f} (chance {judge.chance[k]:.3f}); its swap accuracy and "
            "leakage say little")

    # 3. zero-shot synthesis of held-out combinations (or of training examples without a split)
    targets = test if test is not None and len(test) else train
    targets = rng.choice(targets, size=min(opts.max_examples, len(targets)), replace=False)
    # a split holding out whole values (e.g. RaFD's novel identities): their providers come
    # from other test images of that value, and the report says so
    novel = novel_values(dataset.labels, train, dataset.labels[targets], names)
    providers = draw_providers(dataset.labels, train, dataset.labels[targets], rng,
                               spare=test if novel else None, target_ids=targets)
    if novel:
        say("values never seen in training (providers from other test images): "
            + ", ".join(f"{a} in {k} targets" for a, k in novel.items()))
    free = model.partition.free
    # the unlabelled block's provider (the base): drawn after the others, so that a model
    # without one draws exactly what it always did
    bases_free = None if free is None else rng.choice(train, size=len(targets))
    synth = synthesize(model, dataset, providers, opts.device, free=bases_free)
    truth = dataset.load(targets)
    combos = dataset.labels[targets]
    quality = synthesis_quality(synth, truth, combos, data_range=2.0, attributes=names).to_dict()
    copy_best = np.stack([psnr(dataset.load(providers[:, j]), truth, data_range=2.0).per_image
                          for j in range(len(names))]).max(0)
    metrics["synthesis"] = {
        "held_out": test is not None, "n": len(targets), "novel_values": novel,
        **quality["overall"],
        "baseline_best_provider_psnr": float(copy_best[np.isfinite(copy_best)].mean()),
        **instance_reference(dataset, targets, truth, rng),
        "per_combination": quality["per_combination"]}
    if free is not None:
        metrics["synthesis"]["free_provider"] = unlabelled.FREE_PROVIDER.format(free)
    if full is not dataset and bases_free is not None:
        metrics["unnamed_attributes"] = unlabelled.unnamed_attributes(
            full, model, synth, bases_free, providers, train, test,
            steps=opts.classifier_steps, seed=judge_seed, device=opts.device)
        say(unlabelled.unnamed_line(metrics["unnamed_attributes"]))
    for name, metric in extra_metrics.items():
        metrics["synthesis"][name] = metric(synth, truth, combos, dataset)
    swap = swap_accuracy(judge.classifier, synth, combos).to_dict()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(swap["accuracy"]) / judge.accuracy
    swap.update({"judge_accuracy": json_array(judge.accuracy), "ratio": json_array(ratio),
                 "unreliable": judge.unreliable})
    metrics["swap_accuracy"] = swap
    sheet = (providers if bases_free is None
             else np.concatenate([providers, bases_free[:, None]], axis=1))
    rows = [to_uint8(torch.cat([dataset.load(sheet[i]), synth[i:i + 1], truth[i:i + 1]]))
            for i in range(min(opts.sheet_rows, len(targets)))]
    labels = [n[:9] for n in names] + ([] if free is None else [free[:9]])
    save_png(image_grid(rows, column_labels=[*labels, "synth", "truth"]), out / "synthesis.png")

    # 4. leakage: one block swapped at a time, every attribute read by the judge
    bases = rng.choice(train, size=min(opts.leakage_examples, len(train)), replace=False)
    leak = leakage_swaps(model, dataset, judge, bases, train, rng, opts.device)
    leak.plot(out / "leakage.png", title="leakage: attribute k follows block j's provider")
    metrics["leakage"] = leak.to_dict()

    # 5. co-prediction: which block predicts which attribute
    ids = rng.choice(train, size=min(opts.coprediction_examples, len(train)), replace=False)
    codes = encode_all(model, dataset, ids, opts.device)
    co = coprediction(codes.numpy(), dataset.labels[ids], model.partition, attributes=names,
                      seed=opts.seed)
    co.plot(out / "coprediction.png", title="co-prediction (held-out probe accuracy)")
    metrics["coprediction"] = co.to_dict()
    if free is not None:
        metrics.update(unlabelled.free_rows(leak, co, names))
        say(unlabelled.free_line(metrics["free_leakage"]))
        unlabelled.free_sweep(model, dataset, bases[:6], rng.choice(
            train, min(8, len(train)), replace=False), opts.device, out / "free_sweep.png")
    metrics["disentanglement"] = disentanglement_metrics(
        codes.numpy(), dataset.labels[ids], model.partition, names, seed=opts.seed,
        metrics=opts.code_metrics, registry=(registries or get_host()).metrics)
    say(summary_line(metrics["disentanglement"]))
    metrics["headline"] = {"swap_accuracy": swap["mean"], "judge_accuracy": judge.mean_accuracy,
                           "leakage": leak.to_dict()["off_diagonal_mean"],
                           "ssim": quality["overall"]["ssim"], "psnr": quality["overall"]["psnr"],
                           "unreliable": judge.unreliable, "text": headline(metrics)}
    say(metrics["headline"]["text"])
    timing["seconds"] = round(time.perf_counter() - started, 1)
    # wall-clock times apart: everything else is the same on a busy or an idle machine
    metrics["timing"] = timing
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    if report:
        write_report(run_dir, metrics, out)
    return metrics
