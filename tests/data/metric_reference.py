"""Fixed synthetic codes, and the script that scored them with disentanglement_lib.

``tests/test_metric_reference.py`` pins groupsup's MIG, SAP (SVM), DCI (gradient-boosted trees)
and FactorVAE score to the values that disentanglement_lib 1.5's own metric code gives on the
codes built by :func:`cases`. Only :func:`cases` and :func:`split` are used by the test (numpy
only); run this file to recompute the reference values, in a scratch environment outside the
project (disentanglement_lib is not a dependency of groupsup)::

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install --no-deps disentanglement-lib==1.5
    /tmp/refvenv/bin/pip install -c constraints.txt numpy scipy scikit-learn
    /tmp/refvenv/bin/pip install gin-config==0.4.0 absl-py six
    /tmp/refvenv/bin/python tests/data/metric_reference.py

(gin-config 0.4.0: later releases refuse the ``blacklist=`` argument disentanglement_lib
passes.) It prints the ``REFERENCE`` table of the test. The metric modules import ``gin.tf``,
which imports TensorFlow only to register TF-specific gin helpers that the metrics never use;
the script points ``gin.tf`` at plain ``gin`` instead (the only stub). Everything else is
disentanglement_lib's code, called through its array-level functions: ``_compute_mig`` (with
its histogram discretiser at 20 bins, the value of its published configs), ``_compute_sap``,
``_compute_dci`` and ``compute_factor_vae`` on a ground-truth-data object whose observations are
the case's codes.

Every case has two factors, 5 x 4 values, each combination on ``REPEATS`` rows (400 rows), and
three code dimensions. A constant factor cannot be scored by disentanglement_lib (its MIG
divides by a zero entropy, its trees refuse a single class); groupsup leaves such a factor out,
so the case ``constant_factor`` (``rotated`` plus a constant factor) is pinned to
disentanglement_lib's values without that column.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

CARDINALITIES = (5, 4)
REPEATS = 20
N = int(np.prod(CARDINALITIES)) * REPEATS
CONSTANT_VALUE = 3


def grid_factors() -> np.ndarray:
    """``(N, 2)`` int64: every combination of the factors' values on ``REPEATS`` rows, in order."""
    combos = np.array(list(itertools.product(*(range(k) for k in CARDINALITIES))))
    return np.repeat(combos, REPEATS, axis=0).astype(np.int64)


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (``codes (N, 3)`` float64, ``factors (N, A)`` int64), drawn from default_rng(0).

    - ``axis_aligned``: each factor (standardised) in its own dimension with a little noise, the
      third dimension pure noise;
    - ``scaled``: ``axis_aligned`` with its dimensions scaled by 10, 0.1, 1 and shifted (the
      SVM of SAP sees raw codes, so units matter there and nowhere else);
    - ``rotated``: the two factors rotated by 45 degrees into two dimensions (entangled);
    - ``noisy``: each factor in its own dimension under heavy noise, the first factor leaking
      into the third dimension;
    - ``constant_factor``: ``rotated`` with a factor that has one value between its two.
    """
    rng = np.random.default_rng(0)
    factors = grid_factors()
    u = (factors - factors.mean(axis=0)) / factors.std(axis=0)
    out = {}
    axis = np.stack([u[:, 0], u[:, 1], np.zeros(N)], axis=1) + rng.normal(size=(N, 3)) * [
        0.05, 0.05, 1.0]
    out["axis_aligned"] = (axis, factors)
    out["scaled"] = (axis * [10.0, 0.1, 1.0] + [5.0, -2.0, 0.0], factors)
    turn = np.sqrt(0.5)
    rotated = np.stack([turn * (u[:, 0] + u[:, 1]), turn * (u[:, 0] - u[:, 1]), np.zeros(N)],
                       axis=1) + rng.normal(size=(N, 3)) * [0.05, 0.05, 1.0]
    out["rotated"] = (rotated, factors)
    noisy = np.stack([u[:, 0], u[:, 1], 0.5 * u[:, 0]], axis=1) + rng.normal(size=(N, 3)) * [
        1.5, 1.0, 1.0]
    out["noisy"] = (noisy, factors)
    constant = np.full(N, CONSTANT_VALUE, dtype=np.int64)
    out["constant_factor"] = (rotated, np.stack([factors[:, 0], constant, factors[:, 1]], axis=1))
    return out


def split() -> tuple[np.ndarray, np.ndarray]:
    """The rows SAP and DCI train on (300) and test on (100), from default_rng(1)."""
    order = np.random.default_rng(1).permutation(N)
    return np.sort(order[:300]), np.sort(order[300:])


# FactorVAE samples its batches: the reference is disentanglement_lib's score with this many
# evaluation votes (and its default 10,000 training votes), so its own sampling error is small
FACTORVAE_EVAL_VOTES = 50000

# The random state of every gradient-boosted classifier. The trees break ties between features
# that split a node equally well at random, so DCI's D and C move by about 1e-3 with the state;
# disentanglement_lib leaves it to numpy's global state and groupsup draws one per factor from
# its seed. The reference and the test both fit with this state (see seeded_trees).
TREE_STATE = 0


def seeded_trees(trees: type) -> Callable[..., Any]:
    """A stand-in for scikit-learn's ``GradientBoostingClassifier`` class (*trees*) that builds
    it with ``random_state=TREE_STATE`` whatever state its caller passes; put in place of
    ``sklearn.ensemble.GradientBoostingClassifier``, where both libraries look it up."""

    def build(**options: Any) -> Any:
        return trees(**{**options, "random_state": TREE_STATE})

    return build


def _reference() -> dict[str, dict[str, float]]:  # pragma: no cover - needs disentanglement_lib
    import sys

    import gin

    sys.modules["gin.tf"] = gin  # the only stub: gin.tf imports TensorFlow, unused by metrics
    from disentanglement_lib.data.ground_truth.ground_truth_data import GroundTruthData
    from disentanglement_lib.evaluation.metrics import dci, factor_vae, mig, sap_score, utils
    from sklearn import ensemble

    ensemble.GradientBoostingClassifier = seeded_trees(ensemble.GradientBoostingClassifier)

    gin.bind_parameter("discretizer.discretizer_fn", utils._histogram_discretize)
    gin.bind_parameter("discretizer.num_bins", 20)

    class Codes(GroundTruthData):
        """The case's codes as observations: a factor combination shows one of its rows."""

        def __init__(self, codes: np.ndarray, factors: np.ndarray) -> None:
            self.codes = codes
            index = np.ravel_multi_index(factors.T, CARDINALITIES)
            self.rows = [np.flatnonzero(index == i) for i in range(int(np.prod(CARDINALITIES)))]

        @property
        def num_factors(self) -> int:
            return len(CARDINALITIES)

        @property
        def factors_num_values(self) -> list[int]:
            return list(CARDINALITIES)

        @property
        def observation_shape(self) -> list[int]:
            return [self.codes.shape[1]]

        def sample_factors(self, num: int, random_state: np.random.RandomState) -> np.ndarray:
            return np.stack([random_state.randint(k, size=num) for k in CARDINALITIES], axis=1)

        def sample_observations_from_factors(self, factors: np.ndarray,
                                             random_state: np.random.RandomState) -> np.ndarray:
            index = np.ravel_multi_index(factors.T, CARDINALITIES)
            return self.codes[[self.rows[i][random_state.randint(REPEATS)] for i in index]]

    train, test = split()
    table = {}
    for name, (codes, factors) in cases().items():
        varies = [len(np.unique(column)) > 1 for column in factors.T]
        factors = factors[:, varies]  # disentanglement_lib cannot score a constant factor
        mus, ys = codes.T, factors.T
        row = {"mig": mig._compute_mig(mus, ys)["discrete_mig"]}
        np.random.seed(0)  # LinearSVC draws from numpy's global state (the trees: TREE_STATE)
        row["sap_svm"] = sap_score._compute_sap(mus[:, train], ys[:, train], mus[:, test],
                                                ys[:, test], False)["SAP_score"]
        row["sap_continuous"] = sap_score._compute_sap(mus[:, train], ys[:, train], mus[:, test],
                                                       ys[:, test], True)["SAP_score"]
        scores = dci._compute_dci(mus[:, train], ys[:, train], mus[:, test], ys[:, test])
        row.update(dci_disentanglement=scores["disentanglement"],
                   dci_completeness=scores["completeness"],
                   dci_informativeness=scores["informativeness_test"])
        vae = factor_vae.compute_factor_vae(
            Codes(codes, factors), lambda x: x, np.random.RandomState(0), batch_size=64,
            num_train=10000, num_eval=FACTORVAE_EVAL_VOTES, num_variance_estimate=100000)
        row["factorvae"] = vae["eval_accuracy"]
        table[name] = {key: float(value) for key, value in row.items()}
    return table


if __name__ == "__main__":  # pragma: no cover
    import importlib.metadata as metadata

    versions = {p: metadata.version(p) for p in ("disentanglement-lib", "scikit-learn", "numpy")}
    print(f"# {versions}")
    print("REFERENCE = {")
    for case, row in _reference().items():
        print(f"    {case!r}: {{")
        for key, value in row.items():
            print(f"        {key!r}: {value!r},")
        print("    },")
    print("}")
