"""resolve(config, registries=...): one step from a config to typed components with provenance;
domain objects built against registries other than the plugin host's; callbacks of the loop
from Python and from config (docs/architecture.md, docs/training.md)."""

import importlib
import json

import pytest
import torch
from test_trainer import config, metrics, store  # noqa: F401  (store is a fixture)

import groupsup as gs
import groupsup.plugins
from groupsup.train.config import load_config

LOCAL_PLUGIN = '''
import groupsup as gs
from groupsup.backbones.conv_small import ConvSmall
from groupsup.losses.terms import Recon


class TestOnlyNet(ConvSmall):
    """conv-small under another name: a backbone only this host has."""


class TestOnlyRecon(Recon):
    """recon under another name: a loss term only this host has."""


@gs.hookimpl
def register_backbones(register):
    register("test-only-net", TestOnlyNet)


@gs.hookimpl
def register_losses(register):
    register("test-only-recon", TestOnlyRecon)
'''


def with_components(cfg: gs.ExperimentConfig, backbone: str, terms: list[str]
                    ) -> gs.ExperimentConfig:
    data = cfg.to_dict()
    data["model"]["backbone"] = backbone
    data["loss"] = {"recipe": None, "terms": [{"term": t} for t in terms]}
    return load_config(data)


def test_resolve_builds_every_component_with_provenance(tmp_path, store):  # noqa: F811
    cfg = load_config({**config(tmp_path, store).to_dict(), "schema": {"latent": {}}})
    r = gs.resolve(cfg)
    assert isinstance(r.model, gs.SwapAutoencoder) and isinstance(r.recipe, gs.LossRecipe)
    assert isinstance(r.strategy, gs.Strategy) and isinstance(r.graph, gs.MultiGraph)
    assert r.split is None and r.train_dataset is r.dataset and len(r.graph) == len(r.dataset)
    assert r.optim is cfg.optim and r.registries is gs.get_host()
    assert [(p["kind"], p["name"], p["distribution"]) for p in r.provenance] == [
        ("dataset", "store", "groupsup"), ("strategy", "centre-cover", "groupsup"),
        ("backbone", "conv-small", "groupsup"), ("recipe", "gsl", "groupsup"),
        ("loss", "recon", "groupsup"), ("loss", "swap", "groupsup"),
        ("loss", "cover", "groupsup")]
    # the same config gives the same initial weights (resolve seeds torch)
    again = gs.resolve(cfg)
    assert all(torch.equal(a, b) for a, b in zip(r.model.state_dict().values(),
                                                 again.model.state_dict().values()))


def test_components_build_against_a_fresh_host_the_global_one_lacks(tmp_path, store):  # noqa: F811
    plugin = tmp_path / "test_only.py"
    plugin.write_text(LOCAL_PLUGIN)
    host = gs.plugins.PluginHost(entry_points=False, local=str(plugin), strict=True)
    assert "test-only-net" not in gs.get_host().backbones
    data = gs.build_dataset(config(tmp_path, store), host)
    model = gs.SwapAutoencoder("test-only-net", data.schema, data.image_shape,
                               {"width": 8, "max_width": 16}, registries=host)
    recipe = gs.LossRecipe(["test-only-recon", "swap"], registries=host)
    strategy = host.strategies.get("centre-cover")(gs.MultiGraph(data))
    assert model.config_dict()["plugin"]["name"] == "test_only"
    assert recipe.check(set(strategy.provides)) is None
    with pytest.raises(gs.RegistryError, match="no backbone named 'test-only-net'"):
        gs.build_model("test-only-net", data.schema, data.image_shape)
    with pytest.raises(gs.RegistryError, match="no loss named 'test-only-recon'"):
        gs.build_recipe(["test-only-recon"])
    # two configurations in one process: one against each host, both train
    ours = with_components(config(tmp_path / "a", store, steps=2), "test-only-net",
                           ["test-only-recon", "swap"])
    theirs = config(tmp_path / "b", store, steps=2)
    result = gs.Trainer(ours, registries=host).fit()
    assert gs.Trainer(theirs).fit().step == result.step == 2
    assert {"kind": "backbone", "name": "test-only-net", "plugin": "test_only",
            "distribution": "(local)", "version": "-"} in gs.resolve(ours, host).provenance
    with pytest.raises(gs.RegistryError, match="test-only-net"):
        gs.resolve(ours)


def test_a_registry_set_is_registries_too(tmp_path, store):  # noqa: F811
    host = gs.get_host()
    registries = gs.RegistrySet()
    for kind in ("datasets", "backbones", "losses", "recipes", "strategies"):
        for entry in getattr(host, kind):
            getattr(registries, kind).add(entry)
    registries.register("losses", "only-here", type(gs.build_recipe(["recon"]).terms[0]))
    cfg = with_components(config(tmp_path, store), "conv-small", ["only-here", "swap"])
    r = gs.resolve(cfg, registries)
    assert {"kind": "loss", "name": "only-here", "plugin": "(python)",
            "distribution": "(python)", "version": "-"} in r.provenance


