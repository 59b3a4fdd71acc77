"""MIG, SAP, DCI and the FactorVAE score pinned to disentanglement_lib's values on fixed codes.

The codes are built by ``tests/data/metric_reference.py`` (five cases: axis-aligned, the same
scaled and shifted, two factors rotated by 45 degrees, heavy noise, and the rotated case with a
constant factor). ``REFERENCE`` below is what that script printed when run against
disentanglement_lib's own metric code; a change that moves a metric away from the published
computation fails here. The reference ran with the numpy, scipy and scikit-learn versions that
constraints.txt pins; when a bump there moves a value, rerun the script (its docstring says how)
and say in the commit why the numbers moved.

Where the two libraries are compared:

- MIG: disentanglement_lib's ``_compute_mig`` with its histogram discretiser at 20 bins on all
  rows; groupsup's ``mig`` with its default 20 bins. Deterministic: agreement to 1e-9.
- SAP: ``_compute_sap`` (``LinearSVC(C=0.01, class_weight="balanced")`` per dimension on raw
  codes; with ``continuous_factors=True`` the squared correlation on the training rows) against
  ``sap(classifier="svm")`` and ``sap(continuous=True)`` on the same train/test rows: 1e-9.
  (groupsup's default ``classifier="logistic"`` is a documented variant and is not pinned here.)
- DCI: ``_compute_dci`` (``GradientBoostingClassifier`` importances, D and C from them,
  informativeness the mean held-out accuracy) against ``dci(importance="gbt")`` on the same rows.
  The trees break ties between equally good splits at random, so both sides fit with one random
  state (``seeded_trees``); then D and C agree to 1e-6 (disentanglement_lib adds 1e-11 to every
  importance before its entropies) and I exactly. With groupsup's own per-factor states the
  values move by up to about 0.005 (one held-out row in I), checked separately.
- FactorVAE: ``compute_factor_vae`` (its majority-vote classifier, batches of 64, 10,000
  training votes) on a ground-truth-data object whose observations are the case's rows, against
  ``factorvae`` on the rows. Every case is a full grid of factor values with the same number of
  rows per combination, so disentanglement_lib's batches (factors drawn uniformly, one fixed)
  and groupsup's (rows sharing the fixed factor's value) have the same distribution; the two
  cannot share the draws, so both use 50,000 evaluation votes (standard error about 0.002 each)
  and agree within 0.015, which also covers disentanglement_lib's global variances estimated
  from 100,000 samples rather than taken over all rows.

A constant factor cannot be scored by disentanglement_lib (MIG divides by its zero entropy, the
trees refuse one class); groupsup leaves such a factor out of every metric, so the case
``constant_factor`` must score what disentanglement_lib gives without that column, the same as
``rotated`` (before the fix of issue 33, DCI's D was 0.37 there).
"""

from pathlib import Path

import numpy as np
import pytest
from scripts import load_script

import groupsup.evaluate as ev

pytestmark = pytest.mark.usefixtures("one_thread")

REF = load_script(Path(__file__).parent / "data" / "metric_reference.py", "metric_reference")
CASES = REF.cases()
TRAIN, TEST = REF.split()

# Printed by `python tests/data/metric_reference.py` with disentanglement-lib 1.5 (from PyPI,
# gin-config 0.4.0, gin.tf pointed at gin), scikit-learn 1.9.1, scipy 1.17.1, numpy 2.4.6,
# Python 3.11.7.
REFERENCE = {
    "axis_aligned": {
        "mig": 0.9448782907010146,
        "sap_svm": 0.28,
        "sap_continuous": 0.9948327775703498,
        "dci_disentanglement": 0.999999999620152,
        "dci_completeness": 0.9999999995206894,
        "dci_informativeness": 1.0,
        "factorvae": 1.0,
    },
    "scaled": {
        "mig": 0.9448782907010146,
        "sap_svm": 0.20500000000000002,
        "sap_continuous": 0.9948327775703507,
        "dci_disentanglement": 0.999999999620152,
        "dci_completeness": 0.9999999995206894,
        "dci_informativeness": 1.0,
        "factorvae": 1.0,
    },
    "rotated": {
        "mig": 0.04010413601849158,
        "sap_svm": 0.01999999999999999,
        "sap_continuous": 0.02059927554516819,
        "dci_disentanglement": 0.002688269733279769,
        "dci_completeness": 0.3593773068922267,
        "dci_informativeness": 0.98,
        "factorvae": 0.5909,
    },
    "noisy": {
        "mig": 0.11630222774335326,
        "sap_svm": 0.15,
        "sap_continuous": 0.2658776281033305,
        "dci_disentanglement": 0.09474409159607072,
        "dci_completeness": 0.07308886475659948,
        "dci_informativeness": 0.375,
        "factorvae": 0.97432,
    },
}
# the script prints rotated's values again for constant_factor: disentanglement_lib cannot
# score a constant factor, and without that column the case is ``rotated``
REFERENCE["constant_factor"] = REFERENCE["rotated"]

