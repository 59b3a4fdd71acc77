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

A factor with a single value in the data is left out of all three (NaN in the per-factor
arrays), as MIG, SAP and FactorVAE leave it out: its all-zero importance column would otherwise
raise the base of every dimension's entropy and inflate ``D`` (two factors entangled by a
rotation: 0.00, with a constant third factor beside them 0.37), and its trivial accuracy of 1
would lift ``I``.

``importance="gbt"`` takes ``R`` from scikit-learn's ``GradientBoostingClassifier`` instead (one
per factor, its impurity-based ``feature_importances_``; informativeness is its held-out
accuracy), as disentanglement_lib does, so the numbers are comparable with published DCI. It
needs the optional extra ``groupsup[metrics]``.

The null floor. A finite sample gives every dimension some importance for every factor, so even
codes that carry no information score ``D, C > 0`` (about 0.05-0.13 with logistic probes on
random codes). The floor is measured, not assumed: the same importances are computed with the
codes' rows permuted (``null_repeats`` permutations drawn from ``seed``, which destroy every
code-factor association and keep everything else), and their mean D and C are reported beside
the scores with the chance-adjusted ``(D - D_null) / (1 - D_null)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from groupsup.errors import ConfigError, DataError, did_you_mean
from groupsup.evaluate.arrays import (
    ArrayLike,
    chance_level,
    defined_mean,
    factor_inputs,
    json_array,
    json_float,
    standardise,
)
from groupsup.evaluate.probes import fit_probes
from groupsup.evaluate.seeding import Seed, make_rng, seed_record, split_indices, torch_generator


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
    """DCI of a representation: ``importance (Z, A)``, per-dimension and per-factor scores, and
    the D and C of permuted codes (``null_disentanglement``, ``null_completeness``: the floor; NaN
    when no permutation was run)."""

    factors: tuple[str, ...]
    importance: np.ndarray
    disentanglement_per_code: np.ndarray
    completeness_per_factor: np.ndarray
    informativeness_per_factor: np.ndarray
    train_accuracy: np.ndarray
    chance: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)
    null_disentanglement: float = float("nan")
    null_completeness: float = float("nan")

    @property
    def code_weights(self) -> np.ndarray:
        """``(Z,)``: each dimension's share of the total importance."""
        return _code_weights(self.importance)

    @property
    def disentanglement(self) -> float:
        return _disentanglement(self.importance, self.disentanglement_per_code)

    @property
    def completeness(self) -> float:
        return _completeness(self.importance, self.completeness_per_factor)

    @property
    def informativeness(self) -> float:
        """Mean held-out accuracy over the factors that vary (a constant one is NaN)."""
        return defined_mean(self.informativeness_per_factor)

    @property
    def disentanglement_above_null(self) -> float:
        """``(D - D_null) / (1 - D_null)``: 0 at the floor of permuted codes, 1 when perfect."""
        return _above(self.disentanglement, self.null_disentanglement)

    @property
    def completeness_above_null(self) -> float:
        """``(C - C_null) / (1 - C_null)``."""
        return _above(self.completeness, self.null_completeness)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": "dci", "factors": list(self.factors),
            "disentanglement": json_float(self.disentanglement),
            "completeness": json_float(self.completeness),
            "informativeness": json_float(self.informativeness),
            "null_disentanglement": json_float(self.null_disentanglement),
            "null_completeness": json_float(self.null_completeness),
            "disentanglement_above_null": json_float(self.disentanglement_above_null),
            "completeness_above_null": json_float(self.completeness_above_null),
            "disentanglement_per_code": json_array(self.disentanglement_per_code),
            "completeness_per_factor": json_array(self.completeness_per_factor),
            "informativeness_per_factor": json_array(self.informativeness_per_factor),
            "train_accuracy": json_array(self.train_accuracy), "chance": json_array(self.chance),
            "importance": json_array(self.importance), "config": dict(self.config),
        }


def _code_weights(importance: np.ndarray) -> np.ndarray:
    total = importance.sum()
    return importance.sum(axis=1) / total if total > 0 else np.zeros(len(importance))


def _disentanglement(importance: np.ndarray, per_code: np.ndarray) -> float:
    if int((importance.sum(axis=0) > 0).sum()) < 2:  # fewer than two factors that vary
        return float("nan")
    return float((_code_weights(importance) * np.nan_to_num(per_code)).sum())


