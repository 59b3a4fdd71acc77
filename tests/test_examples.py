"""The example configs and the example plugin stay valid against what is registered."""

from pathlib import Path

import pytest

import groupsup as gs
from groupsup.graph.splits import SPLITS_BUILT_IN
from groupsup.plugins import reset_host

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "examples").rglob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_config_names_registered_pieces(path):
    config = gs.load_config(path)
    host = gs.get_host()
    spec = host.datasets.get(config.dataset.name)
    spec.options_model.model_validate(config.dataset.options)
    assert config.dataset.split in {*SPLITS_BUILT_IN, *spec.splits}
    if config.dataset.split == "held-out":  # values are checked against the data at training
        names = spec.schema.names if spec.schema is not None else \
            list(config.dataset.options["attributes"])
        assert config.dataset.held_out
        assert all(set(entry) <= set(names) for entry in config.dataset.held_out)
    host.strategies.get(config.strategy.name).Config.model_validate(config.strategy.options)
    backbone = host.backbones.get(config.model.backbone)
    backbone.parse_config(config.model.options)
    if config.loss.terms is None:
        assert config.loss.recipe in host.recipes
    if spec.schema is not None:
        assert set(config.schema_.latent) <= set(spec.schema.names)


def test_fonts_demo_config_is_the_packaged_one():
    from groupsup_fonts.demo import demo_config

    assert gs.load_config(ROOT / "examples/fonts/demo.toml").to_dict() == \
        gs.load_config(demo_config()).to_dict()


def test_custom_backbone_example_plugin(monkeypatch, toy_dataset, tmp_path):
    monkeypatch.setenv("GROUPSUP_PLUGINS",
                       str(ROOT / "examples/plugins/mlp_backbone.py"))
    reset_host()
    try:
        assert gs.get_host().backbones.entry("mlp").plugin == "mlp_backbone"
        model = gs.build_model("mlp", toy_dataset.schema, toy_dataset.image_shape,
                                   {"hidden": 32})
        x = toy_dataset.load([0, 1])
        assert model.reconstruct(x).shape == x.shape
        run = gs.train(model, toy_dataset, steps=2, groups_per_step=2, out=tmp_path / "mlp",
                       progress=False, threads=1)
        assert run.step == 2
    finally:
        reset_host()
