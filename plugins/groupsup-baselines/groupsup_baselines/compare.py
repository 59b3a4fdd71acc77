"""``groupsup compare CONFIG... --budget SECONDS --out DIR``: train and evaluate under one budget.

Each config is resolved (:func:`groupsup.resolve`) and trains with the same
:class:`groupsup.Trainer` for the same wall-clock training budget (``train.time_budget``;
``train.out`` becomes ``DIR/<config file stem>``), then
:func:`~groupsup.evaluate.run.evaluate_run` evaluates it with the same options. A run whose
backbone is ``vae`` has no trained partition: its latent dimensions are assigned to attributes
by :class:`~groupsup_baselines.search.PartitionSearch` first (written to
``DIR/<name>/eval/partition_search.json``). Writes ``DIR/compare.md`` (the table),
``DIR/compare.json`` (every row plus the full configs and options: provenance) and one bar
chart per metric, ``DIR/compare-<metric>.png``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import groupsup as gs
from groupsup.fileio import atomic_save, atomic_write_text
from groupsup_baselines.search import PartitionSearch

# (key in a row, column title, higher is better)
# in the order of the evaluation's headline: swap accuracy, leakage, SSIM, then PSNR (and the
# MSE it derives from, the paper's third synthesis number)
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("swap_accuracy", "swap accuracy (mean)", True),
    ("leakage", "leakage (off-diagonal mean)", False),
    ("ssim", "held-out SSIM", True),
    ("psnr", "held-out PSNR (dB)", True),
    ("mse", "held-out MSE", False),
    ("coprediction_diagonal", "co-prediction diagonal", True),
    ("coprediction_off_diagonal", "co-prediction off-diagonal", False),
)


def needs_search(config: gs.ExperimentConfig) -> bool:
    """Whether a run has no trained partition, so evaluation must search one (``vae``)."""
    return config.model.backbone == "vae"


def summarise(name: str, config: gs.ExperimentConfig, result: gs.RunResult,
              metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison from a training result and its evaluation metrics."""
    loss = config.loss
    return {
        "name": name, "backbone": config.model.backbone,
        "loss": loss.recipe if loss.terms is None else "+".join(t["term"] for t in loss.terms),
        "steps": result.step, "train_seconds": round(result.wall_time, 1),
        "searched_partition": metrics["evaluation"]["adapt"] is not None,
        "psnr": metrics["synthesis"]["psnr"], "ssim": metrics["synthesis"]["ssim"],
        "mse": metrics["synthesis"]["mse"],
        "best_provider_psnr": metrics["synthesis"]["baseline_best_provider_psnr"],
        "reconstruction_psnr": metrics["reconstruction"]["psnr"],
        "swap_accuracy": metrics["swap_accuracy"]["mean"],
        "swap_all_correct": metrics["swap_accuracy"]["all_correct"],
        "leakage": metrics["leakage"]["off_diagonal_mean"],
        "judge_accuracy": metrics["classifier"]["mean_accuracy"],
        "judge_unreliable": metrics["classifier"]["unreliable"],
        "coprediction_diagonal": metrics["coprediction"]["diagonal_mean"],
        "coprediction_off_diagonal": metrics["coprediction"]["off_diagonal_mean"],
    }


