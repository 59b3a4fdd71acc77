"""The plugin author's guide (docs/plugins.md) and its examples (examples/plugins/) stay true.

Each example loads through ``GROUPSUP_PLUGINS`` exactly as the guide says, shows up in
``groupsup plugins``, trains a few steps on 16 px images and synthesizes; the guide's excerpts
are verbatim copies of the example files, and the examples use only groupsup's public API.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import groupsup as gs
from groupsup.cli import main
from groupsup.plugins import reset_host

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "examples" / "plugins"
GUIDE = ROOT / "docs" / "plugins.md"

# example module -> what `groupsup plugins --json` must list it as registering
EXAMPLES = {
    "shapes_dataset": {"datasets": ["shapes"]},
    "mlp_backbone": {"backbones": ["mlp"]},
    "triplet_relation": {"strategies": ["triplets"], "losses": ["block-triplet"],
                         "recipes": ["triplet"]},
    "focus_edges": {"strategies": ["focus-edges"]},
    "block_spread": {"evaluations": ["block_spread"]},
    "plateau_stop": {"callbacks": ["plateau-stop"]},
}


@pytest.fixture
def load_examples(monkeypatch):
    """``load_examples("a", "b")`` points GROUPSUP_PLUGINS at those example files."""

    def load(*names: str) -> None:
        monkeypatch.setenv("GROUPSUP_PLUGINS", ",".join(str(PLUGINS / f"{n}.py") for n in names))
        reset_host()

    yield load
    reset_host()


@pytest.fixture
def shapes(load_examples) -> gs.GroupDataset:
    load_examples(*EXAMPLES)
    return gs.get_host().datasets.get("shapes").build({"image_size": 16, "copies": 1})


def _config(tmp_path: Path, out: Path, **sections: str) -> Path:
    """A tiny experiment on the shapes example: 16 px, 2 steps, one thread."""
    parts = {"dataset": 'name = "shapes"\noptions = { image_size = 16, copies = 1 }',
             "model": 'backbone = "conv-small"\noptions = { width = 8, max_width = 16 }',
             "train": f'steps = 2\ngroups_per_step = 2\nprogress = false\nthreads = 1\n'
                      f'out = "{out}"', **sections}
    path = tmp_path / "experiment.toml"
    path.write_text('name = "guide"\n' + "".join(f"[{k}]\n{v}\n" for k, v in parts.items()))
    return path


def _synthesizes(model: gs.SwapAutoencoder, data: gs.GroupDataset) -> None:
    """One image per attribute, recombined: ``(1, C, H, W)`` in ``[-1, 1]``."""
    sources = {name: data.load([i])[0] for i, name in enumerate(model.schema.names)}
    with torch.no_grad():
        out = model.eval().synthesize(sources)
    assert out.shape == (1, *data.image_shape) and out.abs().max() <= 1


def test_groupsup_plugins_lists_every_example(load_examples, capsys):
    load_examples(*EXAMPLES)
    assert main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    plugins = {p["plugin"]: p for p in listing["plugins"]}
    for name, registered in EXAMPLES.items():
        assert plugins[name]["source"] == "local" and plugins[name]["error"] is None
        assert plugins[name]["registered"] == registered
    assert not [p for p in listing["problems"] if any(n in p for n in EXAMPLES)]


def test_examples_import_only_the_public_api():
    public = set(gs.__all__)
    for name in EXAMPLES:
        tree = ast.parse((PLUGINS / f"{name}.py").read_text())
        imports = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for a in node.names]
        froms = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [m for m in imports + froms if m.split(".")[0] == "groupsup" and m != "groupsup"]
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name) and node.value.id == "gs"}
        assert used <= public, f"{name} uses non-public {sorted(used - public)}"


def test_dataset_example_trains_from_the_cli_and_synthesizes(shapes, tmp_path, capsys):
    assert len(shapes) == 18 and shapes.image_shape == (3, 16, 16)
    assert shapes.schema.names == ("shape", "colour", "position")
    assert main(["datasets", "shapes"]) == 0
    assert "image_size (int, >= 8, <= 256) = 16" in capsys.readouterr().out
    with pytest.raises(gs.ConfigError, match="image_sise"):
        gs.get_host().datasets.get("shapes").build({"image_sise": 16})
    run = tmp_path / "run"
    assert main(["train", str(_config(tmp_path, run))]) == 0
    paths = []
    for i, image in enumerate(shapes.load_uint8([0, 3, 1])):
        paths.append(tmp_path / f"source{i}.png")
        Image.fromarray(image).save(paths[-1])
    out = tmp_path / "synth.png"
    assert main(["synthesize", "--checkpoint", str(run), "--out", str(out),
                 *(f"--from={n}={p}" for n, p in zip(shapes.schema.names, paths))]) == 0
    assert Image.open(out).size == (16, 16)


def test_backbone_example_trains_from_the_cli(shapes, tmp_path):
    run = tmp_path / "run"
    config = _config(tmp_path, run, model='backbone = "mlp"\noptions = { hidden = 32 }')
    assert main(["train", str(config)]) == 0
    model = gs.load_model(run)
    assert type(model.backbone).__name__ == "MLPBackbone" and model.backbone.config.hidden == 32
    _synthesizes(model, shapes)
    with pytest.raises(gs.ConfigError, match="more than 12288 values; use a convolutional"):
        gs.build_model("mlp", shapes.schema, (3, 128, 128), {"hidden": 8})
    with pytest.raises(gs.ConfigError, match="hiden"):
        gs.build_model("mlp", shapes.schema, shapes.image_shape, {"hiden": 8})


def test_relation_example_trains_with_its_recipe(shapes, tmp_path, capsys):
    run = tmp_path / "run"
    config = _config(tmp_path, run, strategy='name = "triplets"', loss='recipe = "triplet"')
    assert main(["train", str(config)]) == 0
    _synthesizes(gs.load_model(run), shapes)
    batch = gs.get_host().strategies.get("triplets")(gs.MultiGraph(shapes)).sample(
        2, np.random.default_rng(0))
    t, labels = batch.relation("triplet"), shapes.labels[batch.examples]
    j = t["attribute"]
    assert len(t) == 2 * 3 and batch.validate(3) is batch
    assert (labels[t["anchor"], j] == labels[t["positive"], j]).all()
    assert (labels[t["anchor"], j] != labels[t["negative"], j]).all()
    assert main(["train", str(config), "--set", "loss.recipe=gsl",
                 "--set", f"train.out={tmp_path / 'run2'}"]) == 1
    assert re.search(r"'swap' needs \['swap'\].*provides only \['triplet'\]",
                     capsys.readouterr().err)


def test_strategy_example_swaps_only_the_chosen_attributes(shapes, tmp_path):
    strategy = gs.get_host().strategies.get("focus-edges")
    graph = gs.MultiGraph(shapes)
    batch = strategy(graph, {"attributes": ["colour"], "edges": 2}).sample(
        3, np.random.default_rng(0))
    pairs, labels = batch.swap_pairs, shapes.labels[batch.examples]
    assert len(pairs) == 6 and (batch.swap_attribute == 1).all()
    assert (labels[pairs[:, 0], 1] == labels[pairs[:, 1], 1]).all()
    with pytest.raises(gs.ConfigError, match="did you mean 'colour'"):
        strategy(graph, {"attributes": ["color"]})
    run = gs.train(gs.build_model("conv-small", shapes.schema, shapes.image_shape,
                                      {"width": 8, "max_width": 16}),
                   shapes, strategy="focus-edges", strategy_options={"attributes": ["colour"]},
                   losses=["recon", "swap"], steps=2, groups_per_step=2, out=tmp_path / "run",
                   progress=False, threads=1)
    assert run.step == 2 and {"recon", "swap"} <= set(run.last)
    _synthesizes(gs.load_model(tmp_path / "run"), shapes)
    with pytest.raises(gs.ConfigError, match=r"'cover' needs \['cover'\]"):
        gs.train(gs.build_model("conv-small", shapes.schema, shapes.image_shape,
                                    {"width": 8, "max_width": 16}),
                 shapes, strategy="focus-edges", steps=1, out=tmp_path / "run2", progress=False)


def test_evaluation_step_example_adds_its_entry_to_metrics_json(shapes, tmp_path):
    run = gs.train(gs.build_model("conv-small", shapes.schema, shapes.image_shape,
                                      {"width": 8, "max_width": 16}),
                   shapes, steps=2, groups_per_step=2, out=tmp_path / "run", progress=False,
                   threads=1, split="random-combinations")
    options = gs.EvalOptions(max_examples=8, classifier_steps=2, leakage_examples=8,
                             coprediction_examples=32, code_metrics=(),
                             extra={"collapsed_below": 1e9})
    metrics = gs.evaluate_run(run, dataset=shapes, options=options, progress=False,
                              report=False)
    spread = metrics["block_spread"]
    assert list(spread["spread"]) == list(gs.load_model(run.run_dir).partition.names)
    assert all(v > 0 for v in spread["spread"].values())
    assert spread["collapsed"] == list(spread["spread"])  # every block is below 1e9
    keys = list(metrics)
    assert keys.index("disentanglement") < keys.index("block_spread") < keys.index("headline")


def test_callback_example_stops_a_run_on_a_plateau(shapes, tmp_path):
    """min_delta 1.0 counts no drop as an improvement: after the first logged step sets the
    best loss, two more logged steps without one stop the run, which ends as any run does."""
    run = tmp_path / "run"
    config = _config(tmp_path, run).read_text().replace(
        "steps = 2\n", "steps = 50\nlog_every = 1\n")
    config += '[[train.callbacks]]\nname = "plateau-stop"\npatience = 2\nmin_delta = 1.0\n'
    (tmp_path / "plateau.toml").write_text(config)
    result = gs.Trainer(gs.load_config(tmp_path / "plateau.toml")).fit()
    assert result.stopped == "plateau" and result.step == 3
    assert gs.load_model(run) is not None  # the last step was checkpointed
    with pytest.raises(gs.ConfigError, match="patience"):
        gs.Trainer(gs.load_config(tmp_path / "plateau.toml",
                                  ["train.callbacks=[{name='plateau-stop', patience=0}]",
                                   f"train.out={tmp_path / 'other'}"]))


EXCERPT = re.compile(r"<!-- no-test: excerpt of (\S+) -->\s*\n```python\n(.*?)```", re.S)


def test_guide_excerpts_are_copied_from_the_examples():
    excerpts = EXCERPT.findall(GUIDE.read_text())
    assert {Path(path).stem for path, _ in excerpts} == set(EXAMPLES)
    for path, code in excerpts:
        source = (ROOT / path).read_text()
        assert textwrap.dedent(code) in source, f"docs/plugins.md excerpt of {path} has drifted"
