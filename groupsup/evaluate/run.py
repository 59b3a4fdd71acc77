"""Evaluate a trained run: zero-shot synthesis, swap accuracy, co-prediction, sheets.

``evaluate_run(run_dir)`` rebuilds the run's dataset and split from its stored config, loads
the latest checkpoint and writes under ``RUN/eval/``:

- ``metrics.json``: every result with the config that produced the run and the evaluation's
  own options (a provenance trail), including MIG, block-MIG, DCI, FactorVAE and SAP of the
  training codes under ``"disentanglement"`` (:mod:`groupsup.evaluate.latent`);
- ``synthesis.png``: per row the attribute providers, the synthesised image, the truth;
- ``reconstructions.png`` and ``coprediction.png``;
- ``report.md`` and ``report.html`` (self-contained): config, training curves, sheets and every
  metric (:mod:`groupsup.evaluate.report`).

``adapt`` turns the loaded model into the one to evaluate, given the dataset and the training
ids: e.g. a baseline trained without a latent partition (beta-VAE) gets one searched on the
training codes. The evaluated partition is recorded in ``metrics.json``.

Zero-shot synthesis: for each held-out test example t and each attribute j, a provider is
drawn from the *training* split among the examples showing t's value of j; the blocks are
assembled into one code and decoded. The test example itself is the ground truth.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groupsup.data import GroupDataset, to_uint8
from groupsup.errors import DataError
from groupsup.evaluate.classifier import train_classifier
from groupsup.evaluate.coprediction import coprediction
from groupsup.evaluate.image_quality import psnr
from groupsup.evaluate.latent import disentanglement_metrics, summary_line
from groupsup.evaluate.swap import swap_accuracy
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.imaging import image_grid, save_png
from groupsup.model import SwapAutoencoder
from groupsup.train.checkpoint import atomic_write_text, load_model

# (loaded model, full dataset, training ids) -> the model to evaluate
ModelAdapter = Callable[[SwapAutoencoder, GroupDataset, np.ndarray], SwapAutoencoder]


@dataclass
class EvalOptions:
    """How much to evaluate; every random choice comes from ``seed``."""

    max_examples: int = 512
    classifier_budget: float = 60.0
    classifier_steps: int = 1500
    coprediction_examples: int = 2000
    sheet_rows: int = 12
    seed: int = 0
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


def draw_providers(labels: np.ndarray, train: np.ndarray, targets: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """For each target row and attribute j, a random training example with the target's value
    of j. ``labels (N, A)``; ``train (T,)`` ids; ``targets (n, A)`` codes -> ``(n, A)`` ids.

    Raises :class:`DataError` when some value of a target is absent from training.
    """
    n, a = targets.shape
    out = np.empty((n, a), dtype=np.int64)
    for j in range(a):  # a loop over attributes; every draw inside is vectorised
        values = labels[train, j]
        order = np.argsort(values, kind="stable")
        sorted_values = values[order]
        start = np.searchsorted(sorted_values, targets[:, j], "left")
        count = np.searchsorted(sorted_values, targets[:, j], "right") - start
        if (count == 0).any():
            bad = int(targets[np.flatnonzero(count == 0)[0], j])
            raise DataError(f"attribute #{j}: value code {bad} of a test example never occurs "
                            "in training, so it cannot be synthesised zero-shot")
        pick = start + (rng.random(n) * count).astype(np.int64)
        out[:, j] = train[order[pick]]
    return out


@torch.no_grad()
def encode_all(model: SwapAutoencoder, data: GroupDataset, ids: np.ndarray,
               device: str, batch: int = 256) -> torch.Tensor:
    """Codes ``(len(ids), Z)`` of the given examples, encoded in batches."""
    return torch.cat([model.encode(data.load(ids[i:i + batch]).to(device)).cpu()
                      for i in range(0, len(ids), batch)])


@torch.no_grad()
def synthesise(model: SwapAutoencoder, data: GroupDataset, providers: np.ndarray,
               device: str, batch: int = 128) -> torch.Tensor:
    """Images ``(n, C, H, W)`` in [-1, 1] whose block j comes from example ``providers[:, j]``."""
    out = []
    for i in range(0, len(providers), batch):
        rows = providers[i:i + batch]
        unique, inverse = np.unique(rows, return_inverse=True)
        z = model.encode(data.load(unique).to(device))
        code = model.partition.assemble(z, torch.from_numpy(inverse.reshape(rows.shape)))
        out.append(model.to_image(model.decode(code)).cpu())
    return torch.cat(out)


def _split_ids(run_dir: Path, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    path = run_dir / "split.json"
    if not path.is_file():
        return np.arange(n), None
    split = json.loads(path.read_text())
    return np.asarray(split["train"], dtype=np.int64), np.asarray(split["test"], dtype=np.int64)


def evaluate_run(run_dir: str | Path, dataset: GroupDataset | None = None,
                 options: EvalOptions | None = None, progress: bool = True,
                 adapt: ModelAdapter | None = None, report: bool = True) -> dict[str, Any]:
    """Evaluate the latest checkpoint of *run_dir*; write ``RUN/eval/``; return the metrics.

    *adapt* (optional) maps ``(model, dataset, training ids)`` to the model to evaluate;
    *report* writes ``report.md`` and ``report.html`` beside ``metrics.json``.
    """
    from groupsup.evaluate.report import write_report
    from groupsup.train.config import load_config
    from groupsup.train.trainer import load_dataset

    opts = options or EvalOptions()
    run_dir = Path(run_dir)
    out = run_dir / "eval"
    started = time.perf_counter()
    config = load_config(run_dir / "config.json")
    if dataset is None:
        dataset = load_dataset(config)
    model = load_model(run_dir, opts.device).eval()
    rng = np.random.default_rng(opts.seed)
    train, test = _split_ids(run_dir, len(dataset))
    if adapt is not None:
        model = adapt(model, dataset, train).eval()
    say = print if progress else (lambda *a, **k: None)
    metrics: dict[str, Any] = {"run": str(run_dir), "config": config.to_dict(),
                               "evaluation": {**opts.__dict__,
                                              "adapt": None if adapt is None else repr(adapt),
                                              "partition": model.partition.to_dict()},
                               "dataset": {"examples": len(dataset), "train": len(train),
                                           "test": 0 if test is None else len(test)}}
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

    # 2. an independent classifier trained on real training images
    fit = train_classifier(dataset, train_index=train,
                           test_index=test if test is not None and len(test) else train[:512],
                           steps=opts.classifier_steps, time_budget=opts.classifier_budget,
                           seed=opts.seed, device=opts.device)
    metrics["classifier"] = fit.to_dict()
    say(f"classifier accuracy on real images {fit.mean_accuracy:.3f}")

    # 3. zero-shot synthesis of held-out combinations (or of training examples without a split)
    targets = test if test is not None and len(test) else train
    targets = rng.choice(targets, size=min(opts.max_examples, len(targets)), replace=False)
    providers = draw_providers(dataset.labels, train, dataset.labels[targets], rng)
    synth = synthesise(model, dataset, providers, opts.device)
    truth = dataset.load(targets)
    combos = dataset.labels[targets]
    quality = synthesis_quality(synth, truth, combos, data_range=2.0, attributes=names).to_dict()
    copy_best = np.stack([psnr(dataset.load(providers[:, j]), truth, data_range=2.0).per_image
                          for j in range(len(names))]).max(0)
    metrics["synthesis"] = {
        "held_out": test is not None, "n": len(targets), **quality["overall"],
        "baseline_best_provider_psnr": float(copy_best[np.isfinite(copy_best)].mean()),
        "per_combination": quality["per_combination"]}
    metrics["swap_accuracy"] = swap_accuracy(fit.classifier, synth, combos).to_dict()
    say(f"zero-shot synthesis PSNR {quality['overall']['psnr']:.2f} dB (best single provider "
        f"{float(copy_best.mean()):.2f} dB); swap accuracy "
        f"{metrics['swap_accuracy']['mean']:.3f}")
    rows = [to_uint8(torch.cat([dataset.load(providers[i]), synth[i:i + 1], truth[i:i + 1]]))
            for i in range(min(opts.sheet_rows, len(targets)))]
    save_png(image_grid(rows, column_labels=[n[:9] for n in names] + ["synth", "truth"]),
             out / "synthesis.png")

    # 4. co-prediction: which block predicts which attribute
    ids = rng.choice(train, size=min(opts.coprediction_examples, len(train)), replace=False)
    codes = encode_all(model, dataset, ids, opts.device)
    co = coprediction(codes.numpy(), dataset.labels[ids], model.partition, attributes=names,
                      seed=opts.seed)
    co.plot(out / "coprediction.png", title="co-prediction (held-out probe accuracy)")
    metrics["coprediction"] = co.to_dict()
    metrics["disentanglement"] = disentanglement_metrics(
        codes.numpy(), dataset.labels[ids], model.partition, names, seed=opts.seed)
    say(summary_line(metrics["disentanglement"]))
    metrics["evaluation"]["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    if report:
        write_report(run_dir, metrics, out)
    return metrics
