"""What ``GET /api/run`` shows of a run: its training curves and its latest evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CURVE_POINTS = 400  # training-curve points sent to the page (downsampled evenly)
# metrics.jsonl keys that are not losses
NOT_LOSSES = frozenset({"step", "groups_per_s", "images_per_s", "lr", "time"})


def training_curves(run_dir: Path) -> dict[str, Any]:
    """``{"steps", "series": {key: values}}`` of ``RUN/metrics.jsonl``: the loss and every
    term, at most :data:`CURVE_POINTS` records picked evenly (a torn line is skipped)."""
    path = run_dir / "metrics.jsonl"
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line torn by a crash
                continue
    records = [r for r in records if isinstance(r, dict) and "step" in r]
    if len(records) > CURVE_POINTS:
        pick = np.linspace(0, len(records) - 1, CURVE_POINTS).round().astype(int)
        records = [records[i] for i in np.unique(pick)]
    keys = list(dict.fromkeys(k for r in records for k, v in r.items()
                              if k not in NOT_LOSSES and isinstance(v, int | float)))
    return {"steps": [r["step"] for r in records],
            "series": {k: [finite(r.get(k)) for r in records] for k in keys}}


def latest_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The newest ``RUN/eval/**/metrics.json`` (``eval/NNN`` of ``groupsup evaluate``, or
    ``eval/`` itself as the demo writes it), reduced to what the page shows (with
    ``free_leakage`` and ``free_coprediction`` of a model with an unlabelled block, else
    ``None``); ``None`` before any evaluation."""
    root = run_dir / "eval"
    found = [p for p in (root / "metrics.json", *root.glob("[0-9]*/metrics.json"))
             if p.is_file()]
    if not found:
        return None
    path = max(found, key=lambda p: p.stat().st_mtime)
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {"path": str(path), "error": "unreadable metrics.json"}
    pick = {"headline": ("text",), "leakage": ("blocks", "attributes", "matrix"),
            "coprediction": ("blocks", "attributes", "matrix"),
            "swap_accuracy": ("attributes", "accuracy", "mean"),
            "synthesis": ("psnr", "ssim", "mse"), "reconstruction": ("psnr", "ssim"),
            "free_coprediction": ("accuracy", "chance", "excess_max")}
    out: dict[str, Any] = {"path": str(path)}
    for section, keys in pick.items():
        value = metrics.get(section)
        out[section] = {k: value.get(k) for k in keys} if isinstance(value, dict) else None
    # a model with an unlabelled block: how often each attribute follows that block's provider
    free_leakage = metrics.get("free_leakage")
    out["free_leakage"] = free_leakage if isinstance(free_leakage, dict) else None
    return out


def finite(value: Any) -> float | None:
    """A JSON-safe number: ``None`` for a missing, infinite or NaN value."""
    if isinstance(value, int | float) and np.isfinite(value):
        return float(value)
    return None
