"""Zero-shot synthesis quality: MSE, PSNR and SSIM against ground truth, per combination."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.evaluate.arrays import ArrayLike, as_label_matrix, json_float, names_for
from groupsup.evaluate.image_quality import mse, psnr, ssim

METRICS = ("mse", "psnr", "ssim")


@dataclass(frozen=True)
class SynthesisQuality:
    """Image quality of synthesised images, overall and per requested attribute combination.

    ``per_image[m]`` is ``(N,)`` for m in mse/psnr/ssim; ``combinations`` is ``(G, A)`` (the
    distinct requested label rows, sorted), ``counts (G,)`` and ``per_combination[m] (G,)`` the
    mean of each group. Without combinations, ``G = 0``.
    """

    per_image: dict[str, np.ndarray]
    attributes: tuple[str, ...]
    combinations: np.ndarray
    counts: np.ndarray
    per_combination: dict[str, np.ndarray]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> dict[str, float]:
        """Mean of every metric over all images (PSNR: mean of per-image PSNRs)."""
        return {m: float(v.mean()) for m, v in self.per_image.items()}

    def to_dict(self) -> dict[str, Any]:
        rows = [
            {"combination": dict(zip(self.attributes, map(int, combo))), "count": int(count),
             **{m: json_float(self.per_combination[m][g]) for m in METRICS}}
            for g, (combo, count) in enumerate(zip(self.combinations, self.counts))
        ]
        return {"metric": "synthesis_quality", "n": len(self.per_image["mse"]),
                "overall": {m: json_float(v) for m, v in self.overall.items()},
                "per_combination": rows, "config": dict(self.config)}


def synthesis_quality(
    pred: ArrayLike, truth: ArrayLike, combos: ArrayLike | None = None, *, data_range: float,
    attributes: Sequence[str] | None = None,
) -> SynthesisQuality:
    """MSE, PSNR and SSIM of synthesised ``pred`` against ``truth``, overall and per combination.

    ``pred``, ``truth``: ``(N, C, H, W)`` in a value range of width ``data_range`` (2 for
    ``[-1, 1]``). ``combos``: optional ``(N, A)`` integer codes of the combination each image was
    asked to show; images with equal rows are averaged together. ``attributes`` names the
    ``A`` columns (default ``attr0, attr1, ...``).
    """
    scores = {"mse": mse(pred, truth), "psnr": psnr(pred, truth, data_range=data_range),
              "ssim": ssim(pred, truth, data_range=data_range)}
    per_image = {m: s.per_image for m, s in scores.items()}
    n = len(per_image["mse"])
    if combos is None:
        groups = np.zeros((0, 0 if attributes is None else len(attributes)), dtype=np.int64)
        counts = np.zeros(0, dtype=np.int64)
        per_combination = {m: np.zeros(0) for m in METRICS}
    else:
        labels = as_label_matrix(combos, "combos", rows=n)
        groups, inverse, counts = np.unique(labels, axis=0, return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(-1)
        per_combination = {m: np.bincount(inverse, weights=v, minlength=len(groups)) / counts
                           for m, v in per_image.items()}
    names = names_for(attributes, groups.shape[1], "attributes", "attr")
    return SynthesisQuality(per_image, names, groups, counts, per_combination,
                            {"data_range": float(data_range), **scores["ssim"].config})
