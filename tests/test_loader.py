"""GroupLoader: deterministic, resumable, identical with and without worker processes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.graph import CentreCover


def _steps(loader: gs.GroupLoader) -> list[tuple[int, gs.GroupBatch, torch.Tensor]]:
    return list(loader)


def _same(a, b) -> None:
    assert [s for s, _, _ in a] == [s for s, _, _ in b]
    for (_, ba, ia), (_, bb, ib) in zip(a, b):
        np.testing.assert_array_equal(ba.examples, bb.examples)
        np.testing.assert_array_equal(ba.swap_pairs, bb.swap_pairs)
        assert torch.equal(ia, ib)


def test_steps_images_and_determinism(toy_dataset):
    strategy = CentreCover(gs.MultiGraph(toy_dataset), {"exact": False})
    loader = gs.GroupLoader(toy_dataset, strategy, groups_per_step=3, seed=7, steps=4)
    steps = _steps(loader)
    assert [s for s, _, _ in steps] == [0, 1, 2, 3] and len(loader) == 4
    _, batch, images = steps[2]
    assert images.dtype == torch.float32 and images.shape == (len(batch.examples), 3, 16, 16)
    assert images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, toy_dataset.load(batch.examples))
    expected = strategy.sample(3, np.random.default_rng([7, 0, 2]))
    np.testing.assert_array_equal(batch.examples, expected.examples)
    _same(steps, _steps(gs.GroupLoader(toy_dataset, strategy, 3, seed=7, steps=4)))
    other = _steps(gs.GroupLoader(toy_dataset, strategy, 3, seed=8, steps=4))
    assert not all(np.array_equal(a[1].examples, b[1].examples) for a, b in zip(steps, other))


def test_resume_from_a_step_number_and_ranks_differ(toy_dataset):
    strategy = CentreCover(gs.MultiGraph(toy_dataset), {"exact": False})
    full = _steps(gs.GroupLoader(toy_dataset, strategy, 2, seed=1, steps=6))
    resumed = _steps(gs.GroupLoader(toy_dataset, strategy, 2, seed=1, start_step=4, steps=2))
    _same(full[4:], resumed)
    rank1 = _steps(gs.GroupLoader(toy_dataset, strategy, 2, seed=1, rank=1, world_size=2,
                                  steps=6))
    assert not all(np.array_equal(a[1].examples, b[1].examples) for a, b in zip(full, rank1))


def test_workers_yield_the_same_steps_in_order(toy_dataset):
    strategy = CentreCover(gs.MultiGraph(toy_dataset), {"exact": False, "cycle_pairs": 1})
    plain = _steps(gs.GroupLoader(toy_dataset, strategy, 2, seed=3, start_step=10, steps=5))
    workers = _steps(gs.GroupLoader(toy_dataset, strategy, 2, seed=3, start_step=10, steps=5,
                                    num_workers=2, device="cpu"))
    assert [s for s, _, _ in workers] == [10, 11, 12, 13, 14]
    _same(plain, workers)


def test_unbounded_loader_and_argument_errors(toy_dataset):
    strategy = CentreCover(gs.MultiGraph(toy_dataset), {"exact": False})
    loader = gs.GroupLoader(toy_dataset, strategy, 1, seed=0)
    stream = iter(loader)
    assert [next(stream)[0] for _ in range(3)] == [0, 1, 2]
    with pytest.raises(TypeError, match="no length"):
        len(loader)
    with pytest.raises(gs.ConfigError, match="groups_per_step must be an integer >= 1"):
        gs.GroupLoader(toy_dataset, strategy, 0, seed=0)
    with pytest.raises(gs.ConfigError, match="rank 2 outside world_size 2"):
        gs.GroupLoader(toy_dataset, strategy, 1, seed=0, rank=2, world_size=2)
    with pytest.raises(gs.ConfigError, match="seed must be"):
        gs.GroupLoader(toy_dataset, strategy, 1, seed=-1)
