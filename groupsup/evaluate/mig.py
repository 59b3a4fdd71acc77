"""MIG, the mutual information gap (Chen et al., NeurIPS 2018), on fixed codes and factors.

Each code dimension is discretised into ``bins`` equal-width bins between its minimum and
maximum (as disentanglement_lib does, 20 bins by default). For every factor j, the mutual
information ``I(z_i; v_j)`` (nats) with every discretised dimension is computed from joint
histograms; the factor's gap is the difference between the largest and second-largest
``I`` divided by the factor's entropy ``H(v_j)``. MIG is the mean gap over factors. No
randomness is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import (
    ArrayLike,
    as_float_matrix,
    as_label_matrix,
    compact_labels,
    json_array,
    json_float,
    names_for,
)


@dataclass(frozen=True)
class MIGScores:
    """``mutual_information (Z, A)`` in nats, ``entropy (A,)`` of each factor and ``gap (A,)``."""

    factors: tuple[str, ...]
    mutual_information: np.ndarray
    entropy: np.ndarray
    gap: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """Mean normalised gap over the factors that vary (NaN if none does)."""
        defined = self.gap[~np.isnan(self.gap)]
        return float(defined.mean()) if defined.size else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"metric": "mig", "factors": list(self.factors), "mig": json_float(self.score),
                "gap": json_array(self.gap), "entropy": json_array(self.entropy),
                "mutual_information": json_array(self.mutual_information),
                "config": dict(self.config)}


def discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """``(N, Z)`` floats -> ``(N, Z)`` bin indices in ``0..bins-1``, equal-width per column."""
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    return np.clip(((codes - low) / width * bins).astype(np.int64), 0, bins - 1)


def mutual_information(binned: np.ndarray, bins: int, labels: np.ndarray,
                       classes: int) -> np.ndarray:
    """``I(z_i; v)`` in nats for every column of ``binned (N, Z)`` and ``labels (N,)``: ``(Z,)``.

    One ``bincount`` builds all ``Z`` joint histograms of shape ``(bins, classes)``.
    """
    n, z = binned.shape
    cells = (np.arange(z) * bins * classes)[None, :] + binned * classes + labels[:, None]
    joint = np.bincount(cells.ravel(), minlength=z * bins * classes)
    joint = joint.reshape(z, bins, classes) / n
    outer = joint.sum(axis=2, keepdims=True) * joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / outer), 0.0)
    return terms.sum(axis=(1, 2))


def mig(codes: ArrayLike, factors: ArrayLike, *, bins: int = 20,
        factor_names: Sequence[str] | None = None) -> MIGScores:
    """MIG of ``codes (N, Z)`` (``Z >= 2``) for integer ``factors (N, A)``.

    A factor with a single value has zero entropy: its gap is NaN and it is left out of the
    mean.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins must be an int >= 2, got {bins!r}")
    z = as_float_matrix(codes, "codes").double().numpy()
    if z.shape[1] < 2:
        raise DataError(f"mig needs codes with at least 2 dimensions (a gap between the best "
                        f"two), got shape {z.shape}")
    y = as_label_matrix(factors, "factors", rows=z.shape[0])
    names = names_for(factor_names, y.shape[1], "factor_names", "factor")
    y, cards = compact_labels(y)
    binned = discretize(z, bins)
    info = np.stack([mutual_information(binned, bins, y[:, j], k) for j, k in enumerate(cards)],
                    axis=1)
    freq = [np.bincount(y[:, j]) / len(y) for j in range(y.shape[1])]
    entropy = np.array([-(p * np.log(p)).sum() for p in freq])
    top = -np.sort(-info, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(entropy > 0, (top[0] - top[1]) / entropy, np.nan)
    return MIGScores(names, info, entropy, gap,
                     {"bins": bins, "discretization": "equal-width per dimension",
                      "cardinalities": list(cards)})
