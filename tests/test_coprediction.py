"""The co-prediction matrix and the batched probes behind it."""

import json

import numpy as np
import pytest
import torch

import groupsup.evaluate as ev
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.probes import fit_probes, stack_blocks
from groupsup.partition import LatentPartition

pytestmark = pytest.mark.usefixtures("one_thread")


PARTITION = LatentPartition([("shape", 3), ("color", 2), ("size", 4)])
CARDS = (4, 3, 5)


def disentangled_codes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Block j embeds attribute j (a random code per value, plus noise); nothing else."""
    rng = np.random.default_rng(seed)
    labels = np.stack([rng.integers(0, k, n) for k in CARDS], axis=1)
    blocks = [rng.normal(size=(k, w))[labels[:, j]] + 0.2 * rng.normal(size=(n, w))
              for j, (k, w) in enumerate(zip(CARDS, PARTITION.sizes))]
    return np.concatenate(blocks, axis=1), labels


@pytest.fixture(scope="module")
def data():
    return disentangled_codes(1500, seed=0)


@pytest.fixture(scope="module")
def logistic(data):
    return ev.coprediction(*data, PARTITION, seed=0)


def test_disentangled_codes_give_a_strong_diagonal_and_chance_elsewhere(logistic):
    assert logistic.blocks == logistic.attributes == ("shape", "color", "size")
    assert np.diag(logistic.matrix).min() > 0.95
    off = logistic.matrix[~np.eye(3, dtype=bool)]
    chance = np.broadcast_to(logistic.chance, (3, 3))[~np.eye(3, dtype=bool)]
    assert np.abs(off - chance).max() < 0.08
    assert logistic.diagonal_mean == pytest.approx(np.diag(logistic.matrix).mean())
    assert logistic.normalized_diagonal_mean > 0.93
    assert abs(logistic.normalized_off_diagonal_mean) < 0.06


def test_chance_is_the_test_majority_frequency():
    labels = np.array([[0, 1], [0, 0], [1, 0], [0, 0]])
    assert ev.chance_level(labels) == pytest.approx([0.75, 0.75])
    result = ev.CoPrediction(("a", "b"), ("a", "b"), np.array([[0.9, 0.75], [0.75, 1.0]]),
                             np.ones((2, 2)), np.array([0.5, 0.75]))
    assert result.normalized == pytest.approx(np.array([[0.8, 0.0], [0.5, 1.0]]))
    assert result.normalized_off_diagonal_mean == pytest.approx(0.25)
    # off-diagonal entries: a->b 0.75 (chance of b 0.75), b->a 0.75 (chance of a 0.5)
    assert result.off_diagonal_chance == pytest.approx(0.625)
    assert result.off_diagonal_excess_max == pytest.approx(0.25)
    assert result.excess == pytest.approx(np.array([[0.4, 0.0], [0.25, 0.25]]))
    record = result.to_dict()
    assert record["off_diagonal_chance"] == pytest.approx(0.625)
    assert record["off_diagonal_excess_max"] == pytest.approx(0.25)


def test_mlp_probe_reads_a_nonlinear_code_the_linear_probe_cannot():
    rng = np.random.default_rng(3)
    n = 1200
    labels = rng.integers(0, 2, (n, 2))
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(labels[:, 0] == 1, 2.0, 1.0) + 0.1 * rng.normal(size=n)  # two rings
    codes = np.stack([radius * np.cos(angle), radius * np.sin(angle),
                      labels[:, 1] + 0.1 * rng.normal(size=n)], axis=1)
    partition = LatentPartition([("ring", 2), ("flag", 1)])
    linear = ev.coprediction(codes, labels, partition, seed=0)
    mlp = ev.coprediction(codes, labels, partition, probe="mlp", hidden=16, seed=0)
    assert linear.matrix[0, 0] < 0.7 < 0.95 < mlp.matrix[0, 0]
    assert mlp.matrix[1, 1] > 0.95 and abs(mlp.normalized[0, 1]) < 0.1
    again = ev.coprediction(codes, labels, partition, probe="mlp", hidden=16, seed=0)
    assert np.array_equal(again.matrix, mlp.matrix)
    assert mlp.config["probe"] == "mlp" and mlp.config["hidden"] == 16


def test_batched_probes_equal_probes_fit_one_at_a_time(data):
    codes, labels = data
    x = stack_blocks(torch.tensor(codes[:600], dtype=torch.float32), PARTITION.sizes)
    y = torch.from_numpy(labels[:600])
    gen = torch.Generator()
    together = fit_probes("logistic", x, y, CARDS, l2=1e-2, iterations=500, generator=gen)
    for b, width in enumerate(PARTITION.sizes):
        for a, k in enumerate(CARDS):
            alone = fit_probes("logistic", x[b:b + 1, :, :width], y[:, a:a + 1], (k,), l2=1e-2,
                               iterations=500, generator=gen)
            assert together.weight[a][b, :, :width] == pytest.approx(
                alone.weight[0][0], abs=0.02)  # one optimum, reached to the stopping tolerance
            assert (together.weight[a][b, :, width:] == 0).all()  # the padding stays unused


def test_stack_blocks_pads_each_block_with_zeros():
    codes = torch.arange(12.0).view(2, 6)
    blocks = stack_blocks(codes, (1, 3, 2))
    assert blocks.shape == (3, 2, 3)
    assert blocks[1, 0].tolist() == [1.0, 2.0, 3.0]
    assert blocks[0, 1].tolist() == [6.0, 0.0, 0.0]
    assert blocks[2, 1].tolist() == [10.0, 11.0, 0.0]


def test_explicit_split_and_seed(data):
    codes, labels = data
    train = np.arange(1000)
    a = ev.coprediction(codes, labels, PARTITION, train_index=train)
    b = ev.coprediction(codes, labels, PARTITION, train_index=train, seed=123)
    assert np.array_equal(a.matrix, b.matrix)  # logistic probes involve no randomness
    assert a.config["n_train"] == 1000 and a.config["n_test"] == 500
    c = ev.coprediction(codes, labels, PARTITION, seed=np.random.default_rng(5))
    assert c.config["seed"] == "generator"


def test_to_dict_is_json_and_plot_writes_a_png(logistic, tmp_path):
    out = json.loads(json.dumps(logistic.to_dict()))
    assert out["metric"] == "coprediction" and out["blocks"] == ["shape", "color", "size"]
    assert np.array(out["matrix"]) == pytest.approx(logistic.matrix)
    assert out["config"]["partition"] == {"shape": 3, "color": 2, "size": 4}
    path = logistic.plot(tmp_path / "plots" / "coprediction.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert logistic.plot(tmp_path / "normalised.png", normalized=True).stat().st_size > 1000


def test_errors_name_the_argument_at_fault(data):
    codes, labels = data
    with pytest.raises(DataError, match=r"codes must have shape \(N, 9\).*got \(1500, 8\)"):
        ev.coprediction(codes[:, :8], labels, PARTITION)
    with pytest.raises(DataError, match="labels must have 1500 rows"):
        ev.coprediction(codes, labels[:10], PARTITION)
    with pytest.raises(ConfigError, match="did you mean 'logistic'"):
        ev.coprediction(codes, labels, PARTITION, probe="logistc")
    with pytest.raises(ConfigError, match="attributes must name 3 columns"):
        ev.coprediction(codes, labels, PARTITION, attributes=["a", "b"])
    with pytest.raises(DataError, match="partition must be a LatentPartition"):
        ev.coprediction(codes, labels, {"shape": 3})
    with pytest.raises(ConfigError, match="test_fraction"):
        ev.coprediction(codes, labels, PARTITION, test_fraction=1.5)
