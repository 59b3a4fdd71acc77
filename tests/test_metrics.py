"""Image-quality, DCI and MIG metrics against hand-computed cases and constructed codes."""

import json
import math

import numpy as np
import pytest
import torch

import groupsup as gs
import groupsup.evaluate as ev
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.image_quality import gaussian_window
from groupsup.plugins import PluginHost

pytestmark = pytest.mark.usefixtures("one_thread")


# ---------------------------------------------------------------------------- image quality


def reference_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM of one (C, H, W) pair by explicit loops over channels and window positions."""
    g = gaussian_window(11, 1.5).numpy()
    w = np.outer(g, g)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    channels, h, wd = x.shape
    per_channel = []
    for c in range(channels):
        values = []
        for i in range(h - 10):
            for j in range(wd - 10):
                a, b = x[c, i:i + 11, j:j + 11], y[c, i:i + 11, j:j + 11]
                mu_a, mu_b = (w * a).sum(), (w * b).sum()
                var_a, var_b = (w * (a - mu_a) ** 2).sum(), (w * (b - mu_b) ** 2).sum()
                cov = (w * (a - mu_a) * (b - mu_b)).sum()
                values.append((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                              / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)))
        per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


def test_mse_and_psnr_of_a_known_error():
    truth = np.zeros((2, 3, 8, 8))
    pred = truth + np.array([0.1, 0.2])[:, None, None, None]
    assert ev.mse(pred, truth).per_image == pytest.approx([0.01, 0.04])
    scores = ev.psnr(pred, truth, data_range=2.0)
    assert scores.per_image == pytest.approx([10 * math.log10(4 / 0.01), 10 * math.log10(4 / 0.04)])
    assert scores.mean == pytest.approx(np.mean(scores.per_image))
    assert ev.psnr(pred / 2, truth, data_range=1.0).per_image == pytest.approx(
        scores.per_image)  # the same images rescaled from [-1, 1] to [0, 1]


def test_psnr_of_identical_images_is_infinite_and_json_null():
    x = torch.rand(1, 1, 4, 4)
    scores = ev.psnr(x, x, data_range=1.0)
    assert scores.per_image[0] == math.inf
    assert json.loads(json.dumps(scores.to_dict()))["mean"] is None


def test_ssim_matches_a_reference_loop():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2, 2, 14, 17))
    y = np.clip(x + 0.3 * rng.normal(size=x.shape), -1, 1)
    got = ev.ssim(x, y, data_range=2.0, chunk=1).per_image
    assert got == pytest.approx([reference_ssim(x[i], y[i], 2.0) for i in range(2)], abs=1e-12)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b, c1 = 0.2, 0.6, 0.01**2
    x, y = np.full((1, 1, 12, 12), a), np.full((1, 1, 12, 12), b)
    expected = (2 * a * b + c1) / (a**2 + b**2 + c1)
    assert ev.ssim(x, y, data_range=1.0).per_image[0] == pytest.approx(expected)


def test_ssim_is_one_on_identical_images_and_drops_with_noise():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=gen) * 2 - 1
    assert ev.ssim(x, x, data_range=2.0).per_image == pytest.approx([1.0] * 3)
    scores = [ev.ssim(x, x + s * torch.randn(x.shape, generator=gen), data_range=2.0).mean
              for s in (0.05, 0.2, 0.5)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_image_metrics_name_the_argument_at_fault():
    x = np.zeros((2, 3, 16, 16))
    with pytest.raises(DataError, match=r"pred and truth must have one shape.*\(2, 3, 16, 8\)"):
        ev.mse(x, x[..., :8])
    with pytest.raises(DataError, match=r"pred must have shape \(N, C, H, W\), got \(3, 16, 16\)"):
        ev.mse(x[0], x[0])
    with pytest.raises(DataError, match="at least 11x11"):
        ev.ssim(x[..., :8, :8], x[..., :8, :8], data_range=2.0)
    with pytest.raises(ConfigError, match="data_range"):
        ev.psnr(x, x, data_range=0)


def test_synthesis_quality_aggregates_per_combination():
    truth = np.zeros((4, 1, 12, 12))
    pred = truth + np.array([0.1, 0.3, 0.2, 0.2])[:, None, None, None]
    combos = np.array([[1, 0], [1, 0], [0, 2], [0, 2]])
    result = ev.synthesis_quality(pred, truth, combos, data_range=2.0,
                                  attributes=["letter", "size"])
    assert result.combinations.tolist() == [[0, 2], [1, 0]]
    assert result.counts.tolist() == [2, 2]
    assert result.per_combination["mse"] == pytest.approx([0.04, (0.01 + 0.09) / 2])
    assert result.overall["mse"] == pytest.approx(np.mean([0.01, 0.09, 0.04, 0.04]))
    out = json.loads(json.dumps(result.to_dict()))
    assert out["per_combination"][1]["combination"] == {"letter": 1, "size": 0}
    assert out["per_combination"][0]["psnr"] == pytest.approx(10 * math.log10(4 / 0.04))
    assert ev.synthesis_quality(pred, truth, data_range=2.0).to_dict()["per_combination"] == []


# ---------------------------------------------------------------------------- DCI and MIG

N = 2000
CARDS = (3, 6, 10, 5)


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([rng.integers(0, k, N) for k in CARDS], axis=1)


@pytest.fixture(scope="module")
def representations(factors):
    """Constructed codes whose scores are known: perfect, permuted, rotated (by a random
    rotation, and by a Hadamard rotation that gives every dimension an equal share of every
    factor) and random."""
    rng = np.random.default_rng(2)
    perfect = factors.astype(np.float64)
    standard = (perfect - perfect.mean(0)) / perfect.std(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2
    return {"perfect": perfect, "permuted": perfect[:, [2, 0, 3, 1]],
            "rotated": standard @ rotation, "mixed": standard @ hadamard,
            "random": rng.normal(size=(N, 4))}


@pytest.fixture(scope="module")
def dci_scores(factors, representations):
    return {name: ev.dci(codes, factors, seed=0) for name, codes in representations.items()}


def test_dci_of_a_perfect_representation_is_near_one(dci_scores):
    perfect = dci_scores["perfect"]
    assert perfect.disentanglement > 0.99 and perfect.completeness > 0.99
    assert perfect.informativeness == pytest.approx(1.0)
    assert np.argmax(perfect.importance, axis=0).tolist() == [0, 1, 2, 3]


def test_dci_does_not_depend_on_the_order_of_dimensions(dci_scores):
    perfect, permuted = dci_scores["perfect"], dci_scores["permuted"]
    assert permuted.disentanglement == pytest.approx(perfect.disentanglement, abs=0.01)
    assert permuted.completeness == pytest.approx(perfect.completeness, abs=0.01)
    assert permuted.informativeness == pytest.approx(perfect.informativeness, abs=0.01)


def test_dci_drops_when_factors_are_mixed_and_vanishes_for_noise(dci_scores):
    rotated, mixed, random = dci_scores["rotated"], dci_scores["mixed"], dci_scores["random"]
    assert rotated.disentanglement < 0.6 and rotated.completeness < 0.6
    assert mixed.disentanglement < 0.05 and mixed.completeness < 0.05
    assert rotated.informativeness > 0.9 and mixed.informativeness > 0.9  # nothing is lost
    assert random.disentanglement < 0.2 and random.completeness < 0.2
    assert random.informativeness_per_factor == pytest.approx(random.chance, abs=0.06)


def test_dci_of_a_blockwise_code_is_disentangled_but_not_complete(factors):
    rng = np.random.default_rng(3)
    blocks = np.concatenate([rng.normal(size=(k, 5))[factors[:, j]] + 0.5 * rng.normal(size=(N, 5))
                             for j, k in enumerate(CARDS)], axis=1)  # factor j in dims 5j..5j+4
    scores = ev.dci(blocks, factors, seed=0)
    assert scores.disentanglement > 0.8 and scores.completeness < 0.6
    by_block = scores.importance.reshape(4, 5, 4).sum(axis=1)  # (block, factor)
    assert np.argmax(by_block, axis=0).tolist() == [0, 1, 2, 3]


def test_dci_is_deterministic_and_json_ready(factors, representations, dci_scores):
    again = ev.dci(representations["rotated"], factors, seed=0)
    assert np.array_equal(again.importance, dci_scores["rotated"].importance)
    out = json.loads(json.dumps(again.to_dict()))
    assert out["metric"] == "dci" and len(out["importance"]) == 4
    assert out["importance"][0] == pytest.approx(again.importance[0].tolist())


def test_mig_hand_computed():
    factor = np.repeat(np.arange(4), 25)
    codes = np.stack([factor // 2, np.zeros(100)], axis=1)  # dim 0 carries one of two bits
    result = ev.mig(codes, factor[:, None], bins=4)
    assert result.mutual_information[:, 0] == pytest.approx([math.log(2), 0.0])
    assert result.entropy == pytest.approx([math.log(4)])
    assert result.score == pytest.approx(0.5)


def test_mig_on_constructed_representations(factors, representations):
    scores = {name: ev.mig(codes, factors) for name, codes in representations.items()}
    assert scores["perfect"].score > 0.95
    assert scores["permuted"].score == scores["perfect"].score
    assert scores["rotated"].score < 0.6 * scores["perfect"].score
    assert scores["mixed"].score < 0.05
    assert scores["random"].score < 0.05


def test_mig_constant_factor_is_left_out():
    rng = np.random.default_rng(0)
    factor = rng.integers(0, 3, 300)
    codes = np.stack([factor, rng.normal(size=300)], axis=1).astype(float)
    result = ev.mig(codes, np.stack([factor, np.zeros(300, int)], axis=1))
    assert math.isnan(result.gap[1]) and result.score == pytest.approx(result.gap[0])
    assert json.loads(json.dumps(result.to_dict()))["gap"][1] is None


def test_disentanglement_metrics_name_the_argument_at_fault(factors, representations):
    with pytest.raises(DataError, match=rf"factors must have {N} rows"):
        ev.mig(representations["perfect"], factors[:10])
    with pytest.raises(DataError, match="at least 2 dimensions"):
        ev.mig(representations["perfect"][:, :1], factors)
    with pytest.raises(ConfigError, match="bins"):
        ev.mig(representations["perfect"], factors, bins=1)
    with pytest.raises(DataError, match="factors must hold integer codes"):
        ev.dci(representations["perfect"], factors + 0.5)
    with pytest.raises(ConfigError, match="factor_names must name 4 columns"):
        ev.dci(representations["perfect"], factors, factor_names=["a"])


# ---------------------------------------------------------------------------- registration


def test_builtin_metrics_are_registered_through_the_hook():
    from groupsup.evaluate.latent import CODE_METRICS

    host = PluginHost(entry_points=False, local="")
    assert set(CODE_METRICS) <= set(host.evaluations.names())
    for name in ("dci", "mig", "block_mig", "factorvae", "sap"):
        entry = host.evaluations.entry(name)
        assert isinstance(entry.obj, gs.CodeMetric) and entry.obj.metric is CODE_METRICS[name][0]
        assert entry.plugin == "groupsup.runs.builtin" and entry.distribution == "groupsup"


CODE_METRIC_PLUGIN = """
import numpy as np
import groupsup as gs


