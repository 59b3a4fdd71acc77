"""The ``mlflow`` callback: follow a run in MLflow beside ``metrics.jsonl`` and TensorBoard.

Enabled by ``groupsup train CONFIG --track mlflow`` or in a config::

    [[train.callbacks]]
    name = "mlflow"
    tracking_uri = "sqlite:///mlflow.db"   # default: MLflow's own (MLFLOW_TRACKING_URI, ...)

What it records, on the training process of rank 0 only:

- at the start: an MLflow run in the experiment named after the config (``experiment``
  overrides), its parameters the config's keys flattened (``optim.lr``, ``model.backbone``,
  ...), its tags the run directory, groupsup's version and the machine; a resumed run
  continues the same MLflow run (its id is kept in ``RUN/tracking.json``);
- every logged step (``train.log_every``): the record ``metrics.jsonl`` gets (the loss, each
  term, the learning rate), at its step;
- at the end: ``config.json``, ``metrics.jsonl``, the latest sample sheets and training curves
  and, with ``log_model`` (default), the trained model as a model folder under ``model/``
  (:mod:`groupsup.pretrained`: weights, ``config.json``, a model card); the
  run ends FINISHED, KILLED (interrupted or terminated) or FAILED (an error).

:func:`log_evaluation` adds an evaluation (``groupsup evaluate RUN --track mlflow`` calls it):
its scalar metrics under ``eval/`` and its folder (``metrics.json``, sheets, report) as
artifacts. MLflow is an optional extra: ``pip install 'groupsup[mlflow]'``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groupsup.errors import ConfigError
from groupsup.fileio import atomic_write_text
from groupsup.groups import GroupBatch
from groupsup.hookspecs import Register, hookimpl
from groupsup.train.callbacks import Callback
from groupsup.train.loop import Loop
from groupsup.version import __version__

TRACKING_FILE = "tracking.json"
# MLflow caps a parameter value at 6,000 characters (longer ones are cut, and said so)
PARAM_LIMIT = 6000
CUT = " ... (cut)"
_FINISHED = {None, "steps", "until", "time_budget"}
# sections of an evaluation's metrics.json that describe it rather than measure the model
NOT_MEASURES = {"run", "out", "config", "evaluation", "machine", "training_machine", "timing",
                "dataset"}


def mlflow_client(tracking_uri: str | None) -> Any:
    """An ``mlflow.MlflowClient`` for *tracking_uri*; a clear line when MLflow is missing."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise ConfigError("callback 'mlflow' needs MLflow: pip install 'groupsup[mlflow]'"
                          ) from None
    return MlflowClient(tracking_uri)


def flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, value as text)`` for every leaf of a nested config; lists as JSON."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            yield name, (text if len(text) <= PARAM_LIMIT
                         else text[:PARAM_LIMIT - len(CUT)] + CUT)


def scalars(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every finite number of a nested metrics dict, under its dotted key (lists of numbers
    under ``key.0``, ``key.1``, ...; booleans and strings left out)."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from scalars(value, f"{name}.")
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, (int, float)):
            if value == value and abs(value) != float("inf"):
                yield name, float(value)
        elif isinstance(value, list) and value and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            yield from scalars({str(i): v for i, v in enumerate(value)}, f"{name}.")


