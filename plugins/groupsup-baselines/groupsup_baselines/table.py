"""The outputs of ``groupsup compare`` besides ``compare.json``: the per-config summary over
seeds (mean and sample standard deviation), ``compare.md`` and one bar chart per metric."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from groupsup.fileio import atomic_save
from groupsup.machine import describe, differences

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
# also averaged over seeds in the summary
CONTEXT = ("steps", "reconstruction_psnr", "judge_accuracy", "curve_tail_gain")


def summarise_seeds(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per config (in first-seen order): ``{key: {"mean", "std", "n"}}`` for every
    metric of :data:`METRICS` and :data:`CONTEXT` (``std`` is the sample standard deviation,
    ``None`` for one seed), plus the config's name, backbone, loss, search flag and seeds."""
    summaries = []
    for name in dict.fromkeys(r["config"] for r in rows):
        mine = [r for r in rows if r["config"] == name]
        summary = {k: mine[0][k] for k in ("backbone", "loss", "searched_partition")}
        summary.update(name=name, seeds=[r["seed"] for r in mine])
        for key in (*(k for k, _, _ in METRICS), *CONTEXT):
            values = np.array([r[key] for r in mine if r.get(key) is not None], dtype=float)
            values = values[np.isfinite(values)]
            summary[key] = {"mean": float(values.mean()) if len(values) else None,
                            "std": float(values.std(ddof=1)) if len(values) > 1 else None,
                            "n": len(values)}
        summaries.append(summary)
    return summaries


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        if value["mean"] is None:
            return "n/a"
        return _cell(value["mean"]) + ("" if value["std"] is None else f" ± {value['std']:.3f}")
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown_table(document: dict[str, Any]) -> str:
    """``compare.md``: one row per config (mean ± std over its seeds), the metrics of
    :data:`METRICS` plus context."""
    headers = ["run", "backbone", "loss", "seeds", "steps",
               *(title for _, title, _ in METRICS), "recon PSNR (dB)"]
    curves = any(s["curve_tail_gain"]["n"] for s in document["summary"])
    if curves:
        headers.append("swap gain over the last 20%")
    lines = [f"# Comparison under a training budget of {document['budget_seconds']:g} s per run",
             "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in document["summary"]:
        name = row["name"] + (" (searched partition)" if row["searched_partition"] else "")
        steps = row["steps"]["mean"]
        cells = [name, row["backbone"], row["loss"], len(row["seeds"]),
                 "n/a" if steps is None else round(steps),
                 *(row[key] for key, _, _ in METRICS), row["reconstruction_psnr"]]
        if curves:
            cells.append(row["curve_tail_gain"])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "Held-out PSNR/SSIM/MSE: zero-shot synthesis of held-out combinations against "
              "their ground truth (MSE of images in [-1, 1]). Swap accuracy: an independent "
              "classifier (one judge per dataset and split, shared by every row) trained on "
              "real images recognises the requested values (mean over attributes). "
              "Co-prediction: held-out probe accuracy of each latent block for its own "
              "attribute (diagonal; higher is better) and for the others (off-diagonal; lower "
              "is better). With several seeds: mean ± sample standard deviation. Full configs, "
              "per-seed rows and learning curves: `compare.json`; per-run reports: "
              "`<run>/eval/report.html`.", ""]
    lines += spread_table(document["summary"])
    if document.get("machine"):
        lines += [f"Trained on {describe(document['machine'])}."
                  + "".join(f" {name} differs: " + ", ".join(
                      f"{k} {a} -> {b}" for k, (a, b) in diff.items()) + "."
                      for name, diff in document.get("machine_differences", {}).items()), ""]
    if document.get("command"):
        lines += ["Command:", "", f"    {document['command']}", ""]
    return "\n".join(lines)


def beyond_spread(summary: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Each config's difference from the reference (the first config with two or more seeds)
    per metric of :data:`METRICS`, and whether it exceeds the seeds' spread: ``|difference| >
    std(reference) + std(config)``, a one-seed config taking the reference's std as its own.
    ``None`` when no config has two seeds."""
    reference = next((r for r in summary if len(r["seeds"]) > 1), None)
    if reference is None:
        return None
    differences = {}
    for row in summary:
        if row is reference:
            continue
        cells = {}
        for key, _, _ in METRICS:
            mine, ref = row[key], reference[key]
            if mine["mean"] is None or ref["mean"] is None or ref["std"] is None:
                continue
            spread = ref["std"] + (ref["std"] if mine["std"] is None else mine["std"])
            difference = mine["mean"] - ref["mean"]
            cells[key] = {"difference": difference, "spread": spread,
                          "beyond": abs(difference) > spread}
        differences[row["name"]] = cells
    return {"reference": reference["name"], "differences": differences}


def spread_table(summary: Sequence[dict[str, Any]]) -> list[str]:
    """``compare.md``'s lines for :func:`beyond_spread` (none without a seeded config)."""
    found = beyond_spread(summary)
    if found is None or not found["differences"]:
        return []
    headers = ["run", *(title for _, title, _ in METRICS)]
    lines = [f"Differences from `{found['reference']}` (config mean minus its mean); **bold** "
             "where the difference exceeds the seeds' spread (the sum of the two standard "
             "deviations; a one-seed row takes the reference's):", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for name, cells in found["differences"].items():
        row = [name]
        for key, _, _ in METRICS:
            cell = cells.get(key)
            text = "n/a" if cell is None else f"{cell['difference']:+.3f}"
            row.append(f"**{text}**" if cell and cell["beyond"] else text)
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def plot_metrics(summary: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """One bar chart per metric of :data:`METRICS` (error bars: the seeds' standard
    deviation): ``out/compare-<key>.png``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = []
    names = [r["name"] for r in summary]
    for key, title, higher in METRICS:
        fig = Figure(figsize=(max(4.0, 1.1 * len(summary) + 1), 3.2), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        values = [float("nan") if r[key]["mean"] is None else r[key]["mean"] for r in summary]
        errors = [0.0 if r[key]["std"] is None else r[key]["std"] for r in summary]
        bars = ax.bar(names, values, yerr=errors, capsize=3,
                      color="tab:blue" if higher else "tab:orange")
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set_title(f"{title} ({'higher' if higher else 'lower'} is better)", fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
        fig.tight_layout()
        path = out / f"compare-{key}.png"
        paths.append(atomic_save(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png")))
    return paths


def machines_of(rows: Sequence[dict[str, Any]]
                ) -> tuple[dict[str, Any] | None, dict[str, dict[str, tuple[Any, Any]]]]:
    """The first row's training machine, and for each later row whose machine differs from
    it (CPU, features, threads, versions), what differs."""
    first = next((r["machine"] for r in rows if r.get("machine")), None)
    if first is None:
        return None, {}
    differing = {r["name"]: diff for r in rows if r.get("machine")
                 and (diff := differences(first, r["machine"]))}
    return first, differing
