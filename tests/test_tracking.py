"""The `mlflow` callback against a real local MLflow store (SQLite, artifacts on disk): params
from the config, metrics at their steps, files and the model as artifacts, a resume that
continues the same MLflow run, an evaluation added afterwards, and the run's end status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Toy, toy_images, toy_labels

import groupsup as gs
from groupsup.cli import main
from groupsup.train.tracking import TRACKING_FILE, flatten, log_evaluation, scalars

mlflow = pytest.importorskip("mlflow")

TINY_EVAL = ["--max-examples", "8", "--classifier-steps", "2", "--leakage-examples", "4",
             "--code-metrics", ""]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{root / 'mlflow.db'}"


def _config(tmp_path, store, steps=4, **callback):
    data = tmp_path / "data"
    if not data.exists():
        labels = toy_labels()
        gs.GroupDataset.from_arrays(Toy, toy_images(labels), labels).write_store(data)
    return gs.load_config({
        "name": "tracked", "dataset": {"name": "store", "options": {"path": str(data)}},
        "model": {"backbone": "conv-small", "options": {"width": 4, "max_width": 8}},
        "train": {"steps": steps, "log_every": 2, "groups_per_step": 2, "progress": "off",
                  "out": str(tmp_path / "run"),
                  "callbacks": [{"name": "mlflow", "tracking_uri": store, **callback}]}})


def test_a_tracked_run_logs_params_metrics_and_the_model(tmp_path, store):
    result = gs.Trainer(_config(tmp_path, store)).fit()
    record = json.loads((result.run_dir / TRACKING_FILE).read_text())["mlflow"]
    client = mlflow.MlflowClient(store)
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    # the artifacts lie beside the SQLite store, not in the folder the run started in
    database = Path(store.removeprefix("sqlite:///"))
    assert run.info.artifact_uri.startswith((database.parent / "mlartifacts").as_uri())
    assert not (Path.cwd() / "mlruns").exists()
    assert client.get_experiment(run.info.experiment_id).name == "tracked"
    assert run.data.params["optim.lr"] == "0.001"
    assert run.data.params["model.backbone"] == "conv-small"
    history = client.get_metric_history(record["run_id"], "loss")
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text()
              .splitlines()]
    assert [m.step for m in history] == [2, 4] == [r["step"] for r in logged]
    assert [m.value for m in history] == pytest.approx([r["loss"] for r in logged])
    assert {"recon", "swap", "cover", "lr"} <= set(run.data.metrics)
    files = {a.path for a in client.list_artifacts(record["run_id"])}
    assert {"config.json", "metrics.jsonl", "model", "samples"} <= files
    model_files = {a.path for a in client.list_artifacts(record["run_id"], "model")}
    assert {"model/config.json", "model/model.safetensors", "model/README.md"} <= model_files
    # the logged model loads: the artifact folder is a model folder
    local = client.download_artifacts(record["run_id"], "model", str(tmp_path / "dl"))
    assert gs.load_model(local).partition.names == ("shape", "color", "position")


def test_a_resume_continues_the_same_mlflow_run_and_an_evaluation_joins_it(tmp_path, store,
                                                                           capsys):
    first = gs.Trainer(_config(tmp_path, store)).fit()
    run_id = json.loads((first.run_dir / TRACKING_FILE).read_text())["mlflow"]["run_id"]
    gs.Trainer(_config(tmp_path, store, steps=6), resume=first.run_dir).fit()
    client = mlflow.MlflowClient(store)
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [2, 4, 6]
    assert client.get_run(run_id).info.status == "FINISHED"
    assert main(["evaluate", str(first.run_dir), *TINY_EVAL, "--track", "mlflow"]) == 0
    assert f"added to MLflow run {run_id}" in capsys.readouterr().out
    run = client.get_run(run_id)
    assert 0 <= run.data.metrics["eval/swap_accuracy.all_correct"] <= 1
    assert [m.step for m in client.get_metric_history(run_id, "eval/synthesis.ssim")] in (
        [6], [])  # a run without held-out combinations has no synthesis rows
    assert {a.path for a in client.list_artifacts(run_id, "evaluation")} == {
        "evaluation/001"}


def test_the_command_line_flag_adds_the_callback_once(tmp_path, store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    config = _config(tmp_path, store)
    config.train.callbacks = []
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert main(["train", str(path), "--track", "mlflow", "--set", "train.steps=2"]) == 0
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert [c["name"] for c in stored["train"]["callbacks"]] == ["mlflow"]


def test_a_failing_run_ends_its_mlflow_run_failed(tmp_path, store):
    from groupsup.train.callbacks import Callback

    class Boom(Callback):
        def on_step_end(self, loop, values, batch):
            raise RuntimeError("boom")

    trainer = gs.Trainer(_config(tmp_path, store), callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit()
    run_id = json.loads((tmp_path / "run" / TRACKING_FILE).read_text())["mlflow"]["run_id"]
    assert mlflow.MlflowClient(store).get_run(run_id).info.status == "FAILED"


def test_an_untracked_run_cannot_take_an_evaluation(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(gs.ConfigError, match="was not trained with the mlflow callback"):
        log_evaluation(tmp_path / "run", tmp_path, {})


def test_flatten_and_scalars():
    assert dict(flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": {}})) == {
        "a.b": "1", "a.c": "[1, 2]", "d": "x", "e": "{}"}
    assert len(dict(flatten({"long": "x" * 7000}))["long"]) == 6000
    assert dict(scalars({"a": {"b": 1.5, "c": [0.1, 0.2]}, "flag": True, "n": float("nan"),
                         "s": "text", "none": None})) == {"a.b": 1.5, "a.c.0": 0.1,
                                                          "a.c.1": 0.2}
