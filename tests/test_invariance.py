"""The ``invariance`` term: per block, the share of its variance that its own attribute does not
explain; zero exactly when every block is a function of its attribute's value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupsup as gs
from groupsup.errors import ConfigError, PartitionError
from groupsup.losses.base import StepContext
from groupsup.losses.terms import Invariance

WIDTHS = {"a": 2, "b": 3, "c": 4}


class ABC(gs.Schema):
    a = gs.Attribute(values=[0, 1, 2], latent=WIDTHS["a"])
    b = gs.Attribute(values=[0, 1], latent=WIDTHS["b"])
    c = gs.Attribute(values=[0, 1, 2, 3], latent=WIDTHS["c"])


M = 24
BATCH = gs.GroupBatch(examples=np.arange(M), groups=1)


def labels(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n, M) for n in (3, 2, 4)], axis=1)


def model() -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model("conv-small", ABC, (3, 16, 16), {"width": 4, "max_width": 8}).double()


def codes(y: np.ndarray, leak: float = 0.0, seed: int = 1) -> torch.Tensor:
    """Block j = a fixed embedding of y[:, j], plus *leak* times an embedding of y[:, j+1]."""
    g = torch.Generator().manual_seed(seed)
    blocks = []
    for j, width in enumerate(WIDTHS.values()):
        own = torch.randn(5, width, generator=g, dtype=torch.float64)[torch.as_tensor(y[:, j])]
        other = torch.randn(5, width, generator=g, dtype=torch.float64)[
            torch.as_tensor(y[:, (j + 1) % 3])]
        blocks.append(own + leak * other)
    return torch.cat(blocks, dim=1)


def value(z: torch.Tensor, y: np.ndarray, **options) -> torch.Tensor:
    step = StepContext(model(), torch.zeros(M, 3, 16, 16, dtype=torch.float64), z, BATCH, y)
    return Invariance(options).run(step)


def naive(z: np.ndarray, y: np.ndarray, blocks=("a", "b", "c"), per="dimension",
          ridge=1e-3) -> float:
    ratios, start = [], 0
    for j, (name, width) in enumerate(WIDTHS.items()):
        block, start = z[:, start:start + width], start + width
        if name not in blocks:
            continue
        known = y[:, j] >= 0
        block, v = block[known], y[known, j]
        if per == "direction":
            r = np.concatenate([block[v == u] - block[v == u].mean(0) for u in set(v)])
            c = block - block.mean(0)
            total = c.T @ c + ridge * np.trace(c.T @ c) / width * np.eye(width)
            ratios.append(np.trace(np.linalg.inv(total) @ (r.T @ r)) / width)
            continue
        within = sum(((block[v == u] - block[v == u].mean(0)) ** 2).sum(0) for u in set(v))
        total = ((block - block.mean(0)) ** 2).sum(0)
        ratios.append(within.sum() / total.sum() if per == "block" else (within / total).mean())
    return float(np.mean(ratios))


def test_zero_when_every_block_follows_only_its_attribute():
    y = labels()
    assert value(codes(y), y).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("per", ["dimension", "block", "direction"])
def test_equals_the_within_over_total_scatter_and_is_scale_free(per):
    y = labels()
    z = codes(y, leak=0.7)
    got = value(z, y, per=per).item()
    assert got == pytest.approx(naive(z.numpy(), y, per=per), rel=1e-10)
    assert got > 0.05
    assert value(10.0 * z + 3.0, y, per=per).item() == pytest.approx(got, rel=1e-10)


def test_per_dimension_counts_a_small_dimension_as_much_as_a_large_one():
    y = labels()
    z = codes(y)
    z[:, 2] = 1e-3 * torch.as_tensor(y[:, 0], dtype=z.dtype)  # block b's first dimension: a's
    assert value(z, y, per="block").item() < 1e-5
    assert value(z, y).item() > 0.1


def test_per_direction_finds_a_leak_hidden_in_a_mix_of_dimensions():
    y = labels()
    z = codes(y)
    own = z[:, 2].clone()  # block b: two dimensions that differ only by a small leak of a
    leak = 0.1 * torch.as_tensor(y[:, 0], dtype=z.dtype)
    z[:, 2], z[:, 3] = own + leak, own - leak
    assert value(z, y, blocks=["b"]).item() < 0.05
    # one of block b's three directions is all leak: close to a third
    assert value(z, y, blocks=["b"], per="direction").item() > 0.25
    assert value(z, y, per="direction").item() == pytest.approx(
        naive(z.numpy(), y, per="direction"), rel=1e-8)


def test_unknown_values_are_left_out_of_their_block_only():
    y = labels()
    z = codes(y, leak=0.5)
    hidden = y.copy()
    hidden[:5, 1] = gs.UNKNOWN
    noisy = z.clone()
    noisy[:5, 2:5] += 100.0  # block b of the rows whose b is unknown: must not count
    assert value(noisy, hidden).item() == pytest.approx(naive(z.numpy(), hidden), rel=1e-10)


def test_blocks_option_chooses_the_blocks_and_names_a_wrong_one():
    y = labels()
    z = codes(y, leak=0.5)
    assert value(z, y, blocks=["a", "c"]).item() == pytest.approx(
        naive(z.numpy(), y, blocks=("a", "c")), rel=1e-10)
    with pytest.raises(PartitionError, match="'colour'"):
        value(z, y, blocks=["colour"])


def test_descending_it_removes_the_other_attributes_from_each_block():
    y = labels()
    z = codes(y, leak=1.0).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=0.05)
    start = value(z, y).item()
    for _ in range(300):
        optimiser.zero_grad()
        loss = value(z, y)
        loss.backward()
        optimiser.step()
    assert value(z, y).item() < 0.01 * start
    # what is left of block a is a function of attribute a: rows with one value of a agree
    a = z.detach()[:, :2].numpy()
    for u in range(3):
        assert np.ptp(a[y[:, 0] == u], axis=0).max() < 0.05 * np.ptp(a, axis=0).max()


def test_in_a_recipe_it_needs_the_labels():
    recipe = gs.build_recipe(["recon", {"term": "invariance", "weight": 0.5}])
    net, y = model(), labels()
    x = torch.rand(M, 3, 16, 16, dtype=torch.float64) * 2 - 1
    out = recipe.compute(net, x, BATCH, y)
    assert set(out.terms) == {"recon", "invariance"}
    assert 0.0 < out.terms["invariance"].item() <= 1.0
    out.total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    with pytest.raises(ConfigError, match="labels"):
        recipe.compute(net, x, BATCH)



def test_gsl_invariance_recipe_adds_the_term_to_gsl():
    specs = gs.build_recipe("gsl-invariance").specs
    assert [(s.term, s.weight) for s in specs] == [("recon", 1.0), ("swap", 1.0), ("cover", 1.0),
                                                    ("invariance", 1.0)]
    assert Invariance().config.per == "dimension"