class Spread:
    def __init__(self, value):
        self.value = value

    def to_dict(self):
        return {"metric": "spread", "spread": self.value}


@gs.hookimpl
def register_evaluations(register):
    register("spread", gs.CodeMetric(lambda codes, labels, *, partition, factor_names, seed:
                                     Spread(float(np.std(codes)))))
"""


def test_a_plugin_code_metric_is_run_by_name(tmp_path):
    from groupsup.evaluate.latent import disentanglement_metrics, summary_line
    from groupsup.runs.step import code_metrics

    path = tmp_path / "spread_metric.py"
    path.write_text(CODE_METRIC_PLUGIN)
    host = PluginHost(entry_points=False, local=str(path))
    rng = np.random.default_rng(0)
    codes, labels = rng.normal(size=(64, 4)), rng.integers(0, 2, size=(64, 2))
    partition = gs.LatentPartition({"a": 2, "b": 2})
    results = disentanglement_metrics(codes, labels, partition, ["a", "b"],
                                      metrics=code_metrics(("mig", "spread"), host.evaluations))
    assert list(results) == ["mig", "spread"]
    assert results["spread"]["spread"] == pytest.approx(float(np.std(codes)))
    assert summary_line(results).endswith(f"spread {np.std(codes):.3f}")
    with pytest.raises(gs.RegistryError,
                       match=r"no evaluation named 'sprad'.*did you mean 'spread'"):
        code_metrics(("sprad",), host.evaluations)
    with pytest.raises(gs.ConfigError, match="'leakage', an evaluation step and no code metric"):
        code_metrics(("leakage",), host.evaluations)
    with pytest.raises(gs.ConfigError, match="no built-in code metric named 'sprad'"):
        disentanglement_metrics(codes, labels, partition, ["a", "b"], metrics=("sprad",))
    one_block = disentanglement_metrics(codes, labels, gs.LatentPartition({"a": 4}), ["a", "b"],
                                        metrics=("block_mig",))
    assert one_block == {}  # block-MIG needs two blocks: skipped, not an error
