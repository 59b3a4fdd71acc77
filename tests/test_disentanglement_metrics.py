"""MIG in float64, block-level MIG, DCI's null floor and tree importances, FactorVAE and SAP,
against hand-computed cases and constructed codes with known answers."""

import json
import math

import numpy as np
import pytest

import groupsup as gs
import groupsup.evaluate as ev
from groupsup.errors import ConfigError, DataError

pytestmark = pytest.mark.usefixtures("one_thread")

N = 2000
CARDS = (3, 6, 10, 5)
WIDTH = 5  # dimensions per block of the block codes


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([rng.integers(0, k, N) for k in CARDS], axis=1)


def block_code(factors: np.ndarray, noise: float, seed: int = 3) -> np.ndarray:
    """``(N, 4 * WIDTH)``: block j a noisy random embedding of factor j in WIDTH dimensions."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(k, WIDTH))[factors[:, j]]
                           + noise * rng.normal(size=(len(factors), WIDTH))
                           for j, k in enumerate(CARDS)], axis=1)


# ---------------------------------------------------------------------------- MIG in float64


def test_mig_does_not_change_when_a_dimension_is_shifted_or_scaled(factors):
    rng = np.random.default_rng(0)
    codes = 0.005 * (factors + 0.3 * rng.normal(size=factors.shape))  # small variations
    moved = codes * np.array([1.0, 7.0, 1e-3, 1.0]) + np.array([1e4, -3.0, 0.0, 1e4])
    assert ev.mig(moved, factors).score == pytest.approx(ev.mig(codes, factors).score, abs=1e-9)
    assert ev.mig(moved, factors).mutual_information == pytest.approx(
        ev.mig(codes, factors).mutual_information, abs=1e-9)


# ---------------------------------------------------------------------------- block-level MIG


def test_block_mig_hand_computed():
    """Block 0 holds both bits of a 4-valued factor in two binary dimensions; block 1 one bit
    of it. I(block0; v) = log 4, I(block1; v) = log 2, so the gap is (log 4 - log 2) / log 4."""
    v = np.repeat(np.arange(4), 25)
    codes = np.stack([v // 2, v % 2, v % 2], axis=1).astype(float)
    result = ev.block_mig(codes, v, [2, 1], clusters=4, seed=0)
    assert result.mutual_information[:, 0] == pytest.approx([math.log(4), math.log(2)])
    assert result.score == pytest.approx(0.5)
    assert result.best_block == ("block0",)


def test_block_mig_of_a_perfect_block_code_is_near_one_where_per_dimension_mig_is_near_zero(
        factors):
    codes = block_code(factors, noise=0.2)
    partition = gs.LatentPartition([(f"b{j}", WIDTH) for j in range(4)])
    result = ev.block_mig(codes, factors, partition, seed=0)
    assert result.score > 0.95 and result.best_block == ("b0", "b1", "b2", "b3")
    assert ev.mig(codes, factors).score < 0.15  # the gap between two dimensions of one block


def test_block_mig_of_random_and_rotated_codes_is_near_zero(factors):
    rng = np.random.default_rng(4)
    assert ev.block_mig(rng.normal(size=(N, 4 * WIDTH)), factors, [WIDTH] * 4).score < 0.02
    rotation, _ = np.linalg.qr(rng.normal(size=(4 * WIDTH, 4 * WIDTH)))
    rotated = ev.block_mig(block_code(factors, 0.2) @ rotation, factors, [WIDTH] * 4)
    assert rotated.score < 0.2


def test_block_mig_is_seeded_invariant_to_units_and_json_ready(factors):
    codes = block_code(factors, noise=0.5)
    first = ev.block_mig(codes, factors, [WIDTH] * 4, seed=7)
    again = ev.block_mig(codes * 3.0 + 1e4, factors, [WIDTH] * 4, seed=7)
    assert np.array_equal(first.mutual_information, again.mutual_information)
    out = json.loads(json.dumps(first.to_dict()))
    assert out["metric"] == "block_mig" and out["config"]["seed"] == 7
    assert out["block_mig"] == pytest.approx(first.score)


def test_block_mig_names_the_argument_at_fault(factors):
    codes = block_code(factors, noise=0.5)
    with pytest.raises(DataError, match=r"at least 2 blocks .* 20 code dimensions, got widths"):
        ev.block_mig(codes, factors, [WIDTH] * 3)
    with pytest.raises(DataError, match="at least 2 blocks"):
        ev.block_mig(codes, factors, [4 * WIDTH])
    with pytest.raises(ConfigError, match="clusters"):
        ev.block_mig(codes, factors, [WIDTH] * 4, clusters=1)


# ---------------------------------------------------------------------- DCI: null floor, trees


def test_dci_reports_the_floor_of_permuted_codes(factors):
    """Random codes score D, C of about 0.1 with logistic importances; the permuted-code floor
    is reported beside them, so the chance-adjusted scores are about 0."""
    rng = np.random.default_rng(5)
    random = ev.dci(rng.normal(size=(N, 10)), factors, seed=0)
    assert 0.03 < random.disentanglement < 0.3 and 0.03 < random.null_disentanglement < 0.3
    assert abs(random.disentanglement_above_null) < 0.1
    assert abs(random.completeness_above_null) < 0.1
    perfect = ev.dci(factors.astype(float), factors, seed=0)
    assert perfect.disentanglement_above_null > 0.98 and perfect.completeness_above_null > 0.98
    out = json.loads(json.dumps(perfect.to_dict()))
    assert out["null_disentanglement"] == pytest.approx(perfect.null_disentanglement)
    assert out["config"]["null_repeats"] == 1
    unchecked = ev.dci(factors.astype(float), factors, seed=0, null_repeats=0)
    assert math.isnan(unchecked.null_disentanglement)
    assert unchecked.disentanglement == perfect.disentanglement  # the floor draws after the fit


@pytest.mark.parametrize("importance", ["logistic", "gbt"])
def test_dci_leaves_constant_factors_out(importance):
    """Two factors entangled by a 45-degree rotation score D = 0 whatever constant factors sit
    beside them (disentanglement_lib's D rises to 0.37 with one and 0.57 with three), and I
    averages only the factors that vary."""
    rng = np.random.default_rng(4)
    two = rng.integers(0, 4, size=(1200, 2))
    codes = (two + 0.05 * rng.normal(size=two.shape)) @ np.array([[1, 1], [1, -1]]) / 2**0.5
    options = {"gbt_options": {"n_estimators": 20}} if importance == "gbt" else {}
    base = ev.dci(codes, two, seed=0, importance=importance, null_repeats=0, **options)
    assert base.disentanglement < 0.1
    for constants in (1, 3):
        factors = np.concatenate([two, np.zeros((len(two), constants), np.int64)], axis=1)
        with_constant = ev.dci(codes, factors, seed=0, importance=importance, null_repeats=0,
                               **options)
        # (the logistic probes are fit jointly, so a constant factor moves them by ~1e-5)
        assert with_constant.disentanglement == pytest.approx(base.disentanglement, abs=1e-3)
        assert with_constant.completeness == pytest.approx(base.completeness, abs=1e-3)
        assert with_constant.informativeness == pytest.approx(base.informativeness, abs=1e-3)
        assert np.isnan(with_constant.informativeness_per_factor[2:]).all()
        assert json.loads(json.dumps(with_constant.to_dict()))["completeness_per_factor"][2] \
            is None


def test_dci_does_not_change_when_a_dimension_is_shifted(factors):
    rng = np.random.default_rng(6)
    codes = 0.001 * (factors + 0.5 * rng.normal(size=factors.shape))
    near, far = ev.dci(codes, factors, seed=0), ev.dci(codes + 1e4, factors, seed=0)
    assert far.importance == pytest.approx(near.importance, abs=1e-4)
    assert far.informativeness == pytest.approx(near.informativeness, abs=1e-3)


def test_dci_with_gradient_boosted_tree_importances_matches_scikit_learn():
    ensemble = pytest.importorskip(
        "sklearn.ensemble", reason="importance='gbt' needs scikit-learn (groupsup[metrics])")
    rng = np.random.default_rng(7)
    labels = np.stack([rng.integers(0, 3, 400), rng.integers(0, 4, 400)], axis=1)
    codes = np.concatenate([labels + 0.1 * rng.normal(size=labels.shape),
                            rng.normal(size=(400, 2))], axis=1)
    train = np.arange(300)
    scores = ev.dci(codes, labels, importance="gbt", gbt_options={"n_estimators": 20},
                    train_index=train, seed=0, null_repeats=1)
    assert scores.disentanglement > 0.9 and scores.completeness > 0.9
    assert scores.informativeness == pytest.approx(1.0)
    assert scores.null_disentanglement < 0.5
    # the importances are those of the classifier alone, each column normalised
    state = int(np.random.default_rng(0).integers(2**31))
    standard = (codes - codes.mean(0)) / codes.std(0)
    model = ensemble.GradientBoostingClassifier(n_estimators=20, random_state=state)
    model.fit(standard[train], labels[train, 0])
    expected = model.feature_importances_ / model.feature_importances_.sum()
    assert scores.importance[:, 0] == pytest.approx(expected, abs=1e-12)
    assert scores.config["importance"] == "gbt"


def test_dci_options_are_checked(factors):
    with pytest.raises(ConfigError, match=r"importance must be one of .*'gtb'.*did you mean"):
        ev.dci(factors.astype(float), factors, importance="gtb")
    with pytest.raises(ConfigError, match="null_repeats"):
        ev.dci(factors.astype(float), factors, null_repeats=-1)


# ---------------------------------------------------------------------------- FactorVAE


@pytest.fixture(scope="module")
def hadamard_code(factors) -> np.ndarray:
    """Every dimension an equal mix of the four standardised factors."""
    standard = (factors - factors.mean(0)) / factors.std(0)
    return standard @ (np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
                       / 2)


def test_factorvae_of_a_perfect_code_is_one(factors):
    result = ev.factorvae(factors.astype(float), factors, seed=0, num_train=2000, num_eval=1000)
    assert result.score == 1.0 and result.train_accuracy == 1.0
    assert result.classifier.tolist() == [0, 1, 2, 3]
    assert result.eval_votes.sum() == 1000
    blocks = ev.factorvae(block_code(factors, 0.5), factors, num_train=2000, num_eval=1000)
    assert blocks.score > 0.99  # every dimension of a block votes for the block's factor


def test_factorvae_known_answers_of_entangled_codes(factors, hadamard_code):
    """Dimension 0 holds factor 0, dimension 1 noise: fixing factor 0 always picks dimension 0,
    fixing factor 1 picks either at random, so the majority vote is right 1/2 + 1/4 = 3/4 of
    the time. Equal mixes leave the votes random: about 1/A."""
    rng = np.random.default_rng(8)
    two = factors[:, :2]
    half = np.stack([two[:, 0], rng.normal(size=N)], axis=1)
    assert ev.factorvae(half, two, seed=0).score == pytest.approx(0.75, abs=0.03)
    mixed = ev.factorvae(hadamard_code, factors, seed=0, num_train=2000, num_eval=1000)
    assert mixed.score == pytest.approx(0.25, abs=0.08)
    rotated = (two - two.mean(0)) / two.std(0) @ (np.array([[1, 1], [1, -1]]) / math.sqrt(2))
    assert ev.factorvae(rotated, two, seed=0).score == pytest.approx(0.5, abs=0.05)


def test_factorvae_prunes_constant_dimensions_and_is_seeded(factors):
    codes = np.concatenate([factors.astype(float), np.zeros((N, 1))], axis=1)
    result = ev.factorvae(codes, factors, seed=3, num_train=500, num_eval=500)
    assert result.active.tolist() == [True] * 4 + [False] and result.score == 1.0
    again = ev.factorvae(codes, factors, seed=3, num_train=500, num_eval=500)
    assert np.array_equal(result.train_votes, again.train_votes)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["factorvae"] == 1.0 and out["active_dimensions"] == 4
    pruned = ev.factorvae(codes, factors, prune_threshold=1e9, num_train=10, num_eval=10)
    assert pruned.score == 0.0  # nothing left to vote, as in disentanglement_lib
    with pytest.raises(ConfigError, match="batch_size must be at least 2"):
        ev.factorvae(codes, factors, batch_size=1)
    with pytest.raises(DataError, match="at least two values"):
        ev.factorvae(codes, np.zeros((N, 2), dtype=int))


# ---------------------------------------------------------------------------- SAP


def test_sap_hand_computed_r2():
    """v = 0..3; dimension 0 is v, dimension 1 is v mod 2: R^2 = 1 and 0.2, so SAP is 0.8."""
    v = np.arange(4)
    codes = np.stack([v, v % 2], axis=1).astype(float)
    result = ev.sap(codes, v, continuous=True, train_index=np.arange(4), test_index=[0])
    assert result.score_matrix[:, 0] == pytest.approx([1.0, 0.2])
    assert result.score == pytest.approx(0.8)


def test_sap_is_high_for_axis_aligned_and_near_zero_for_entangled_codes(factors, hadamard_code):
    perfect = factors.astype(float)
    assert ev.sap(perfect, factors, continuous=True).score > 0.99
    discrete = ev.sap(perfect, factors, seed=0)
    chance = np.array([np.bincount(c).max() / N for c in factors.T])
    assert discrete.gap == pytest.approx(1 - chance, abs=0.06)  # the best possible gap
    for continuous in (True, False):
        assert ev.sap(hadamard_code, factors, continuous=continuous).score < 0.05
    rng = np.random.default_rng(9)
    assert ev.sap(rng.normal(size=(N, 8)), factors).score < 0.03


def test_sap_with_linear_svms_as_in_disentanglement_lib(factors):
    pytest.importorskip("sklearn", reason="classifier='svm' needs scikit-learn (groupsup[metrics])")
    codes = factors[:, :2].astype(float)
    result = ev.sap(codes, factors[:, :2], classifier="svm", seed=0)
    assert result.gap[0] == pytest.approx(1 - np.bincount(factors[:, 0]).max() / N, abs=0.06)
    assert result.config["classifier"] == "svm"


def test_svm_sap_fits_the_raw_codes_as_published_and_inactive_dimensions_score_zero(factors):
    """The SVM's penalty depends on the codes' scale, so the published computation (raw codes)
    and one on standardised codes differ; an independent fit of LinearSVC on the raw codes,
    as disentanglement_lib does it, gives the same score matrix."""
    sklearn_svm = pytest.importorskip("sklearn.svm")
    rng = np.random.default_rng(8)
    codes = np.stack([0.05 * factors[:, 0] + 0.01 * rng.normal(size=N),
                      rng.normal(size=N), np.full(N, 3.0)], axis=1)
    y = factors[:, :1]
    result = ev.sap(codes, y, classifier="svm", seed=0)
    from groupsup.evaluate.seeding import make_rng, split_indices

    train, test = split_indices(N, make_rng(0), 0.25, None, None)  # sap's split for seed 0
    expected = []
    for i in range(2):
        model = sklearn_svm.LinearSVC(C=0.01, class_weight="balanced")
        model.fit(codes[train, i:i + 1], y[train, 0])
        expected.append(model.score(codes[test, i:i + 1], y[test, 0]))
    assert result.score_matrix[:2, 0] == pytest.approx(expected, abs=0.02)
    assert result.score_matrix[2, 0] == 0.0  # the constant dimension: inactive
    assert result.config["variant"].startswith("published")
    scaled = ev.sap(codes * np.array([100.0, 1.0, 1.0]), y, classifier="svm", seed=0)
    assert abs(scaled.score_matrix[0, 0] - result.score_matrix[0, 0]) > 0.05  # scale matters
    logistic = ev.sap(codes, y, seed=0)
    assert logistic.score_matrix[2, 0] == 0.0 and "not the published" in \
        logistic.config["variant"]


def test_sap_options_and_json(factors):
    result = ev.sap(factors.astype(float), factors, continuous=[True, False, False, True])
    assert result.continuous == (True, False, False, True)
    assert json.loads(json.dumps(result.to_dict()))["sap"] == pytest.approx(result.score)
    with pytest.raises(ConfigError, match="one flag or one per factor"):
        ev.sap(factors.astype(float), factors, continuous=[True])
    with pytest.raises(ConfigError, match="classifier must be one of"):
        ev.sap(factors.astype(float), factors, classifier="svc")
    with pytest.raises(DataError, match="at least 2 dimensions"):
        ev.sap(factors[:, :1].astype(float), factors)


# ---------------------------------------------------------------------------- in `evaluate`


def test_disentanglement_metrics_of_a_block_code(factors):
    from groupsup.evaluate.latent import disentanglement_metrics, summary_line

    partition = gs.LatentPartition([(n, WIDTH) for n in ("a", "b", "c", "d")])
    results = disentanglement_metrics(block_code(factors[:600], 0.2), factors[:600], partition,
                                      ["a", "b", "c", "d"], seed=0)
    assert set(results) == {"mig", "block_mig", "dci", "factorvae", "sap"}
    assert results["block_mig"]["block_mig"] > 0.9 and results["mig"]["mig"] < 0.2
    assert results["block_mig"]["best_block"] == ["a", "b", "c", "d"]
    assert results["factorvae"]["factorvae"] > 0.95
    json.dumps(results)
    line = summary_line(results)
    assert line.startswith("MIG ") and "block-MIG 0.9" in line and "(floor 0." in line


def test_evaluate_run_reports_the_disentanglement_metrics(tmp_path, toy_dataset):
    from groupsup.runs.evaluate import EvalOptions, evaluate_run
    from groupsup.train import Trainer, load_config

    store = toy_dataset.write_store(tmp_path / "store")
    config = load_config({
        "name": "gsl", "seed": 3,
        "dataset": {"name": "store", "options": {"path": str(store)},
                    "split": "random-combinations", "split_options": {"fraction": 0.25}},
        "model": {"backbone": "conv-small", "options": {"width": 8, "max_width": 16}},
        "strategy": {"name": "centre-cover"}, "loss": {"recipe": "gsl"},
        "train": {"steps": 2, "groups_per_step": 2, "log_every": 1, "checkpoint_every": 100,
                  "progress": False, "threads": 1, "out": str(tmp_path / "run")}})
    run_dir = Trainer(config).fit().run_dir
    metrics = evaluate_run(run_dir, options=EvalOptions(max_examples=8, classifier_steps=2),
                           progress=False, report=False)
    latent = json.loads((run_dir / "eval" / "001" / "metrics.json").read_text())["disentanglement"]
    assert latent == json.loads(json.dumps(metrics["disentanglement"]))
    assert latent["block_mig"]["blocks"] == ["shape", "color", "position"]
    for name in ("mig", "block_mig", "dci", "factorvae", "sap"):
        assert latent[name]["metric"] == name


def test_code_metrics_are_undefined_below_five_rows_per_value():
    """8 rows once gave MIG 0.08, DCI D 1.0 and FactorVAE 1.0: numbers of the sample, not of
    the code. Below 5 rows for a value of an attribute that varies, evaluate reports every code
    metric as undefined, with the reason, instead."""
    from groupsup.evaluate.latent import disentanglement_metrics, summary_line, too_few_rows

    rng = np.random.default_rng(2)
    labels = np.stack([np.arange(8) % 4, np.arange(8) % 2], axis=1)
    codes = rng.normal(size=(8, 4))
    partition = gs.LatentPartition([("a", 2), ("b", 2)])
    out = disentanglement_metrics(codes, labels, partition, ["a", "b"])
    assert set(out) == {"mig", "block_mig", "dci", "factorvae", "sap"}
    reason = "attribute 'a': value code 0 has 2 row(s) of 8; the code metrics need at least 5"
    assert all(r["undefined"].startswith(reason) for r in out.values())
    assert summary_line(out).startswith("code metrics undefined (attribute 'a'")
    enough = np.concatenate([labels] * 3)
    assert too_few_rows(enough, ["a", "b"]) is None  # 6 rows per value
    constant = np.zeros((3, 1), np.int64)  # a factor that does not vary is not counted
    assert too_few_rows(constant, ["c"]) is None
    unknown = np.array([[0], [0], [0], [0], [0], [1], [1], [1], [1], [1], [-1]])
    assert too_few_rows(unknown, ["u"]) is None  # unknown labels are not a value