def compare(configs: Sequence[str | Path], *, budget: float, out: str | Path,
            overrides: Sequence[str] = (), options: gs.EvalOptions | None = None,
            progress: bool = True, command: str | None = None) -> dict[str, Any]:
    """Train and evaluate every config under *budget* seconds of training; write the
    comparison into *out*; return what ``compare.json`` holds."""
    if budget <= 0:
        raise gs.ConfigError(f"--budget must be positive seconds, got {budget:g}")
    names = [Path(c).stem for c in configs]
    if not names:
        raise gs.ConfigError("compare needs at least one CONFIG")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise gs.ConfigError(f"config file names must differ (each names its run folder); "
                             f"{doubled} appear twice")
    out = Path(out)
    options = options or gs.EvalOptions()
    say = print if progress else (lambda *a, **k: None)
    # validate every config before the first (long) training starts
    loaded = [gs.load_config(path, [*overrides, f"train.time_budget={budget}",
                                    f"train.out={out / name}"])
              for path, name in zip(configs, names)]
    rows, provenance = [], {}
    for name, config in zip(names, loaded):
        run_dir = out / name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        say(f"[{name}] training {config.model.backbone} / "
            f"{config.loss.recipe or 'custom terms'} for {budget:g} s", flush=True)
        # the components the run trains (the dataset among them, for the evaluation)
        resolved = gs.resolve(config)
        result = gs.Trainer(config, resolved=resolved).fit()
        adapt = (PartitionSearch(seed=options.seed,
                                 out=run_dir / "eval" / "partition_search.json")
                 if needs_search(config) else None)
        say(f"[{name}] {result.step} steps; evaluating", flush=True)
        metrics = gs.evaluate_run(run_dir, dataset=resolved.dataset, options=options,
                                  progress=progress, adapt=adapt, out=run_dir / "eval")
        rows.append(summarise(name, config, result, metrics))
        provenance[name] = config.to_dict()
    document = {"budget_seconds": budget, "command": command, "overrides": list(overrides),
                "evaluation": {k: v for k, v in options.__dict__.items()},
                "rows": rows, "configs": provenance}
    atomic_write_text(out / "compare.json", json.dumps(document, indent=2))
    atomic_write_text(out / "compare.md", markdown_table(document))
    plot_metrics(rows, out)
    return document


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_table(document: dict[str, Any]) -> str:
    """``compare.md``: one row per config, the metrics of :data:`METRICS` plus context."""
    headers = ["run", "backbone", "loss", "steps", *(title for _, title, _ in METRICS),
               "recon PSNR (dB)"]
    lines = [f"# Comparison under a training budget of {document['budget_seconds']:g} s per run",
             "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in document["rows"]:
        name = row["name"] + (" (searched partition)" if row["searched_partition"] else "")
        cells = [name, row["backbone"], row["loss"], row["steps"],
                 *(row[key] for key, _, _ in METRICS), row["reconstruction_psnr"]]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "Held-out PSNR/SSIM/MSE: zero-shot synthesis of held-out combinations against "
              "their ground truth (MSE of images in [-1, 1]). Swap accuracy: an independent "
              "classifier trained on real training images recognises the requested values "
              "(mean over attributes). "
              "Co-prediction: held-out probe accuracy of each latent block for its own "
              "attribute (diagonal; higher is better) and for the others (off-diagonal; lower "
              "is better). Full configs and options: `compare.json`; per-run reports: "
              "`<run>/eval/report.html`.", ""]
    if document.get("command"):
        lines += ["Command:", "", f"    {document['command']}", ""]
    return "\n".join(lines)


def plot_metrics(rows: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """One bar chart per metric of :data:`METRICS`: ``out/compare-<key>.png``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = []
    names = [r["name"] for r in rows]
    for key, title, higher in METRICS:
        fig = Figure(figsize=(max(4.0, 1.1 * len(rows) + 1), 3.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        values = [float("nan") if r[key] is None else r[key] for r in rows]
        bars = ax.bar(names, values, color="tab:blue" if higher else "tab:orange")
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set_title(f"{title} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        fig.tight_layout()
        path = out / f"compare-{key}.png"
        paths.append(atomic_save(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png")))
    return paths


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG",
                        help="experiment configs; each file's stem names its run folder")
    parser.add_argument("--budget", type=float, required=True,
                        help="training seconds per config (train.time_budget)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key in every config")
    parser.add_argument("--classifier-budget", type=float, default=60.0,
                        help="seconds to train each run's independent classifier (default 60)")
    parser.add_argument("--max-examples", type=int, default=512,
                        help="held-out examples to synthesise per run (default 512)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed")
    parser.add_argument("--device", default="cpu", help="evaluation device")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    options = gs.EvalOptions(max_examples=args.max_examples,
                          classifier_budget=args.classifier_budget, seed=args.seed,
                          device=args.device)
    compare(args.configs, budget=args.budget, out=args.out, overrides=args.overrides,
            options=options, command="groupsup " + " ".join(sys.argv[1:]))
    print(f"wrote {Path(args.out) / 'compare.md'}, compare.json and compare-*.png in "
          f"{time.perf_counter() - started:.0f} s")
    return 0


COMMAND = gs.Command("train configs under one time budget, evaluate each, and tabulate "
                     "held-out MSE/PSNR/SSIM, swap accuracy and co-prediction", configure, run)
