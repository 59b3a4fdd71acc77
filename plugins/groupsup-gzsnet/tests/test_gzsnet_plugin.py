"""The plugin as installed: entry point, recipes, checkpoints, README and public-API use."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from groupsup_gzsnet import GZSNet

import groupsup as gs
import groupsup.plugins

ROOT = Path(__file__).resolve().parents[1]


class Two(gs.Schema):
    a = gs.Attribute(values=[0, 1], latent=3)
    b = gs.Attribute(values=[0, 1], latent=3)


def small() -> gs.SwapAutoencoder:
    torch.manual_seed(0)
    return gs.build_model("gzsnet", Two, (3, 32, 32), {"width": 4, "fc_width": 16})


def test_registered_through_the_entry_point():
    host = gs.get_host()
    entry = host.backbones.entry("gzsnet")
    assert entry.obj is GZSNet and entry.distribution == "groupsup-gzsnet"
    assert {"gzsnet-reference", "gzsnet-paper", "gzsnet-dsprites"} <= set(host.recipes.names())
    assert not [p for p in host.problems if "gzsnet" in p]


def test_recipes():
    reference = gs.build_recipe("gzsnet-reference")
    paper = gs.build_recipe("gzsnet-paper")
    dsprites = gs.build_recipe("gzsnet-dsprites")
    assert [(s.term, s.weight, s.distance) for s in reference.specs] == [
        ("recon", 1.0, "l1"), ("swap", 1.0, "l1"), ("cover", 1.0, "l1")]
    assert [s.term for s in paper.specs] == ["recon", "swap", "cover", "cycle"]
    assert paper.requires == {"swap", "cover", "cycle"}
    assert {s.distance for s in dsprites.specs} == {"bce"}
    # the reference code sums one mean per decode; the paper's formula is a mean per term
    assert (reference.reduction, dsprites.reduction, paper.reduction) == (
        "per-decode", "per-decode", "mean")


def test_training_step_with_the_paper_recipe():
    model = small()
    batch = gs.GroupBatch(np.arange(4), swap_pairs=np.array([[0, 1], [0, 2]]),
                          swap_attribute=np.array([0, 1]), cover_target=np.array([0]),
                          cover_providers=np.array([[1, 2]]), cycle_pairs=np.array([[1, 3]]),
                          cycle_attribute=np.array([1]), groups=1)
    out = gs.build_recipe("gzsnet-paper").compute(model, torch.rand(4, 3, 32, 32) * 2 - 1,
                                                      batch)
    out.total.backward()
    assert set(out.terms) == {"recon", "swap", "cover", "cycle"}


def test_save_load_records_the_distribution(tmp_path):
    model = small()
    model.save(tmp_path / "m")
    assert model.config_dict()["plugin"] == {"name": "gzsnet", "distribution": "groupsup-gzsnet",
                                             "version": "0.1.0"}
    loaded = gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))


def test_missing_plugin_is_named_on_load(tmp_path, monkeypatch):
    small().save(tmp_path / "m")
    monkeypatch.setattr(groupsup.plugins, "_host", groupsup.plugins.PluginHost(
        entry_points=False, local=""))
    with pytest.raises(gs.PluginError, match=r"backbone 'gzsnet' comes from distribution "
                                             r"groupsup-gzsnet 0.1.0, which is not installed: "
                                             r"pip install groupsup-gzsnet"):
        gs.SwapAutoencoder.load(tmp_path / "m", registries=gs.get_host())


def test_uses_only_the_public_api():
    for path in (ROOT / "groupsup_gzsnet").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) groupsup\.", text, re.M), path.name


@pytest.mark.parametrize("index", [0])
def test_readme_snippets_run(index):
    snippets = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    exec(compile(snippets[index], "README.md", "exec"), {"__name__": "__readme__"})
