"""Ablations of the CPU demo's recipe (docs/model.md, "Ablations of the demo recipe").

Each variant is the demo config (``groupsup_fonts/demo.toml`` with the demo's eight fonts)
plus ``--set`` overrides, trained for ``--budget`` seconds with ``--threads`` torch threads,
then evaluated by ``groupsup evaluate`` with ``--classifier-steps`` judge steps. One JSON line
per run is appended to ``--results`` (steps, wall times, the load average before and after,
swap accuracy, all five right, SSIM, PSNR, leakage, co-prediction, colour artefacts), and the
run's synthesis PSNR/SSIM curve from the ``evaluate`` callback (every ``--curve-every``
steps) is recorded with it for the quality-vs-time plot::

    python examples/fonts/ablations.py run base dec-plain+cosine --budget 300 --threads 1
    python examples/fonts/ablations.py plot --results examples/fonts/ablations.jsonl \\
        --out docs/ablations.png
    python examples/fonts/ablations.py curves "8 groups=runs/demo-8/run" \\
        "4 groups=runs/demo-4/run" --term cover --out docs/groups-and-wsd.png

Two runs started at once with ``--threads 1`` each compare in the same conditions on a
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "plugins" / "groupsup-fonts" / "groupsup_fonts" / "demo.toml"
# the fonts the ablations of docs/model.md were measured with: the demo's until 2026-12-07
# (demo.toml's six plus the two system families `groupsup demo` then added on the project's
# machine, Debian fonts-freefont); the demo now renders eight matplotlib faces only
FONTS = ["cmr10", "cmtt10", "dejavusans", "dejavusansmono", "dejavuserifbold",
         "stixgeneralitalic", "freemono", "freesans"]

# components a variant combines, joined by "+" (e.g. "dec-plain+cosine"): each is a list of
# overrides of the demo config (`groupsup train --set` TOML literals) and a list of callbacks
# added to the `evaluate` one; "base" is the demo config unchanged
COMPONENTS: dict[str, tuple[list[str], list[str]]] = {
    "base": ([], []),
    "cosine": (["optim.schedule='cosine'", "optim.schedule_by='time'"], []),
    "dec-plain": (["model.options.decoder_norm='none'",
                   "model.options.activation='leaky_relu'"], []),
    "dec-batch": (["model.options.decoder_norm='batch'"], []),
    "dec-pixel": (["model.options.decoder_norm='pixel'"], []),
    "lr2e-3": (["optim.lr=2e-3"], []),
    "groups16": (["train.groups_per_step=16"], []),
    "groups8": (["train.groups_per_step=8"], []),  # the demo's before 2026-12-06 (now 4)
    "groups4": (["train.groups_per_step=4"], []),
    "constant": (["optim.schedule='constant'"], []),  # the demo's rate before wsd
    "cover3": (["loss.terms=[{term='recon'}, {term='swap'}, {term='cover', weight=3.0}]"],
               []),
    "no-swap": (["loss.recipe='gsl-no-swap'"], []),
    "gsl": (["loss.recipe='gsl'"], []),  # the demo's terms before gsl-invariance
    "ema": ([], ["{name='ema', decay=0.998}"]),
    "l1": (["loss.distance='l1'"], []),
    "width48": (["model.options.width=48", "model.options.max_width=192"], []),
}


def variant(name: str) -> tuple[list[str], list[str]]:
    """The overrides and callbacks of a "+"-joined variant name."""
    overrides: list[str] = []
    callbacks: list[str] = []
    for part in name.split("+"):
        more, extra = COMPONENTS[part]
        overrides += more
        callbacks += extra
    return overrides, callbacks


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_variant(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train and evaluate one variant; return its result row."""
    overrides, extra = variant(name)
    out = Path(args.out) / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    callbacks = "[" + ", ".join([f"{{name='evaluate', every={args.curve_every}}}", *extra]) + "]"
    sets = [f"dataset.options.fonts={json.dumps(FONTS)}", f"train.out='{out / 'run'}'",
            f"train.time_budget={args.budget}", f"train.threads={args.threads}",
            "train.progress='off'", f"train.callbacks={callbacks}", *overrides]
    command = [sys.executable, "-m", "groupsup", "train", str(DEMO)]
    for item in sets:
        command += ["--set", item]
    loads = [_load()]
    started = time.perf_counter()
    with open(out / "train.log", "w") as log:
        subprocess.run(command, check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    train_wall = time.perf_counter() - started
    loads.append(_load())
    with open(out / "eval.log", "w") as log:
        subprocess.run([sys.executable, "-m", "groupsup", "evaluate", str(out / "run"),
                        "--out", str(out / "eval"), "--classifier-steps",
                        str(args.classifier_steps)],
                       check=True, env=env, stdout=log, stderr=subprocess.STDOUT)
    loads.append(_load())
    return summarise(name, overrides + extra, out, args, train_wall, loads)


def summarise(name: str, overrides: list[str], out: Path, args: argparse.Namespace,
              train_wall: float, loads: list[str]) -> dict[str, Any]:
    m = json.loads((out / "eval" / "metrics.json").read_text())
    log = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
    times = {r["step"]: r["time"] for r in log}
    curve = []
    for line in (out / "run" / "evaluations.jsonl").read_text().splitlines():
        r = json.loads(line)
        step = max((s for s in times if s <= r["step"]), default=0)
        curve.append({"step": r["step"], "time": round(times.get(step, 0.0), 1),
                      "ssim": r["synthesis_ssim"], "psnr": r["synthesis_psnr"]})
    swap, synth = m["swap_accuracy"], m["synthesis"]
    artefacts = synth.get("artefacts") or {}
    return {
        "name": name, "overrides": overrides, "budget": args.budget, "threads": args.threads,
        "steps": log[-1]["step"], "train_seconds": round(log[-1]["time"], 1),
        "train_wall": round(train_wall, 1), "eval_seconds": m["timing"]["seconds"],
        "classifier_steps": args.classifier_steps, "load": loads,
        "swap": dict(zip(swap["attributes"], (round(v, 3) for v in swap["accuracy"]))),
        "all_five": round(swap["all_correct"], 3), "ssim": round(synth["ssim"], 3),
        "psnr": round(synth["psnr"], 2), "leakage": round(m["leakage"]["off_diagonal_mean"], 3),
        "leakage_max": round(max(v for i, row in enumerate(m["leakage"]["matrix"])
                                 for j, v in enumerate(row) if i != j and v is not None), 3),
        "coprediction_off": round(m["coprediction"]["off_diagonal_mean"], 3),
        "artefact_percent": artefacts.get("percent"),
        "artefact_cluster_images": artefacts.get("images_with_clusters"),
        "curve": curve,
    }


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Quality against training time: the held-out synthesis SSIM curve of every run (from
    the ``evaluate`` callback) and its final swap accuracy of all five attributes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(figure)
    ssim_ax, all_ax = figure.subplots(1, 2)
    for row in rows:
        label = f"{row['name']} ({row['budget']:g} s, {row['threads']} thr)"
        curve = row["curve"]
        line, = ssim_ax.plot([c["time"] for c in curve], [c["ssim"] for c in curve],
                             label=label)
        all_ax.scatter(row["train_seconds"], row["all_five"], color=line.get_color())
        all_ax.annotate(row["name"], (row["train_seconds"], row["all_five"]), fontsize=7)
    ssim_ax.set(xlabel="training seconds", ylabel="held-out synthesis SSIM (64 examples)",
                title="SSIM during training")
    all_ax.set(xlabel="training seconds", ylabel="swap accuracy, all five right",
               title="judge: all five attributes right")
    ssim_ax.legend(fontsize=7)
    for ax in (ssim_ax, all_ax):
        ax.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plot_runs(runs: list[tuple[str, Path]], term: str, path: Path) -> None:
    """One training loss term of whole runs (``RUN/metrics.jsonl``, e.g. full ``groupsup
    demo`` runs) against training seconds and against steps, one line per labelled run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(figure)
    time_ax, step_ax = figure.subplots(1, 2)
    for label, run_dir in runs:
        log = run_dir / "metrics.jsonl"
        lines = log.read_text().splitlines() if log.is_file() else []
        records = [r for r in map(json.loads, filter(str.strip, lines)) if term in r]
        if not records:
            raise SystemExit(f"{run_dir / 'metrics.jsonl'}: no records of the term {term!r}")
        values = [r[term] for r in records]
        time_ax.plot([r["time"] for r in records], values, label=label, lw=1)
        step_ax.plot([r["step"] for r in records], values, label=label, lw=1)
    for ax, x in ((time_ax, "training seconds"), (step_ax, "step")):
        ax.set(xlabel=x, ylabel=f"{term} loss (training, per 25-step window)", yscale="log")
        ax.grid(alpha=0.3)
    time_ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train and evaluate variants")
    run.add_argument("variants", nargs="+", help="components joined by '+', of: "
                     + ", ".join(COMPONENTS))
    run.add_argument("--budget", type=float, default=180.0, help="training seconds")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--classifier-steps", type=int, default=600)
    run.add_argument("--curve-every", type=int, default=250)
    run.add_argument("--out", default="runs/ablations")
    run.add_argument("--results", default="runs/ablations/results.jsonl")
    draw = sub.add_parser("plot", help="the quality-vs-time plot of recorded runs")
    draw.add_argument("--results", default="examples/fonts/ablations.jsonl")
    draw.add_argument("--out", default="docs/ablations.png")
    curves = sub.add_parser("curves", help="a training loss of whole runs against time")
    curves.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    curves.add_argument("--term", default="cover")
    curves.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "curves":
        labelled = [tuple(r.split("=", 1)) for r in args.runs]
        if any(len(r) != 2 for r in labelled):
            parser.error("runs are LABEL=RUN_DIR")
        plot_runs([(label, Path(d)) for label, d in labelled], args.term, Path(args.out))
        return 0
    if args.command == "plot":
        rows = [json.loads(line) for line in Path(args.results).read_text().splitlines()]
        plot(rows, Path(args.out))
        return 0
    unknown = sorted({p for v in args.variants for p in v.split("+")} - set(COMPONENTS))
    if unknown:
        parser.error(f"unknown components {unknown}; known: {', '.join(COMPONENTS)}")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    for name in args.variants:
        row = run_variant(name, args)
        with open(args.results, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
