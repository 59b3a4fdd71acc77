"""Ada-GVAE baseline: the adaptive averaging on constructed posteriors, a training step, the
recipe on the ``vae`` backbone with the ``edge`` strategy's pairs."""

import numpy as np
import pytest
import torch
from conftest import Toy, toy_images, toy_labels
from groupsup_baselines import adaptive_average, pair_kl, shared_dimensions

import groupsup as gs
from groupsup.train import Trainer, load_config

torch.set_num_threads(1)
SMALL = {"width": 8, "max_width": 16}


def test_pair_kl_matches_the_closed_form():
    mu1, mu2 = torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, -1.0]])
    lv1, lv2 = torch.log(torch.tensor([[1.0, 2.0]])), torch.log(torch.tensor([[1.0, 0.5]]))
    # 0.5 (s1^2/s2^2 + (mu2 - mu1)^2/s2^2 - 1 + ln s2^2 - ln s1^2)
    second = 0.5 * (2 / 0.5 + 4 / 0.5 - 1 + np.log(0.5) - np.log(2.0))
    torch.testing.assert_close(pair_kl(mu1, lv1, mu2, lv2), torch.tensor([[0.0, float(second)]]))


def test_shared_dimensions_are_averaged_and_the_others_untouched():
    # pair 0 agrees on dims 0 and 2 (up to a little noise), pair 1 only on dim 1
    mu1 = torch.tensor([[0.0, 3.0, 1.0, -2.0], [5.0, 0.5, 0.0, 1.0]])
    mu2 = torch.tensor([[0.1, -3.0, 1.0, 4.0], [-5.0, 0.5, 9.0, -8.0]])
    lv1 = torch.log(torch.tensor([[1.0, 1.0, 0.5, 1.0], [1.0, 0.2, 1.0, 1.0]]))
    lv2 = torch.log(torch.tensor([[1.0, 1.0, 0.6, 1.0], [1.0, 0.4, 1.0, 1.0]]))
    mu, logvar, shared = adaptive_average(mu1, lv1, mu2, lv2)
    assert shared.tolist() == [[True, False, True, False], [False, True, False, False]]
    assert mu.shape == logvar.shape == (4, 4)
    # shared: both rows get the mean of the means and the mean of the variances
    torch.testing.assert_close(mu[0, [0, 2]], torch.tensor([0.05, 1.0]))
    torch.testing.assert_close(mu[2, [0, 2]], torch.tensor([0.05, 1.0]))
    torch.testing.assert_close(logvar[0, 2].exp(), torch.tensor(0.55))
    torch.testing.assert_close(logvar[2, 2].exp(), torch.tensor(0.55))
    torch.testing.assert_close(mu[1, 1], torch.tensor(0.5))
    torch.testing.assert_close(logvar[3, 1].exp(), torch.tensor(0.3))
    # not shared: each image keeps its own posterior
    torch.testing.assert_close(mu[0, [1, 3]], mu1[0, [1, 3]])
    torch.testing.assert_close(mu[2, [1, 3]], mu2[0, [1, 3]])
    torch.testing.assert_close(logvar[3, [0, 2, 3]], lv2[1, [0, 2, 3]])
    torch.testing.assert_close(mu[1, [0, 2, 3]], mu1[1, [0, 2, 3]])


def test_a_pair_with_equal_divergences_shares_nothing():
    assert not shared_dimensions(torch.ones(1, 5)).any()


def _net() -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model("vae", Toy, (3, 16, 16),
                              {"inner": "conv-small", "inner_options": SMALL})


def test_recipe_decodes_both_images_of_each_pair_and_learns():
    labels = toy_labels(2)
    data = gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")
    net = _net()
    recipe = gs.build_recipe("ada-gvae")
    assert [(s.term, s.weight) for s in recipe.specs] == [("ada-gvae-recon", 1.0),
                                                         ("ada-gvae-kl", 0.1)]
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    batch = gs.GroupBatch(np.arange(6), {"swap": gs.Relation.pairs(pairs, [0, 1, 2])})
    images = data.load(np.arange(6))
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        out = recipe.compute(net, images, batch, data.labels[:6])
        optimiser.zero_grad()
        out.total.backward()
        optimiser.step()
        first = out.terms["ada-gvae-recon"].item() if first is None else first
    assert set(out.terms) == {"ada-gvae-recon", "ada-gvae-kl"}
    assert out.terms["ada-gvae-recon"].item() < first
    with pytest.raises(gs.ConfigError, match="'vae' backbone"):
        recipe.compute(gs.build_model("conv-small", Toy, (3, 16, 16), SMALL), images, batch)


def test_ada_gvae_trains_with_the_edge_strategy(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    config = load_config({
        "name": "ada", "seed": 3, "dataset": {"name": "store", "options": {"path": str(store)}},
        "model": {"backbone": "vae", "options": {"inner": "conv-small", "inner_options": SMALL}},
        "strategy": {"name": "edge", "options": {"exact": False}},
        "loss": {"recipe": "ada-gvae"}, "optim": {"lr": 1e-3},
        "train": {"steps": 3, "groups_per_step": 2, "log_every": 1, "sample_every": 100,
                  "checkpoint_every": 3, "progress": False, "threads": 1,
                  "out": str(tmp_path / "ada")}})
    result = Trainer(config).fit()
    assert result.step == 3 and np.isfinite(result.last["loss"])
    assert np.isfinite(result.last["ada-gvae-kl"])