# (sum of codes, sum of squared codes, sum of factors) of each case as the reference saw it
FINGERPRINTS = {
    "axis_aligned": (10.225682709000779, 1176.526026706231, 1400),
    "scaled": (1183.3189089578714, 51514.854720108466, 1400),
    "rotated": (-40.18903032043889, 1267.7366630035535, 1400),
    "noisy": (-23.853921434190056, 2635.598681795678, 1400),
    "constant_factor": (-40.18903032043889, 1267.7366630035535, 2600),
}


@pytest.fixture
def seeded_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every GradientBoostingClassifier fits with the random state the reference used."""
    ensemble = pytest.importorskip("sklearn.ensemble")
    monkeypatch.setattr(ensemble, "GradientBoostingClassifier",
                        REF.seeded_trees(ensemble.GradientBoostingClassifier))


def test_cases_are_the_codes_the_reference_scored():
    assert set(CASES) == set(REFERENCE) == set(FINGERPRINTS)
    for name, (codes, factors) in CASES.items():
        total, squares, labels = FINGERPRINTS[name]
        assert (codes.sum(), (codes**2).sum(), int(factors.sum())) == pytest.approx(
            (total, squares, labels), rel=1e-12), f"{name}: rerun tests/data/metric_reference.py"
    assert len(TRAIN) == 300 and len(TEST) == 100 and not set(TRAIN) & set(TEST)


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_mig_matches_disentanglement_lib(case):
    codes, factors = CASES[case]
    assert ev.mig(codes, factors).score == pytest.approx(REFERENCE[case]["mig"], abs=1e-9)


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_sap_matches_disentanglement_lib(case):
    pytest.importorskip("sklearn")
    codes, factors = CASES[case]
    svm = ev.sap(codes, factors, classifier="svm", train_index=TRAIN, test_index=TEST)
    continuous = ev.sap(codes, factors, continuous=True, train_index=TRAIN, test_index=TEST)
    assert svm.score == pytest.approx(REFERENCE[case]["sap_svm"], abs=1e-9)
    assert continuous.score == pytest.approx(REFERENCE[case]["sap_continuous"], abs=1e-9)


def _gbt_dci(case: str) -> tuple[float, float, float]:
    codes, factors = CASES[case]
    result = ev.dci(codes, factors, importance="gbt", train_index=TRAIN, test_index=TEST,
                    null_repeats=0)
    return result.disentanglement, result.completeness, result.informativeness


def _reference_dci(case: str) -> tuple[float, float, float]:
    row = REFERENCE[case]
    return row["dci_disentanglement"], row["dci_completeness"], row["dci_informativeness"]


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_dci_matches_disentanglement_lib(case, seeded_trees):
    d, c, i = _gbt_dci(case)
    reference_d, reference_c, reference_i = _reference_dci(case)
    assert d == pytest.approx(reference_d, abs=1e-6)
    assert c == pytest.approx(reference_c, abs=1e-6)
    assert i == pytest.approx(reference_i, abs=1e-12)


@pytest.mark.parametrize("case", ["rotated", "noisy", "constant_factor"])
def test_dci_with_its_own_tree_states_differs_only_by_tie_breaking(case):
    pytest.importorskip("sklearn")
    assert _gbt_dci(case) == pytest.approx(_reference_dci(case), abs=0.01)


@pytest.mark.parametrize("case", sorted(REFERENCE))
def test_factorvae_matches_disentanglement_lib(case):
    codes, factors = CASES[case]
    result = ev.factorvae(codes, factors, num_eval=REF.FACTORVAE_EVAL_VOTES, seed=0)
    assert result.score == pytest.approx(REFERENCE[case]["factorvae"], abs=0.015)


def test_constant_factor_changes_nothing():
    """The reference of ``constant_factor`` is that of ``rotated``: the factor is left out."""
    assert np.array_equal(CASES["constant_factor"][0], CASES["rotated"][0])


def test_a_constant_code_dimension_scores_as_if_absent():
    """Where groupsup departs from disentanglement_lib on purpose. A constant code dimension:
    disentanglement_lib's SAP scores it with an SVM that predicts one class anyway (0.15 and 0.22
    on ``axis_aligned``) and its FactorVAE lets it take every vote (its 0/0 variance ratio is
    NaN, which numpy's argmin returns first: about 0.5 instead of 1.0). Kumar et al. score such a
    dimension 0 and groupsup never lets it vote, so adding one leaves the scores
    disentanglement_lib gives without it; MIG (zero information either way) agrees as is."""
    pytest.importorskip("sklearn")
    codes, factors = CASES["axis_aligned"]
    dead = np.concatenate([np.full((len(codes), 1), 2.5), codes], axis=1)
    reference = REFERENCE["axis_aligned"]
    assert ev.mig(dead, factors).score == pytest.approx(reference["mig"], abs=1e-9)
    svm = ev.sap(dead, factors, classifier="svm", train_index=TRAIN, test_index=TEST)
    assert svm.score == pytest.approx(reference["sap_svm"], abs=1e-9)
    assert (svm.score_matrix[0] == 0).all()
    vae = ev.factorvae(dead, factors, num_train=2000, num_eval=2000, seed=0)
    assert vae.score == pytest.approx(reference["factorvae"], abs=1e-12)
