"""The evaluation as a loop over registered steps (``register_evaluations``), and the flags of
``groupsup evaluate`` and ``groupsup compare`` derived from ``EvalOptions``."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import Toy, toy_config, toy_images, toy_labels

import groupsup as gs
from groupsup.plugins import PluginHost
from groupsup.runs.context import EvalContext
from groupsup.runs.evaluate import evaluation_steps

TINY = gs.EvalOptions(max_examples=8, classifier_steps=2, leakage_examples=8,
                      coprediction_examples=48, code_metrics=("mig",), sheet_rows=2)

BUILT_IN = ["reconstruction", "judge", "synthesis", "swap_accuracy", "leakage", "coprediction",
            "codes", "headline"]

STEP_PLUGIN = """
import numpy as np
import groupsup as gs


class CodeSpread(gs.EvaluationStep):
    order = 80.0  # after the code metrics (70), before the headline (90)

    def run(self, ctx):
        return {"code_spread": {"std": float(np.std(ctx.codes)), "seen": list(ctx.metrics),
                                "scale": ctx.options.extra.get("scale", 1)}}


class Broken(gs.EvaluationStep):
    def applies(self, ctx):
        return ctx.options.extra.get("break", False)

    def run(self, ctx):
        raise ValueError("boom")


@gs.hookimpl
def register_evaluations(register):
    register("code_spread", CodeSpread(), description="spread of the training codes")
    register("broken", Broken())
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("steps")
    labels = toy_labels()
    data = gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels, name="toy")
    store = data.write_store(root / "store")
    config = gs.load_config(toy_config(store, root / "run"))
    return gs.Trainer(config).fit().run_dir


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> PluginHost:
    path = tmp_path_factory.mktemp("plugin") / "spread_step.py"
    path.write_text(STEP_PLUGIN)
    return PluginHost(entry_points=False, local=str(path))


def test_a_plugin_step_registered_through_the_hook_appears_in_metrics_json(run_dir, host):
    options = TINY.model_copy(update={"extra": {"scale": 3}})
    metrics = gs.evaluate_run(run_dir, options=options, progress=False, report=False,
                              registries=host, out=run_dir / "eval-plugin")
    written = json.loads((run_dir / "eval-plugin" / "metrics.json").read_text())
    keys = list(written)
    assert keys.index("disentanglement") < keys.index("code_spread") < keys.index("headline")
    spread = written["code_spread"]
    assert spread["std"] > 0 and spread["scale"] == 3
    assert spread["seen"][-2:] == ["coprediction", "disentanglement"]  # earlier steps' entries
    assert written["evaluation"]["extra"] == {"scale": 3}
    assert metrics["code_spread"] == spread


def test_a_failing_step_names_itself(run_dir, host):
    options = TINY.model_copy(update={"extra": {"break": True}})
    with pytest.raises(gs.PluginError, match=r"evaluation step 'broken' \(plugin "
                                             r"'spread_step'\) failed: ValueError: boom"):
        gs.evaluate_run(run_dir, options=options, progress=False, report=False,
                        registries=host, out=run_dir / "eval-broken")


def test_a_failing_built_in_step_keeps_its_error_type_and_names_itself(run_dir):
    options = TINY.model_copy(update={"code_metrics": ("leakage",)})
    with pytest.raises(gs.ConfigError, match="evaluation step 'codes': code_metrics names "
                                             "'leakage', an evaluation step and no code metric"):
        gs.evaluate_run(run_dir, options=options, progress=False, report=False,
                        out=run_dir / "eval-codes")


def _context(run_dir: Path, registries) -> EvalContext:
    model = gs.load_model(run_dir)
    data = gs.GroupDataset.from_store(gs.load_config(run_dir / "config.json")
                                      .dataset.options["path"])
    return EvalContext(run_dir=run_dir, config=gs.load_config(run_dir / "config.json"),
                       model=model, full=data, dataset=data, train=np.arange(len(data)),
                       test=None, out=run_dir, options=TINY, rng=np.random.default_rng(0),
                       registries=registries)


def test_the_built_in_steps_run_in_their_order_and_skip_what_does_not_apply(run_dir, host):
    """A model without an unlabelled block, on the dataset it was trained with: no
    ``unnamed_attributes`` nor ``free_block``; a plugin's step follows its ``order``."""
    names = [e.name for e in evaluation_steps(_context(run_dir, gs.get_host()))]
    assert [n for n in names if n in BUILT_IN] == BUILT_IN
    names = [e.name for e in evaluation_steps(_context(run_dir, host))]
    assert names.index("codes") < names.index("code_spread") < names.index("headline")
    assert "broken" not in names  # its applies() says no


