"""ML-VAE baseline (groupsup_baselines.mlvae): evidence accumulation and the grouped KL against
naive per-group computations, the shared content sample, training with an unlabelled block, the
error without the ``vae`` backbone, and the digits compare config."""

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLORS, toy_images, toy_labels
from groupsup_baselines import accumulate, grouped_kl, kl_divergence, value_slots
from groupsup_baselines.compare import needs_search

import groupsup as gs

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
SMALL = {"width": 8, "max_width": 16}
VAE = {"inner": "conv-small", "inner_options": SMALL}
# blocks a (2 dims) and b (3 dims), then the unlabelled block (2 dims)
PARTITION = gs.LatentPartition({"a": 2, "b": 3, "style": 2}, free="style")
LABELS = np.array([[0, 1], [0, 2], [1, 1], [-1, 1], [0, -1], [2, 2], [1, -1]])


class ToyStyle(gs.Schema):
    shape = gs.Attribute(values=["square", "plus"], latent=4)
    color = gs.Attribute(values=list(COLORS), latent=4)
    position = gs.Attribute(values=["left", "right"], latent=4)
    style = gs.Free(latent=3)


def posteriors(rows: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(rows, width, generator=gen, dtype=torch.float64)
    return mu, torch.randn(rows, width, generator=gen, dtype=torch.float64) * 1.5


def naive(mu: np.ndarray, logvar: np.ndarray, labels: np.ndarray,
          partition: gs.LatentPartition) -> tuple[np.ndarray, np.ndarray, float]:
    """Product of Gaussians per attribute value by loops; the KL of every group once."""
    out_mu, out_logvar, kl = mu.copy(), logvar.copy(), 0.0

    def kl_of(m, lv):
        return 0.5 * float(np.sum(m ** 2 + np.exp(lv) - 1 - lv))

    for j, name in enumerate(partition.labelled):
        cols = partition.slice(name)
        for i in range(len(labels)):
            if labels[i, j] < 0:
                kl += kl_of(mu[i, cols], logvar[i, cols])
                continue
            group = [k for k in range(len(labels)) if labels[k, j] == labels[i, j]]
            precision = sum(np.exp(-logvar[k, cols]) for k in group)
            out_mu[i, cols] = sum(mu[k, cols] * np.exp(-logvar[k, cols])
                                  for k in group) / precision
            out_logvar[i, cols] = -np.log(precision)
            if i == group[0]:
                kl += kl_of(out_mu[i, cols], out_logvar[i, cols])
    if partition.free is not None:
        cols = partition.slice(partition.free)
        kl += sum(kl_of(mu[i, cols], logvar[i, cols]) for i in range(len(labels)))
    return out_mu, out_logvar, kl / mu.size


@pytest.mark.parametrize("partition", [PARTITION, gs.LatentPartition({"a": 2, "b": 3})])
def test_accumulation_and_kl_match_a_naive_per_group_computation(partition):
    mu, logvar = posteriors(len(LABELS), partition.size)
    got = accumulate(mu, logvar, value_slots(torch.as_tensor(LABELS), partition))
    want_mu, want_logvar, want_kl = naive(mu.numpy(), logvar.numpy(), LABELS, partition)
    np.testing.assert_allclose(got.mu.numpy(), want_mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.logvar.numpy(), want_logvar, rtol=1e-10, atol=1e-12)
    assert float(grouped_kl(got)) == pytest.approx(want_kl, rel=1e-10)
    # unknown values and the style block keep their own posterior, bit for bit
    assert torch.equal(got.mu[3, :2], mu[3, :2]) and torch.equal(got.logvar[4, 2:5], logvar[4, 2:5])
    if partition.free:
        assert torch.equal(got.mu[:, 5:], mu[:, 5:]) and torch.equal(got.logvar[:, 5:],
                                                                     logvar[:, 5:])
    assert got.size[:, 0].tolist() == [3, 3, 2, 1, 3, 1, 2]


def test_groups_of_one_give_the_kl_term_and_members_share_one_content_sample():
    mu, logvar = posteriors(4, PARTITION.size, seed=1)
    alone = accumulate(mu, logvar, value_slots(torch.tensor([[0, 3], [1, 2], [2, 1], [3, 0]]),
                                               PARTITION))
    torch.testing.assert_close(grouped_kl(alone), kl_divergence(mu, logvar))
    together = accumulate(mu, logvar, value_slots(torch.tensor([[0, 1], [0, 1], [1, 1], [1, 0]]),
                                                  PARTITION))
    torch.manual_seed(0)
    z = together.sample()
    torch.testing.assert_close(z[0, :2], z[1, :2])   # same value of a: one sample
    torch.testing.assert_close(z[0, 2:5], z[2, 2:5])  # same value of b
    assert not torch.allclose(z[0, 5:], z[1, 5:])     # style: each its own
    # the gradient reaches every member's posterior of a shared block
    mu.requires_grad_(True)
    grouped_kl(accumulate(mu, logvar, together.slot)).backward()
    assert bool((mu.grad[:, :5] != 0).all())


def test_ml_vae_trains_two_steps_with_an_unlabelled_block(tmp_path):
    labels = toy_labels(2)
    data = gs.GroupDataset.from_arrays(ToyStyle, toy_images(labels), labels, name="toy-style")
    torch.manual_seed(0)
    model = gs.build_model("vae", data.schema, (3, 16, 16), VAE)
    assert model.partition.free == "style" and model.partition.size == 15
    result = gs.train(model, data, losses=["ml-vae-recon", {"term": "ml-vae-kl", "weight": 0.1}],
                      distance="l2", steps=2, groups_per_step=2, out=tmp_path / "run",
                      progress=False, threads=1, sample_every=100, checkpoint_every=2)
    assert result.step == 2 and np.isfinite(result.last["loss"])
    assert {"ml-vae-recon", "ml-vae-kl"} <= set(result.last)
    # in eval mode the reconstruction decodes the accumulated mean: deterministic
    model.eval()
    images = data.load(np.arange(6))
    recipe = gs.build_recipe(["ml-vae-recon"])
    batch, codes = gs.GroupBatch(examples=np.arange(6)), data.labels[:6]
    with torch.no_grad():
        first = recipe.compute(model, images, batch, codes).total
        again = recipe.compute(model, images, batch, codes).total
    torch.testing.assert_close(first, again)


def test_ml_vae_terms_need_the_vae_backbone():
    labels = toy_labels(1)
    data = gs.GroupDataset.from_arrays(ToyStyle, toy_images(labels), labels, name="toy-style")
    model = gs.build_model("conv-small", data.schema, (3, 16, 16), SMALL)
    images, batch = data.load(np.arange(4)), gs.GroupBatch(examples=np.arange(4))
    for term in ("ml-vae-recon", "ml-vae-kl"):
        with pytest.raises(gs.ConfigError, match=f"'{term}' needs the 'vae' backbone"):
            gs.build_recipe([term]).compute(model, images, batch, data.labels[:4])


def test_recipe_and_the_digits_compare_config():
    assert [(s.term, s.weight) for s in gs.build_recipe("ml-vae").specs] == [
        ("ml-vae-recon", 1.0), ("ml-vae-kl", 0.1)]
    # the GZS-Net config it was measured beside, with the same data, split and step settings
    digits = gs.load_config(ROOT / "examples" / "digits" / "digits-gsl.toml").to_dict()
    mlvae = gs.load_config(ROOT / "examples" / "digits" / "compare" / "ml-vae.toml").to_dict()
    assert mlvae["model"] == {"backbone": "vae", "free_warp": None, "options": {
        "inner": "conv-small", "inner_options": digits["model"]["options"]}}
    assert mlvae["schema"]["free"] == 8
    assert mlvae["loss"]["recipe"] == "ml-vae" and mlvae["loss"]["distance"] == "l2"
    for config in (digits, mlvae):
        for key in ("name", "model", "schema", "loss"):
            config.pop(key)
        config["train"].pop("out")
    assert mlvae == digits
    # a trained partition: compare evaluates it as it is, beta-VAE through a searched one
    config = gs.load_config(ROOT / "examples" / "digits" / "compare" / "ml-vae.toml")
    assert not needs_search(config)
    assert needs_search(gs.load_config(config.to_dict(), ["loss.recipe=beta-vae"]))
