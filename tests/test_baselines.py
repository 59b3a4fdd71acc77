"""Baselines plugin: AE+DS heads, the VAE wrapper and its KL, the partition search, recipes;
and the core features they rest on (term parameters, labels in the step, direct-return terms:
both baseline terms return their value without network requests)."""

import json

import numpy as np
import pytest
import torch
from conftest import Toy, toy_images, toy_labels
from groupsup_baselines import VAE, assign_dimensions, kl_divergence, search_partition

import groupsup as gs
from groupsup.train import Trainer, load_config

torch.set_num_threads(1)
SMALL = {"width": 8, "max_width": 16}


def toy(copies: int = 2) -> gs.GroupDataset:
    labels = toy_labels(copies)
    return gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")


def model(backbone: str = "conv-small", options: dict | None = None) -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model(backbone, Toy, (3, 16, 16), options or SMALL)


def whole_batch(data: gs.GroupDataset) -> gs.GroupBatch:
    return gs.GroupBatch(examples=np.arange(len(data)))


def test_block_classifier_heads_get_gradients_and_learn():
    data = toy()
    net = model()
    recipe = gs.build_recipe(["block-classifier"])
    heads = recipe.build(net)["block-classifier"]
    assert [h.out_features for h in heads] == [2, 3, 2]
    assert [h.in_features for h in heads] == [4, 4, 4]
    images, batch = data.load(np.arange(len(data))), whole_batch(data)
    optimiser = torch.optim.Adam([*net.parameters(), *heads.parameters()], lr=3e-3)
    first = None
    for _ in range(40):
        out = recipe.compute(net, images, batch, data.labels)
        optimiser.zero_grad()
        out.total.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads.parameters())
        optimiser.step()
        first = out.total.item() if first is None else first
    assert out.total.item() < 0.3 * first
    with torch.no_grad():
        logits = recipe.terms[0].logits(net.encode(images), net.partition)
    accuracy = np.mean([(lg.argmax(1).numpy() == data.labels[:, j]).mean()
                        for j, lg in enumerate(logits)])
    assert accuracy == 1.0


def test_block_classifier_needs_build_and_labels():
    data, net = toy(), model()
    images, batch = data.load(np.arange(len(data))), whole_batch(data)
    recipe = gs.build_recipe(["recon", "block-classifier"])
    with pytest.raises(gs.ConfigError, match=r"recipe\.build"):
        recipe.compute(net, images, batch, data.labels)
    recipe.build(net)
    with pytest.raises(gs.ConfigError, match="labels"):
        recipe.compute(net, images, batch)
    with pytest.raises(gs.ConfigError, match=r"\(M, A\)"):
        recipe.compute(net, images, batch, data.labels[:, :2])


def test_kl_matches_a_hand_computation():
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logvar = torch.tensor([[0.0, np.log(4.0)], [np.log(0.5), 0.0]], dtype=torch.float32)
    # 0.5 (mu^2 + var - 1 - log var) per entry
    by_hand = [0.0, 0.5 * (1 + 4 - 1 - np.log(4)), 0.5 * (4 + 0.5 - 1 - np.log(0.5)), 0.5]
    assert float(kl_divergence(mu, logvar)) == pytest.approx(np.mean(by_hand), rel=1e-6)


def test_vae_samples_in_training_returns_the_mean_in_eval_and_kl_term_uses_its_posterior():
    data = toy()
    net = model("vae", {"inner": "conv-small", "inner_options": SMALL})
    assert isinstance(net.backbone, VAE) and net.backbone.inner.latent_size == 24
    images = data.load(np.arange(6))
    net.eval()
    mean = net.encode(images)
    mu, logvar = net.backbone.inner.encode(images).chunk(2, dim=1)
    torch.testing.assert_close(mean, mu)
    net.train()
    torch.manual_seed(1)
    sample = net.encode(images)
    assert not torch.allclose(sample, mean)
    recipe = gs.build_recipe(["recon", "kl"])
    out = recipe.compute(net, images, gs.GroupBatch(examples=np.arange(6)))
    expected = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean()
    torch.testing.assert_close(out.terms["kl"], expected.detach())
    with pytest.raises(gs.ConfigError, match="'vae' backbone"):
        recipe.compute(model(), images, gs.GroupBatch(examples=np.arange(6)))


def test_vae_saves_and_loads_by_name(tmp_path):
    net = model("vae", {"inner": "conv-small", "inner_options": SMALL}).eval()
    net.save(tmp_path / "vae")
    again = gs.SwapAutoencoder.load(tmp_path / "vae", registries=gs.get_host()).eval()
    images = toy().load(np.arange(4))
    torch.testing.assert_close(again.reconstruct(images), net.reconstruct(images))


def test_search_recovers_a_planted_assignment():
    rng = np.random.default_rng(0)
    n, cards = 3000, (3, 5, 4)
    labels = np.stack([rng.integers(0, k, n) for k in cards], axis=1)
    planted = np.array([1, 0, 2, 2, 0, 1, 1])            # attribute of each of 7 dimensions
    codes = np.stack([rng.normal(size=cards[j])[labels[:, j]] * 3 + 0.3 * rng.normal(size=n)
                      for j in planted], axis=1)
    found = assign_dimensions(codes, labels, ["a", "b", "c"])
    np.testing.assert_array_equal(found.assignment, planted)
    assert found.partition.to_dict() == {"a": 2, "b": 3, "c": 2}
    assert found.dimensions("b") == [0, 5, 6]
    np.testing.assert_array_equal(found.order, [1, 4, 0, 5, 6, 2, 3])