def _completeness(importance: np.ndarray, per_factor: np.ndarray) -> float:
    return float("nan") if len(importance) < 2 else defined_mean(per_factor)


def _above(score: float, null: float) -> float:
    return (score - null) / (1.0 - null) if null < 1.0 else float("nan")


def _scores(raw: np.ndarray, varies: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw importances ``(Z, A)`` -> column-normalised importance ``(Z, A)``, ``D_i (Z,)`` and
    ``C_j (A,)``. Only the factors that vary (*varies*, default: a column with any importance)
    enter ``D_i``: its entropy is in base (their number), so a constant factor's empty column
    does not raise the base and with it every dimension's score (disentanglement_lib's
    computation of ``D`` has this inflation; the definition does not)."""
    column = raw.sum(axis=0, keepdims=True)
    importance = np.divide(raw, column, out=np.zeros_like(raw), where=column > 0)
    varies = column[0] > 0 if varies is None else varies & (column[0] > 0)
    active = importance[:, varies]
    row = active.sum(axis=1, keepdims=True)
    per_code = _one_minus_entropy(
        np.divide(active, row, out=np.zeros_like(active), where=row > 0), axis=1)
    if active.shape[1] < 2:
        per_code = np.full(len(raw), np.nan)
    per_code[row[:, 0] == 0] = 0.0  # a dimension no probe uses is not disentangled
    importance[:, ~varies] = 0.0
    per_factor = _one_minus_entropy(importance, axis=0)
    per_factor[~varies] = np.nan  # a constant factor: no probe weights, undefined
    return importance, per_code, per_factor


# (standardised codes (N, Z) float64, compact factors, cardinalities, train, test, rng)
#   -> raw importance (Z, A), held-out accuracy (A,), training accuracy (A,)
Importances = tuple[np.ndarray, np.ndarray, np.ndarray]


def _logistic_importance(z: np.ndarray, y: np.ndarray, cards: Sequence[int], train: np.ndarray,
                         test: np.ndarray, rng: np.random.Generator, *, l2: float,
                         iterations: int, device: str | torch.device) -> Importances:
    x = torch.from_numpy(z).float().unsqueeze(0).to(device)  # one feature set: all dimensions
    targets = torch.from_numpy(y).to(device)
    probes = fit_probes("logistic", x[:, train], targets[train], cards, l2=l2,
                        iterations=iterations, generator=torch_generator(rng))
    return (probes.importance()[0].double().cpu().numpy(),
            probes.accuracy(x[:, test], targets[test])[0].cpu().numpy(),
            probes.accuracy(x[:, train], targets[train])[0].cpu().numpy())


def _gbt_importance(z: np.ndarray, y: np.ndarray, cards: Sequence[int], train: np.ndarray,
                    test: np.ndarray, rng: np.random.Generator, *,
                    options: dict[str, Any]) -> Importances:
    ensemble = _require_sklearn()
    raw = np.zeros((z.shape[1], y.shape[1]))
    accuracy, train_accuracy = np.ones(y.shape[1]), np.ones(y.shape[1])
    for j, k in enumerate(cards):
        state = int(rng.integers(2**31))  # drawn for every factor, so the stream is fixed
        if k < 2 or len(np.unique(y[train, j])) < 2:
            continue  # nothing to learn: no importance (C_j is NaN), every guess is right
        model = ensemble.GradientBoostingClassifier(random_state=state, **options)
        model.fit(z[train], y[train, j])
        raw[:, j] = np.abs(model.feature_importances_)
        accuracy[j] = model.score(z[test], y[test, j])
        train_accuracy[j] = model.score(z[train], y[train, j])
    return raw, accuracy, train_accuracy


def _require_sklearn() -> Any:
    try:
        from sklearn import ensemble
    except ImportError as exc:
        raise ConfigError("dci importance='gbt' needs scikit-learn: pip install "
                          "'groupsup[metrics]'") from exc
    return ensemble


IMPORTANCES = ("logistic", "gbt")


def _check_options(importance: str, null_repeats: int) -> None:
    if importance not in IMPORTANCES:
        raise ConfigError(f"importance must be one of {list(IMPORTANCES)}, got {importance!r}"
                          f"{did_you_mean(importance, IMPORTANCES)}")
    if isinstance(null_repeats, bool) or not isinstance(null_repeats, int) or null_repeats < 0:
        raise ConfigError(f"null_repeats must be an int >= 0, got {null_repeats!r}")


def _estimate_config(importance: str, gbt_options: dict[str, Any] | None, *, l2: float,
                     iterations: int) -> dict[str, Any]:
    """The importance estimator's part of a DCI result's config."""
    if importance == "gbt":
        return {"gbt_options": dict(gbt_options or {}),
                "importance_estimate": "GradientBoostingClassifier.feature_importances_"}
    return {"l2": l2, "iterations": iterations, "importance_estimate": (
        "squared class-centred weights of standardised logistic probes")}


def dci(codes: ArrayLike, factors: ArrayLike, *, factor_names: Sequence[str] | None = None,
        seed: Seed = 0, test_fraction: float = 0.25, train_index: ArrayLike | None = None,
        test_index: ArrayLike | None = None, l2: float = 1e-4, iterations: int = 100,
        device: str | torch.device = "cpu", importance: str = "logistic",
        gbt_options: dict[str, Any] | None = None, null_repeats: int = 1) -> DCIScores:
    """DCI scores of ``codes (N, Z)`` for integer ``factors (N, A)`` (needs ``Z >= 2``, ``A >= 2``
    for disentanglement and completeness to be defined; otherwise they are NaN).

    ``importance="logistic"``: multinomial logistic regression per factor on all standardised
    dimensions, L2 penalty ``l2``, at most ``iterations`` L-BFGS steps, fit together on
    ``device``. ``importance="gbt"``: scikit-learn's ``GradientBoostingClassifier`` per factor
    (its defaults, overridden by ``gbt_options``; seeded from ``seed``), as in
    disentanglement_lib. Split: ``train_index``/``test_index``, or a random ``test_fraction``
    drawn from ``seed``. ``null_repeats`` permutations of the code rows (0: none) measure the
    floor of D and C; each costs one more fit.
    """
    _check_options(importance, null_repeats)
    data = factor_inputs(codes, factors, factor_names)
    z, y, cards, names = data.codes, data.labels, data.cardinalities, data.names
    if z.shape[0] < 4:
        raise DataError(f"dci needs at least 4 rows to split, got codes of shape {z.shape}")
    if importance == "gbt":
        _require_sklearn()
    # centre and scale in float64: the probes and scikit-learn's trees compute in float32, which
    # would lose the small variations of a dimension far from 0 (at 1e4 its resolution is 1e-3);
    # neither estimate depends on the units of a dimension otherwise
    z = standardise(z)
    rng = make_rng(seed)
    train, test = split_indices(len(z), rng, test_fraction, train_index, test_index)

    def estimate(x: np.ndarray) -> Importances:
        if importance == "gbt":
            return _gbt_importance(x, y, cards, train, test, rng, options=dict(gbt_options or {}))
        return _logistic_importance(x, y, cards, train, test, rng, l2=l2, iterations=iterations,
                                    device=device)

    raw, accuracy, train_accuracy = estimate(z)
    # a factor with one value is left out of D, C and I (as MIG, SAP and FactorVAE leave it)
    varies = np.array([len(np.unique(y[:, j])) > 1 for j in range(y.shape[1])])
    normalised, per_code, per_factor = _scores(raw, varies)
    accuracy = np.where(varies, accuracy, np.nan)
    null_d, null_c = [], []
    for _ in range(null_repeats):
        shuffled, code_null, factor_null = _scores(estimate(z[rng.permutation(len(z))])[0],
                                                   varies)
        null_d.append(_disentanglement(shuffled, code_null))
        null_c.append(_completeness(shuffled, factor_null))
    config = {"seed": seed_record(seed), "n_train": len(train), "n_test": len(test),
              "importance": importance, "null_repeats": null_repeats,
              "cardinalities": list(cards),
              **_estimate_config(importance, gbt_options, l2=l2, iterations=iterations)}
    return DCIScores(
        factors=names, importance=normalised, disentanglement_per_code=per_code,
        completeness_per_factor=per_factor, informativeness_per_factor=accuracy,
        train_accuracy=train_accuracy, chance=chance_level(y[test]), config=config,
        null_disentanglement=float(np.mean(null_d)) if null_d else float("nan"),
        null_completeness=float(np.mean(null_c)) if null_c else float("nan"),
    )
