"""DCI (Eastwood & Williams, ICLR 2018): disentanglement, completeness, informativeness.

An importance matrix ``R (Z, A)`` says how much each code dimension is used to predict each
factor. Here ``R`` comes from one multinomial logistic regression per factor on all ``Z``
standardised code dimensions (L2-regularised, fit by L-BFGS; see
:mod:`groupsup.evaluate.probes`): ``R[i, j]`` is the sum over factor j's classes of the squared
(class-centred) weights of dimension i, its share of the variance of the factor's logits, and
each column is normalised to sum to 1, like the tree importances (variance reductions) of
disentanglement_lib. Standardised inputs make the weights comparable across dimensions; the L2
penalty keeps them finite when a factor is perfectly separable. Squared weights, unlike
absolute ones, leave the small weights a finite sample puts on unrelated dimensions near zero,
so a perfect representation scores ``D = C = 1``.

- disentanglement of dimension i: ``1 - H_A(R[i, :] / sum_j R[i, j])``, entropy in base ``A``;
  overall: weighted by each dimension's share of the total importance.
- completeness of factor j: ``1 - H_Z(R[:, j] / sum_i R[i, j])``, entropy in base ``Z``;
  overall: the mean over factors.
- informativeness of factor j: the probe's held-out accuracy (chance listed beside it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from groupsup.errors import DataError
from groupsup.evaluate.arrays import (
    ArrayLike,
    as_float_matrix,
    as_label_matrix,
    chance_level,
    compact_labels,
    json_array,
    json_float,
    names_for,
)
from groupsup.evaluate.probes import fit_probes
from groupsup.evaluate.splits import Seed, make_rng, seed_record, split_indices, torch_generator


def _one_minus_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """``1 - H(p) / log(n)`` along *axis*, with ``n`` the length of that axis; NaN if ``n < 2``."""
    n = p.shape[axis]
    if n < 2:
        return np.full(p.shape[1 - axis], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=axis)
    return 1.0 - h / np.log(n)


@dataclass(frozen=True)
class DCIScores:
    """DCI of a representation: ``importance (Z, A)``, per-dimension and per-factor scores."""

    factors: tuple[str, ...]
    importance: np.ndarray
    disentanglement_per_code: np.ndarray
    completeness_per_factor: np.ndarray
    informativeness_per_factor: np.ndarray
    train_accuracy: np.ndarray
    chance: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def code_weights(self) -> np.ndarray:
        """``(Z,)``: each dimension's share of the total importance."""
        total = self.importance.sum()
        return self.importance.sum(axis=1) / total if total > 0 else np.zeros(len(self.importance))

    @property
    def disentanglement(self) -> float:
        d = np.nan_to_num(self.disentanglement_per_code)
        return float((self.code_weights * d).sum()) if len(self.factors) > 1 else float("nan")

    @property
    def completeness(self) -> float:
        return float(np.nanmean(self.completeness_per_factor)) if len(self.importance) > 1 \
            else float("nan")

    @property
    def informativeness(self) -> float:
        return float(self.informativeness_per_factor.mean())

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": "dci", "factors": list(self.factors),
            "disentanglement": json_float(self.disentanglement),
            "completeness": json_float(self.completeness),
            "informativeness": json_float(self.informativeness),
            "disentanglement_per_code": json_array(self.disentanglement_per_code),
            "completeness_per_factor": json_array(self.completeness_per_factor),
            "informativeness_per_factor": json_array(self.informativeness_per_factor),
            "train_accuracy": json_array(self.train_accuracy), "chance": json_array(self.chance),
            "importance": json_array(self.importance), "config": dict(self.config),
        }


def dci(codes: ArrayLike, factors: ArrayLike, *, factor_names: Sequence[str] | None = None,
        seed: Seed = 0, test_fraction: float = 0.25, train_index: ArrayLike | None = None,
        test_index: ArrayLike | None = None, l2: float = 1e-4, iterations: int = 100,
        device: str | torch.device = "cpu") -> DCIScores:
    """DCI scores of ``codes (N, Z)`` for integer ``factors (N, A)`` (needs ``Z >= 2``, ``A >= 2``
    for disentanglement and completeness to be defined; otherwise they are NaN).

    Probes: multinomial logistic regression per factor on all standardised dimensions, L2
    penalty ``l2``, at most ``iterations`` L-BFGS steps, fit together on ``device``. Split:
    ``train_index``/``test_index``, or a random ``test_fraction`` drawn from ``seed``.
    """
    z = as_float_matrix(codes, "codes")
    y = as_label_matrix(factors, "factors", rows=z.shape[0])
    names = names_for(factor_names, y.shape[1], "factor_names", "factor")
    y, cards = compact_labels(y)
    if z.shape[0] < 4:
        raise DataError(f"dci needs at least 4 rows to split, got codes of shape {tuple(z.shape)}")
    rng = make_rng(seed)
    train, test = split_indices(len(z), rng, test_fraction, train_index, test_index)
    x = z.unsqueeze(0).to(device)  # one feature set: all dimensions
    targets = torch.from_numpy(y).to(device)
    probes = fit_probes("logistic", x[:, train], targets[train], cards, l2=l2,
                        iterations=iterations, generator=torch_generator(rng))
    raw = probes.importance()[0].double().cpu().numpy()  # (Z, A)
    column = raw.sum(axis=0, keepdims=True)
    importance = np.divide(raw, column, out=np.zeros_like(raw), where=column > 0)
    row = importance.sum(axis=1, keepdims=True)
    per_code = _one_minus_entropy(
        np.divide(importance, row, out=np.zeros_like(importance), where=row > 0), axis=1)
    per_code[row[:, 0] == 0] = 0.0  # a dimension no probe uses is not disentangled
    per_factor = _one_minus_entropy(importance, axis=0)
    per_factor[column[0] == 0] = np.nan  # a constant factor: no probe weights, undefined
    return DCIScores(
        factors=names, importance=importance, disentanglement_per_code=per_code,
        completeness_per_factor=per_factor,
        informativeness_per_factor=probes.accuracy(x[:, test], targets[test])[0].cpu().numpy(),
        train_accuracy=probes.accuracy(x[:, train], targets[train])[0].cpu().numpy(),
        chance=chance_level(y[test]),
        config={"seed": seed_record(seed), "n_train": len(train),
                "n_test": len(test), "l2": l2, "iterations": iterations,
                "importance": "squared class-centred weights of standardised logistic probes",
                "cardinalities": list(cards)},
    )