def test_search_gives_every_attribute_a_dimension():
    rng = np.random.default_rng(1)
    labels = np.stack([rng.integers(0, 3, 500), rng.integers(0, 2, 500)], axis=1)
    codes = np.stack([labels[:, 0] + 0.1 * rng.normal(size=500) for _ in range(3)], axis=1)
    found = assign_dimensions(codes, labels, ["x", "y"])
    assert found.partition.sizes == (2, 1)


def test_searched_partition_reorders_the_model():
    data = toy()
    net = model("vae", {"inner": "conv-small", "inner_options": SMALL}).eval()
    found = search_partition(net, data, examples=24)
    view = found.apply(net)
    assert view.partition == found.partition and view.partition.names == Toy.names
    images = data.load(np.arange(5))
    with torch.no_grad():
        torch.testing.assert_close(view.encode(images), net.encode(images)[:, found.order])
        torch.testing.assert_close(view.reconstruct(images), net.reconstruct(images))
    json.dumps(found.to_dict())


def test_ablation_recipes_are_registered():
    terms = {name: [s.term for s in gs.build_recipe(name).specs]
             for name in ("gsl-no-swap", "gsl-no-cover", "gsl-paper", "gsl-paper-no-cycle",
                          "ae-ds", "beta-vae")}
    assert terms == {"gsl-no-swap": ["recon", "cover"], "gsl-no-cover": ["recon", "swap"],
                     "gsl-paper": ["recon", "swap", "cover", "cycle"],
                     "gsl-paper-no-cycle": ["recon", "swap", "cover"],
                     "ae-ds": ["recon", "block-classifier"], "beta-vae": ["recon", "kl"]}


def _config(tmp_path, store, recipe, backbone="conv-small", strategy=None, steps=4):
    options = SMALL if backbone == "conv-small" else {"inner": "conv-small",
                                                      "inner_options": SMALL}
    return load_config({
        "name": recipe, "seed": 3,
        "dataset": {"name": "store", "options": {"path": str(store)}},
        "model": {"backbone": backbone, "options": options},
        "strategy": strategy or {"name": "centre-cover"},
        "loss": {"recipe": recipe}, "optim": {"lr": 1e-3},
        "train": {"steps": steps, "groups_per_step": 2, "log_every": 1, "sample_every": 100,
                  "checkpoint_every": 2, "progress": False, "threads": 1,
                  "out": str(tmp_path / recipe)},
    })


@pytest.mark.parametrize("recipe, backbone, strategy", [
    ("ae-ds", "conv-small", None),
    ("beta-vae", "vae", None),
    ("gsl-no-swap", "conv-small", None),
    ("gsl-no-cover", "conv-small", None),
    ("gsl-paper", "conv-small", {"name": "centre-cover", "options": {"cycle_pairs": 1}}),
])
def test_baselines_train_a_few_steps(tmp_path, toy_dataset, recipe, backbone, strategy):
    store = toy_dataset.write_store(tmp_path / "store")
    result = Trainer(_config(tmp_path, store, recipe, backbone, strategy)).fit()
    assert result.step == 4 and np.isfinite(result.last["loss"])


def test_term_parameters_are_optimised_checkpointed_and_resumed(tmp_path, toy_dataset):
    store = toy_dataset.write_store(tmp_path / "store")
    full = Trainer(_config(tmp_path / "full", store, "ae-ds"))
    initial = [p.detach().clone() for p in full.state.terms.parameters()]
    full.fit()
    assert all(not torch.equal(a, b) for a, b in zip(initial, full.state.terms.parameters()))
    part = Trainer(_config(tmp_path / "part", store, "ae-ds"))
    part.fit(until=2)
    resumed = Trainer(_config(tmp_path / "part", store, "ae-ds"),
                      resume=tmp_path / "part" / "ae-ds")
    for a, b in zip(part.state.terms.parameters(), resumed.state.terms.parameters()):
        torch.testing.assert_close(a, b)
    resumed.fit()
    for a, b in zip(full.state.terms.parameters(), resumed.state.terms.parameters()):
        torch.testing.assert_close(a, b)



def test_plugin_readme_snippets_run():
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "plugins" / "groupsup-baselines" / "README.md"
    for snippet in re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S):
        exec(compile(snippet, str(readme), "exec"), {})


def test_vae_looks_its_inner_backbone_up_in_the_registries_it_was_registered_with():
    """No global host: the plugin registers ``VAE.using(registries)``, so another set of
    registries gets a vae whose inner backbones are that set's."""
    conv = gs.get_host().backbones.get("conv-small")
    own = gs.RegistrySet()
    own.register("backbones", "small", conv)
    own.register("backbones", "vae", VAE.using(own))
    net = gs.SwapAutoencoder("vae", Toy, (3, 16, 16), {"inner": "small", "inner_options": SMALL},
                             registries=own)
    assert type(net.backbone.inner) is conv and net.backbone_name == "vae"
    with pytest.raises(gs.RegistryError, match="no backbone named 'conv-small'"):
        own.backbones.get("vae")((3, 16, 16), 24, {"inner": "conv-small"})
    with pytest.raises(gs.ConfigError, match=r"VAE.using\(registries\)"):
        VAE((3, 16, 16), 24, {"inner": "small"})
