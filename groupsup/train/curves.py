"""Training curves: the records of ``RUN/metrics.jsonl`` and their plot.

The trainer redraws ``RUN/training_curves.png`` as it trains; evaluation reports embed it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groupsup.fileio import atomic_save

# metrics.jsonl keys that are not loss values
NOT_LOSSES = frozenset({"step", "loss", "groups_per_s", "images_per_s", "lr", "time"})
CURVES_FILE = "training_curves.png"


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``RUN/metrics.jsonl`` (empty when the run logged none)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_training_curves(records: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Total loss and each term against the step (log scale); ``None`` without records."""
    if not records:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [r["step"] for r in records]
    terms = [k for k in records[0] if k not in NOT_LOSSES]
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(steps, [r["loss"] for r in records], color="black", linewidth=2, label="total")
    for key in terms:
        ax.plot(steps, [r.get(key, math.nan) for r in records], linewidth=1, label=key)
    values = [r[k] for r in records for k in ("loss", *terms) if isinstance(r.get(k), float)]
    if values and min(values) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (unweighted terms, weighted total)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    kind = path.suffix.lstrip(".") or "png"  # the temporary name has no suffix to infer it from
    return atomic_save(path, lambda tmp: fig.savefig(tmp, format=kind))
