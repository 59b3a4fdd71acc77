"""Learning curves of ``groupsup compare --curve-points K``: quality at K regular points of a
run's time budget, against wall-clock seconds and against steps.

:class:`CurvePoints` is a training callback: when the training clock first passes ``k / K`` of
the budget (k = 1 .. K-1) it checkpoints the run and copies that checkpoint to
``RUN/curve/point-k`` (the run keeps only its newest checkpoints), recording the step and the
seconds. The K-th point is the end of training, evaluated by the comparison itself. Each point
is then evaluated like the final model (same options, same shared judge; written to
``RUN/curve/eval-k``) and summarised by :func:`curve_record`. :func:`plot_curves` draws every
config's curves, one panel per metric of :data:`CURVE_METRICS`.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import groupsup as gs
from groupsup.fileio import atomic_save

# (key in a curve record, panel title)
CURVE_METRICS: tuple[tuple[str, str], ...] = (
    ("swap_accuracy", "swap accuracy (mean)"),
    ("leakage", "leakage (off-diagonal)"),
    ("ssim", "held-out SSIM"),
    ("psnr", "held-out PSNR (dB)"),
    ("coprediction_diagonal", "co-prediction diagonal"),
    ("coprediction_off_diagonal", "co-prediction off-diagonal"),
)

# the curve is flat when the last FLAT_TAIL of the budget improves the mean swap accuracy by
# less than FLAT_GAIN (issue 15's convergence rule)
FLAT_TAIL, FLAT_GAIN = 0.2, 0.02


class CurvePoints(gs.Callback):
    """Checkpoint the run at ``k / points`` of *budget* seconds, k = 1 .. points - 1, into
    ``RUN/curve/point-k``; ``points_taken`` lists ``{"point", "step", "seconds", "path"}``."""

    def __init__(self, budget: float, points: int) -> None:
        super().__init__()
        if points < 1:
            raise gs.ConfigError(f"--curve-points must be at least 1, got {points}")
        self.budget, self.points = budget, points
        self.points_taken: list[dict[str, Any]] = []

    def on_step_end(self, loop: gs.Loop, values: dict[str, float], batch: gs.GroupBatch) -> None:
        k = len(self.points_taken) + 1
        if not loop.is_main or k >= self.points:
            return
        seconds = loop.elapsed()
        if seconds < k * self.budget / self.points:
            return
        saved = loop.save()
        if saved is None:
            return
        path = loop.run_dir / "curve" / f"point-{k}"
        if path.exists():
            shutil.rmtree(path)
        shutil.copytree(saved, path)
        self.points_taken.append({"point": k, "step": loop.step, "seconds": round(seconds, 2),
                                  "path": str(path)})


def curve_record(point: int, points: int, step: int, seconds: float,
                 metrics: dict[str, Any]) -> dict[str, Any]:
    """One point of a curve from an evaluation's ``metrics.json`` content."""
    swap = metrics["swap_accuracy"]
    return {"point": point, "fraction": point / points, "step": step,
            "seconds": round(seconds, 2), "swap_accuracy": swap["mean"],
            "swap_accuracy_per_attribute": dict(zip(metrics["classifier"]["attributes"],
                                                    swap["accuracy"])),
            "leakage": metrics["leakage"]["off_diagonal_mean"],
            "ssim": metrics["synthesis"]["ssim"], "psnr": metrics["synthesis"]["psnr"],
            "coprediction_diagonal": metrics["coprediction"]["diagonal_mean"],
            "coprediction_off_diagonal": metrics["coprediction"]["off_diagonal_mean"]}


def tail_gain(curve: Sequence[dict[str, Any]]) -> float | None:
    """Mean swap accuracy gained over the last :data:`FLAT_TAIL` of the budget: the final
    point minus the point nearest ``1 - FLAT_TAIL`` (``None`` with fewer than two points)."""
    if len(curve) < 2:
        return None
    earlier = min(curve[:-1], key=lambda r: abs(r["fraction"] - (1 - FLAT_TAIL)))
    return float(curve[-1]["swap_accuracy"] - earlier["swap_accuracy"])


def plot_curves(curves: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    """``out/compare-curves-seconds.png`` and ``out/compare-curves-steps.png``: one panel per
    metric of :data:`CURVE_METRICS`, one line per run (name -> its curve records)."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # one colour per config (the run name before "/seed-"), one line style per seed
    configs = list(dict.fromkeys(name.split("/")[0] for name in curves))
    palette = colormaps["tab10" if len(configs) <= 10 else "tab20"]
    styles = ("-", "--", ":", "-.")
    seen: dict[str, int] = {}
    looks = {}
    for name in curves:
        config = name.split("/")[0]
        k = seen[config] = seen.get(config, -1) + 1
        looks[name] = {"color": palette(configs.index(config) % palette.N),
                       "linestyle": styles[k % len(styles)],
                       "label": config if name == config else
                       f"{config} ({sum(n.split('/')[0] == config for n in curves)} seeds)"}
    paths = []
    for axis, label in (("seconds", "training seconds"), ("step", "steps")):
        fig = Figure(figsize=(12, 6.5), dpi=100)
        FigureCanvasAgg(fig)
        for i, (key, title) in enumerate(CURVE_METRICS):
            ax = fig.add_subplot(2, 3, i + 1)
            for name, curve in curves.items():
                points = [(r[axis], r[key]) for r in curve if r[key] is not None]
                if points:
                    xs, ys = zip(*points)
                    look = looks[name]
                    ax.plot(xs, ys, marker="o", markersize=3, color=look["color"],
                            linestyle=look["linestyle"],
                            label=look["label"] if look["linestyle"] == "-" else None)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel(label, fontsize=8)
            ax.tick_params(labelsize=8)
        fig.axes[0].legend(fontsize=7)
        fig.tight_layout()
        name = "seconds" if axis == "seconds" else "steps"
        path = out / f"compare-curves-{name}.png"
        paths.append(atomic_save(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png")))
    return paths
