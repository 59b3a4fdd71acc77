"""``reduction = "per-decode"``: each term's mean times its decodes per group (the GZS-Net
reference code's sum of one mean per decode), derived from the batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import groupsup as gs


def _schema(attributes: int) -> type[gs.Schema]:
    fields = {f"a{j}": gs.Attribute(values=[0, 1, 2], latent=2) for j in range(attributes)}
    return type(f"Grid{attributes}", (gs.Schema,), fields)


@pytest.mark.parametrize(("attributes", "ratio"), [(5, (6, 10, 1)), (3, (4, 6, 1))])
def test_per_decode_weights_terms_like_the_reference(attributes, ratio):
    """Centre-cover groups on a full grid: Fonts' five attributes give 6 recon : 10 swap :
    1 cover, three attributes (iLab, RaFD) 4 : 6 : 1."""
    schema = _schema(attributes)
    labels = np.stack(np.meshgrid(*[range(3)] * attributes, indexing="ij"),
                      -1).reshape(-1, attributes)
    strategy = gs.get_host().strategies.get("centre-cover")(gs.MultiGraph(labels), {"exact": True})
    batch = strategy.sample(3, np.random.default_rng(0))
    torch.manual_seed(0)
    model = gs.build_model("conv-small", schema, (1, 8, 8), {"width": 4, "max_width": 8})
    images = torch.rand(len(batch.examples), 1, 8, 8) * 2 - 1
    terms = ["recon", "swap", "cover"]
    mean = gs.build_recipe(terms).compute(model, images, batch)
    per = gs.build_recipe(terms, reduction="per-decode").compute(model, images, batch)
    for name in terms:  # the terms themselves are unchanged; only the total weights them
        torch.testing.assert_close(per.terms[name], mean.terms[name])
    expected = sum(k * mean.terms[name] for k, name in zip(ratio, terms))
    torch.testing.assert_close(per.total, expected)
    torch.testing.assert_close(mean.total, sum(mean.terms.values()))


def test_reduction_is_validated_and_needs_the_group_count():
    with pytest.raises(gs.ConfigError, match="reduction 'sum' is not one of"):
        gs.build_recipe(["recon"], reduction="sum")
    model = gs.build_model("conv-small", _schema(2), (1, 8, 8), {"width": 4, "max_width": 8})
    batch = gs.GroupBatch(np.arange(2))  # groups unknown (0)
    with pytest.raises(gs.ConfigError, match=r"needs the number of groups.*groups=0"):
        gs.build_recipe(["recon"], reduction="per-decode").compute(
            model, torch.zeros(2, 1, 8, 8), batch)


def test_config_key_overrides_the_recipe(tmp_path):
    from groupsup.train.config import load_config
    from groupsup.train.resolve import _build_recipe

    path = tmp_path / "c.toml"
    path.write_text('name = "r"\n[dataset]\nname = "fonts"\n[loss]\nrecipe = "gzsnet-reference"\n')
    registries = gs.get_host()
    assert _build_recipe(load_config(path), registries, []).reduction == "per-decode"
    config = load_config(path, ["loss.reduction=mean"])
    assert _build_recipe(config, registries, []).reduction == "mean"
    config = load_config(path, ["loss.recipe=gsl"])
    assert _build_recipe(config, registries, []).reduction == "mean"


def test_config_distance_defaults_to_the_recipe_own(tmp_path):
    """A recipe registered with its own default distance keeps it unless the config names one;
    explicit terms, and recipes registered without one, default to l1."""
    from groupsup.registry import RegistrySet
    from groupsup.train.config import load_config
    from groupsup.train.resolve import _build_recipe

    registries = RegistrySet()
    for name in ("recon", "swap"):
        registries.register("losses", name, gs.get_host().losses.get(name))
    registries.register("recipes", "squared", {"terms": ["recon", "swap"], "distance": "l2"})
    registries.register("recipes", "plain", ["recon", "swap"])
    path = tmp_path / "c.toml"
    path.write_text('name = "r"\n[dataset]\nname = "fonts"\n[loss]\nrecipe = "squared"\n')
    assert _build_recipe(load_config(path), registries, []).distance == "l2"
    config = load_config(path, ["loss.distance='l1'"])
    assert _build_recipe(config, registries, []).distance == "l1"
    assert _build_recipe(load_config(path, ["loss.recipe='plain'"]), registries,
                         []).distance == "l1"
    config = load_config(path, ["loss.terms=[{term='recon'}]"])
    assert _build_recipe(config, registries, []).distance == "l1"
