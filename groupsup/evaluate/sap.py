"""SAP, the separated attribute predictability score (Kumar et al., ICLR 2018), on fixed data.

A score matrix ``S (Z, A)`` says how well each single code dimension predicts each factor:

- a continuous factor: ``R^2`` of a linear regression of the factor's values on the dimension,
  i.e. the squared correlation, on the training rows (0 for a constant dimension);
- a discrete factor: the held-out accuracy of a classifier that sees only that dimension.
  ``classifier="svm"`` is the published computation, as disentanglement_lib has it:
  scikit-learn's ``LinearSVC(C=0.01, class_weight="balanced")`` on the **raw** codes
  (``groupsup[metrics]``; the SVM's penalty depends on the codes' scale, so standardising them
  first changes the score: 0.52 against 0.36 on one perfect code). ``"logistic"`` (the
  default, no extra dependency) is **a variant**: the batched multinomial logistic probes of
  :mod:`groupsup.evaluate.probes` on standardised codes (one per dimension x factor, fit
  together); it scores higher than the SVM on the same codes (0.75 against 0.36 on that
  perfect code), so report it as "SAP (logistic)" and never beside published SAP numbers.

A dimension that is constant on the training rows (inactive) scores 0 for every factor, as in
Kumar et al. (a classifier on it would score about chance).

For each factor the score is the difference between its two best dimensions; SAP is the mean
over factors. An axis-aligned code scores high, a code that spreads every factor over several
dimensions about 0. With discrete factors the best dimension's accuracy can reach only 1, and an
uninformative one scores about chance, so the largest possible gap of a factor is about
``1 - chance``.
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
    GapScore,
    factor_inputs,
    json_array,
    standardise,
)
from groupsup.evaluate.probes import fit_probes
from groupsup.evaluate.seeding import Seed, make_rng, seed_record, split_indices, torch_generator

CLASSIFIERS = ("logistic", "svm")


@dataclass(frozen=True)
class SAPScores(GapScore):
    """``score_matrix (Z, A)`` (R^2 or held-out accuracy of each dimension for each factor),
    ``gap (A,)`` between each factor's two best dimensions and which factors are continuous."""

    factors: tuple[str, ...]
    score_matrix: np.ndarray
    gap: np.ndarray
    continuous: tuple[bool, ...]
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.gap_record("sap", continuous=list(self.continuous),
                               score_matrix=json_array(self.score_matrix))


def squared_correlation(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(Z,)``: R^2 of the regression of ``v (N,)`` on each column of ``x (N, Z)`` alone; 0
    where a column's variance is below 1e-12 (disentanglement_lib's cut-off; the codes reach
    here standardised), NaN if ``v`` is constant."""
    xc, vc = x - x.mean(axis=0), v - v.mean()
    var_x, var_v = (xc**2).mean(axis=0), (vc**2).mean()
    if var_v <= 0:
        return np.full(x.shape[1], np.nan)
    cov = (xc * vc[:, None]).mean(axis=0)
    return np.where(var_x > 1e-12, cov**2 / np.where(var_x > 1e-12, var_x, 1.0) / var_v, 0.0)


def _svm_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """``(Z, A)`` held-out accuracy of one LinearSVC per dimension x factor."""
    try:
        from sklearn.svm import LinearSVC
    except ImportError as exc:
        raise ConfigError("sap classifier='svm' needs scikit-learn: pip install "
                          "'groupsup[metrics]'") from exc
    out = np.zeros((x.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        if len(np.unique(y[train, j])) < 2:  # one class seen: every prediction is that class
            out[:, j] = (y[test, j] == y[train[0], j]).mean()
            continue
        for i in range(x.shape[1]):
            model = LinearSVC(C=0.01, class_weight="balanced",
                              random_state=int(rng.integers(2**31)))
            model.fit(x[train, i:i + 1], y[train, j])
            out[i, j] = model.score(x[test, i:i + 1], y[test, j])
    return out


def sap(codes: ArrayLike, factors: ArrayLike, *, continuous: bool | Sequence[bool] = False,
        classifier: str = "logistic", seed: Seed = 0, test_fraction: float = 0.25,
        train_index: ArrayLike | None = None, test_index: ArrayLike | None = None,
        l2: float = 1e-4, iterations: int = 50,
        factor_names: Sequence[str] | None = None) -> SAPScores:
    """SAP of ``codes (N, Z)`` (``Z >= 2``) for integer ``factors (N, A)``.

    ``continuous``: one flag for all factors or one per factor; a continuous factor is scored
    by R^2 against its given values (so their spacing counts), a discrete one by a one-dimension
    classifier (``classifier``; logistic probes: L2 penalty ``l2``, at most ``iterations``
    L-BFGS steps on standardised codes). Split: ``train_index``/``test_index``, or a random
    ``test_fraction`` drawn from ``seed``. A factor with a single value has no gap (NaN) and is
    left out of the mean.
    """
    if classifier not in CLASSIFIERS:
        raise ConfigError(f"classifier must be one of {list(CLASSIFIERS)}, got {classifier!r}"
                          f"{did_you_mean(classifier, CLASSIFIERS)}")
    data = factor_inputs(codes, factors, factor_names)
    z, raw, y, cards = data.codes, data.raw, data.labels, data.cardinalities
    if z.shape[1] < 2:
        raise DataError(f"sap needs codes with at least 2 dimensions (a gap between the best "
                        f"two), got shape {z.shape}")
    flags = ((bool(continuous),) * raw.shape[1] if isinstance(continuous, (bool, np.bool_))
             else tuple(bool(c) for c in continuous))
    if len(flags) != raw.shape[1]:
        raise ConfigError(f"continuous must be one flag or one per factor ({raw.shape[1]}), "
                          f"got {len(flags)}")
    rng = make_rng(seed)
    train, test = split_indices(len(z), rng, test_fraction, train_index, test_index)
    raw_codes = z.astype(np.float64)
    inactive = raw_codes[train].std(axis=0) == 0
    z = standardise(z)  # in float64: the probes compute in float32, and R^2 ignores units anyway
    matrix = np.zeros((z.shape[1], y.shape[1]))
    for j in np.flatnonzero(flags):
        matrix[:, j] = squared_correlation(z[train], raw[train, j].astype(np.float64))
    discrete = np.flatnonzero(~np.array(flags))
    if discrete.size and classifier == "svm":
        matrix[:, discrete] = _svm_accuracy(raw_codes, y[:, discrete], train, test, rng)
    elif discrete.size:
        x = torch.from_numpy(z).float().T.unsqueeze(-1)  # (Z, N, 1): one feature set a dimension
        targets = torch.from_numpy(y[:, discrete])
        probes = fit_probes("logistic", x[:, train], targets[train],
                            [cards[j] for j in discrete], l2=l2, iterations=iterations,
                            generator=torch_generator(rng))
        matrix[:, discrete] = probes.accuracy(x[:, test], targets[test]).numpy()
    matrix[inactive] = 0.0
    top = -np.sort(-matrix, axis=0)
    gap = np.where(np.array(cards) > 1, top[0] - top[1], np.nan)
    config = {"classifier": classifier, "variant": "published (disentanglement_lib)"
              if classifier == "svm" else "logistic probes on standardised codes (not the "
              "published computation)", "seed": seed_record(seed), "n_train": len(train),
              "n_test": len(test), "cardinalities": list(cards)}
    if classifier == "logistic":
        config.update(l2=l2, iterations=iterations)
    return SAPScores(data.names, matrix, gap, flags, config)