def test_resolve_applies_the_configs_disable_plugins(tmp_path, store, monkeypatch):  # noqa: F811
    monkeypatch.setattr(groupsup.plugins, "_host", None)
    cfg = load_config({**config(tmp_path, store).to_dict(),
                       "disable_plugins": ["groupsup-gzsnet"]})
    r = gs.resolve(cfg)
    assert "gzsnet" not in r.registries.backbones and r.registries.plugins["gzsnet"].disabled
    assert r.registries is gs.get_host()
    monkeypatch.setattr(groupsup.plugins, "_host", None)


def test_config_callbacks_are_validated_by_name_and_options(tmp_path, store):  # noqa: F811
    with pytest.raises(gs.RegistryError, match=r"no callback named 'evalute'.*'evaluate'"):
        gs.resolve(config(tmp_path, store, callbacks=[{"name": "evalute"}]))
    with pytest.raises(gs.ConfigError, match=r"train.callbacks\[0\] \(evaluate\).*evry"):
        gs.resolve(config(tmp_path, store, callbacks=[{"name": "evaluate", "evry": 5}]))
    with pytest.raises(gs.ConfigError, match=r"train.callbacks\[0\]: give the callback's name"):
        gs.resolve(config(tmp_path, store, callbacks=[{"every": 5}]))


class StopAt(gs.Callback):
    """Records every step and stops the loop at a chosen one."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.seen, self.ended = at, [], None

    def on_step_end(self, loop, values, batch):
        self.seen.append((loop.step, sorted(values)))
        if loop.step == self.at:
            loop.stop("enough")

    def on_fit_end(self, loop):
        self.ended = loop.checkpoints.last.name


def test_a_python_callback_sees_every_step_and_stops_the_loop(tmp_path, store):  # noqa: F811
    callback = StopAt(4)
    result = gs.Trainer(config(tmp_path, store), callbacks=[callback]).fit()
    assert result.stopped == "enough" and result.step == 4
    assert [s for s, _ in callback.seen] == [1, 2, 3, 4]
    assert callback.seen[0][1] == ["cover", "loss", "recon", "swap"]
    assert callback.ended == "step-000004"  # on_fit_end runs after the final checkpoint


def test_the_evaluate_callback_from_config_leaves_training_unchanged(tmp_path, store):  # noqa: F811
    plain = gs.Trainer(config(tmp_path / "a", store)).fit()
    cfg = config(tmp_path / "b", store, callbacks=[{"name": "evaluate", "every": 4,
                                                     "examples": 8}])
    trainer = gs.Trainer(cfg)
    evaluated = trainer.fit()
    assert [r["loss"] for r in metrics(plain.run_dir)] == [
        r["loss"] for r in metrics(evaluated.run_dir)]
    records = [json.loads(line) for line in
               (evaluated.run_dir / "evaluations.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [4, 6]  # every 4 steps, and the last one
    assert all(r["n"] == 8 and not r["held_out"] and r["synthesis_ssim"] is not None
               for r in records)
    assert {"kind": "callback", "name": "evaluate", "plugin": "groupsup.runs.during",
            "distribution": "groupsup", "version": gs.__version__} in trainer.resolved.provenance
    # a resumed run drops the evaluations after its checkpoint's step, as metrics.jsonl
    resumed = gs.Trainer(load_config({**cfg.to_dict(), "train": {**cfg.train.model_dump(),
                                                                 "steps": 8}}),
                         resume=evaluated.run_dir)
    (evaluated.run_dir / "evaluations.jsonl").write_text(
        (evaluated.run_dir / "evaluations.jsonl").read_text() + json.dumps({"step": 7}) + "\n")
    resumed.fit()
    steps = [json.loads(line)["step"] for line in
             (evaluated.run_dir / "evaluations.jsonl").read_text().splitlines()]
    assert steps == [4, 6, 8]


def test_resolve_validates_every_option_once_and_builds_from_the_typed_config(
        tmp_path, store, monkeypatch):  # noqa: F811
    """One validation of component options: check_config, called once by resolve; the
    components get its option models as they are, and its errors name the config file."""
    resolve_module = importlib.import_module("groupsup.train.resolve")
    data = config(tmp_path, store).to_dict()
    data["strategy"] = {"name": "centre-cover", "options": {"exact": False, "cycle_pairs": 1}}
    latent = {"term": "latent", "options": {"detach_target": False}}
    data["loss"] = {"recipe": None, "terms": [{"term": "recon"}, {"term": "swap"}, latent]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    calls = []
    check = resolve_module.check_config

    def counted(config, registries, where, sections):
        calls.append(list(sections))
        return check(config, registries, where, sections)

    monkeypatch.setattr(resolve_module, "check_config", counted)
    r = gs.resolve(load_config(path))
    assert calls == [["dataset", "model", "strategy", "loss"]]
    assert r.strategy.config is r.checked.strategy.options and r.strategy.config.exact is False
    assert r.model.backbone.config is r.checked.model.options
    assert r.recipe.terms[2].config is r.checked.loss.terms[2].options
    data["model"]["options"] = {"widht": 8}
    path.write_text(json.dumps(data))
    with pytest.raises(gs.ConfigError, match=rf"{path}: unknown key 'model.options.widht'"):
        gs.resolve(load_config(path))