def test_registries_without_evaluation_steps_are_refused(run_dir):
    with pytest.raises(gs.ConfigError, match="hold no evaluation steps"):
        evaluation_steps(_context(run_dir, gs.RegistrySet()))
    odd = gs.RegistrySet()
    odd.register("evaluations", "odd", object())
    with pytest.raises(gs.PluginError, match=r"evaluation 'odd' .* neither an EvaluationStep"):
        evaluation_steps(_context(run_dir, odd))


# ------------------------------------------------------------------------ derived flags


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    gs.get_host().commands.get(command).configure(parser)
    return parser


@pytest.mark.parametrize("command", ["evaluate", "compare"])
def test_every_eval_option_has_a_flag_with_the_fields_default(command):
    parser = _parser(command)
    flags = {a.dest: a for a in parser._actions}
    for name, field in gs.EvalOptions.model_fields.items():
        action = flags[name]
        assert action.option_strings == ["--" + name.replace("_", "-")]
        assert field.description and field.description in action.help
    required = ["RUN"] if command == "evaluate" else ["c.json", "--budget", "1", "--out", "o"]
    assert gs.EvalOptions.from_flags(parser.parse_args(required)) == gs.EvalOptions()


def test_flags_are_read_back_into_options_and_checked():
    parser = _parser("evaluate")
    args = parser.parse_args(["RUN", "--max-examples", "7", "--code-metrics", "mig, sap",
                              "--classifier-budget", "2.5", "--judge-data", "train",
                              "--extra", "scale=3", "--extra", "name=x"])
    options = gs.EvalOptions.from_flags(args)
    assert options.max_examples == 7 and options.code_metrics == ("mig", "sap")
    assert options.classifier_budget == 2.5 and options.judge_data == "train"
    assert options.extra == {"scale": 3, "name": "x"}
    with pytest.raises(SystemExit):  # argparse refuses a value outside the choices
        parser.parse_args(["RUN", "--judge-data", "some"])
    with pytest.raises(gs.ConfigError, match="judge_holdout"):
        gs.EvalOptions.from_flags(parser.parse_args(["RUN", "--judge-holdout", "1.5"]))


def test_a_runs_evaluate_table_sets_defaults_that_flags_override(run_dir, tmp_path):
    from groupsup.cli import main

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    config = json.loads((run / "config.json").read_text())
    config["evaluate"] = {"classifier_steps": 3, "max_examples": 8, "sheet_rows": 2,
                          "leakage_examples": 8, "coprediction_examples": 48,
                          "code_metrics": ["mig"]}
    (run / "config.json").write_text(json.dumps(config))
    parser = _parser("evaluate")
    defaults = gs.EvalOptions.from_table(config["evaluate"], "config.json")
    options = gs.EvalOptions.from_flags(
        parser.parse_args([str(run), "--max-examples", "6"])).over(defaults)
    assert options.classifier_steps == 3 and options.code_metrics == ("mig",)
    assert options.max_examples == 6  # the flag wins
    assert options.judge_holdout == gs.EvalOptions().judge_holdout  # neither: the default
    assert main(["evaluate", str(run), "--sheet-rows", "1"]) == 0
    recorded = json.loads((run / "eval" / "001" / "metrics.json").read_text())["evaluation"]
    assert recorded["classifier_steps"] == 3 and recorded["sheet_rows"] == 1
    metrics = gs.evaluate_run(run, progress=False, report=False)  # Python: the table too
    assert metrics["evaluation"]["classifier_steps"] == 3
    assert metrics["evaluation"]["sheet_rows"] == 2
    given = gs.evaluate_run(run, progress=False, report=False,  # set options win over it
                            options=gs.EvalOptions(sheet_rows=1, extra={"a": 1}))
    assert given["evaluation"]["sheet_rows"] == 1 and given["evaluation"]["classifier_steps"] == 3


def test_an_evaluate_table_with_an_unknown_key_is_refused_naming_file_and_key(tmp_path):
    with pytest.raises(gs.ConfigError, match=r"c\.toml \[evaluate\].*classifier_step"):
        gs.EvalOptions.from_table({"classifier_step": 10}, "c.toml")
    with pytest.raises(gs.ConfigError, match=r"\[evaluate\].*judge_holdout"):
        gs.EvalOptions.from_table({"judge_holdout": 2.0})