class MlflowTracking(Callback):
    """Logs the run's parameters, metrics and files to MLflow (module docstring)."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

        tracking_uri: str | None = Field(None, description="where MLflow stores runs "
                                         "(e.g. sqlite:///mlflow.db or http://host:5000); "
                                         "default: MLflow's own (MLFLOW_TRACKING_URI)")
        experiment: str | None = Field(None, description="MLflow experiment; default the "
                                       "config's name")
        run_name: str | None = Field(None, description="default: the run directory's name")
        log_model: bool = Field(True, description="the trained model as a model folder "
                                "(weights, config.json, model card) under model/")
        log_samples: bool = Field(True, description="the latest sample sheets and curves")

    def on_fit_start(self, loop: Loop) -> None:
        self.client = None
        if not loop.is_main:
            return
        cfg: MlflowTracking.Config = self.config  # type: ignore[assignment]
        self.client = mlflow_client(cfg.tracking_uri)
        self.run_id = self._resume_or_create(loop, cfg)

    def _resume_or_create(self, loop: Loop, cfg: Config) -> str:
        from mlflow.entities import Param

        record = _read_tracking(loop.run_dir)
        if record is not None:
            self.client.update_run(record["run_id"], status="RUNNING")
            return record["run_id"]
        name = cfg.experiment or loop.config.name
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else self.client.create_experiment(
            name, artifact_location=_artifact_location(self.client.tracking_uri))
        run = self.client.create_run(experiment, run_name=cfg.run_name or loop.run_dir.name,
                                     tags={"groupsup.run_dir": str(loop.run_dir.resolve()),
                                           "groupsup.version": __version__,
                                           "groupsup.machine": platform.node()})
        params = [Param(k, v) for k, v in flatten(loop.config.to_dict())]
        for start in range(0, len(params), 100):  # MLflow's batch limit
            self.client.log_batch(run.info.run_id, params=params[start:start + 100])
        atomic_write_text(loop.run_dir / TRACKING_FILE, json.dumps({"mlflow": {
            "run_id": run.info.run_id, "experiment_id": experiment,
            "tracking_uri": self.client.tracking_uri}}, indent=2) + "\n")
        return run.info.run_id

    def on_step_end(self, loop: Loop, values: dict[str, float], batch: GroupBatch) -> None:
        record = loop.last
        if self.client is None or record.get("step") != loop.step:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, loop.step) for key, value in scalars(record)
                   if key not in ("step", "time")]
        self.client.log_batch(self.run_id, metrics=metrics)

    def on_fit_end(self, loop: Loop) -> None:
        if self.client is None:
            return
        cfg: MlflowTracking.Config = self.config  # type: ignore[assignment]
        for name in ("config.json", "metrics.jsonl", "split.json", "partners.json"):
            if (loop.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(loop.run_dir / name))
        if cfg.log_samples:
            for sheet in _latest_sheets(loop.run_dir):
                self.client.log_artifact(self.run_id, str(sheet), "samples")
        if cfg.log_model:
            self._log_model(loop)
        status = "FINISHED" if loop.stopped in _FINISHED else "KILLED"
        self.client.set_terminated(self.run_id, status)
        self.client = None

    def _log_model(self, loop: Loop) -> None:
        """The trained model as a model folder (:func:`groupsup.pretrained.save_pretrained`:
        weights, config.json, a model card) under the artifact path ``model/``."""
        import tempfile

        from groupsup.pretrained import save_pretrained

        with tempfile.TemporaryDirectory() as tmp:
            folder = save_pretrained(loop.model, Path(tmp) / "model", run=loop.run_dir)
            self.client.log_artifacts(self.run_id, str(folder), "model")

    def close(self, loop: Loop) -> None:
        # called before the last checkpoint; with an error on its way (on_fit_end will not
        # come), the MLflow run ends FAILED here
        if self.client is not None and sys.exc_info()[0] is not None:
            self.client.set_terminated(self.run_id, "FAILED")
            self.client = None


def _artifact_location(tracking_uri: str) -> str | None:
    """Beside a local SQLite store, its artifacts (``mlartifacts/`` next to the database
    file) rather than MLflow's default, ``./mlruns`` in whatever folder the run started in;
    elsewhere the tracking server's own default (``None``)."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    if not database.is_absolute():
        database = Path.cwd() / database
    return (database.parent / "mlartifacts").as_uri()


def _read_tracking(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / TRACKING_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())["mlflow"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"{path}: not a tracking record of groupsup (delete it to start a "
                          "new MLflow run)") from None


def _latest_sheets(run_dir: Path) -> list[Path]:
    samples = sorted((run_dir / "samples").glob("*.png"), key=os.path.getmtime)
    curves = sorted(run_dir.glob("curves*.png"))
    return samples[-1:] + curves


def _checkpoint_step(checkpoint: str | None, run_dir: Path) -> int:
    """The step of the evaluated checkpoint, from its ``meta.json`` (the run's latest when the
    evaluation names none)."""
    from groupsup.persistence import META_FILE, find_checkpoint, read_meta

    folder = Path(checkpoint) if checkpoint else find_checkpoint(run_dir)
    return read_meta(folder / META_FILE)["step"]


def log_evaluation(run_dir: str | os.PathLike, eval_dir: str | os.PathLike,
                   metrics: Mapping[str, Any]) -> str:
    """Add an evaluation of a tracked run (one trained with the ``mlflow`` callback) to its
    MLflow run: the scalar *metrics* under ``eval/`` and the files of *eval_dir* as artifacts
    under ``evaluation/<folder name>``. Returns the MLflow run id."""
    from mlflow.entities import Metric

    run_dir, eval_dir = Path(run_dir), Path(eval_dir)
    record = _read_tracking(run_dir)
    if record is None:
        raise ConfigError(f"{run_dir}: was not trained with the mlflow callback (no "
                          f"{TRACKING_FILE}); train with --track mlflow first")
    client = mlflow_client(record["tracking_uri"])
    step = _checkpoint_step(metrics.get("evaluation", {}).get("checkpoint"), run_dir)
    measures = {k: v for k, v in metrics.items() if k not in NOT_MEASURES}
    now = int(time.time() * 1000)
    batch = [Metric(f"eval/{k}", v, now, step) for k, v in scalars(measures)]
    for start in range(0, len(batch), 1000):
        client.log_batch(record["run_id"], metrics=batch[start:start + 1000])
    client.log_artifacts(record["run_id"], str(eval_dir), f"evaluation/{eval_dir.name}")
    return record["run_id"]


@hookimpl
def register_callbacks(register: Register) -> None:
    register("mlflow", MlflowTracking, description="log parameters, metrics, sheets and the "
             "model to MLflow (pip install 'groupsup[mlflow]')")
