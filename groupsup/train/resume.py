"""What a resumed run may change: the config a checkpoint was trained with against the new one.

``groupsup train --resume RUN --set KEY=VALUE`` continues a run from its latest checkpoint. Some
options only steer how long and how visibly it goes on, and may change: the learning rate (the
optimiser and schedule are re-based on it), the step count and time budget, the log, sample
and checkpoint intervals, how many files are kept, progress display, threads, device, workers,
the image check and callbacks, and where the data now lies (``dataset.options`` paths). The
others define the run (model, schema, dataset and its split, strategy, loss, seed, the rest
of the optimiser): changing them would continue a different run from weights it never
trained, so a resume that changes one is refused in one line naming every such key.

:func:`resume_run` puts a run's latest checkpoint into a new trainer's state after these
checks (and the check that the data's labels are still those the model was trained on).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from groupsup.errors import ConfigError
from groupsup.train.checkpoint import Checkpoints, load_checkpoint

if TYPE_CHECKING:
    from groupsup.train.config import ExperimentConfig
    from groupsup.train.rundir import RunDirectory
    from groupsup.train.state import TrainState

MAY_CHANGE = frozenset({
    "name", "optim.lr", "train.steps", "train.time_budget", "train.log_every",
    "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints",
    "train.keep_samples", "train.progress", "train.threads", "train.tensorboard",
    "train.num_workers", "train.check_images", "train.device", "train.callbacks", "train.out",
})
# dataset.options keys that say where the data lies or how it is read, not what it is
DATA_LOCATION = frozenset({"root", "path", "store", "cache_dir", "progress", "workers"})


def rebase_rate(scheduler: Any, rate: float, factor: float) -> None:
    """Make a ``LambdaLR`` *scheduler* (and its optimiser) run from base rate *rate* on: its
    state, restored from a checkpoint, holds the old base rate; *factor* is the schedule's
    factor at the current step."""
    scheduler.base_lrs = [rate for _ in scheduler.optimizer.param_groups]
    for group in scheduler.optimizer.param_groups:
        group["initial_lr"] = rate
        group["lr"] = rate * factor


def schema_difference(saved: Mapping[str, Any], now: Mapping[str, Any]) -> str:
    """What differs between two schemas' ``to_dict()``, for a one-line message."""
    old = {a["name"]: a for a in saved.get("attributes", [])}
    new = {a["name"]: a for a in now.get("attributes", [])}
    if list(old) != list(new):
        return f"attributes {list(old)} then, {list(new)} now"
    for name in old:
        if old[name] != new[name]:
            before, after = old[name].get("values"), new[name].get("values")
            if before != after:
                gone = [v for v in before or [] if v not in (after or [])][:5]
                new_ = [v for v in after or [] if v not in (before or [])][:5]
                detail = (f"{gone} no longer, {new_} new" if gone or new_ else
                          "the same values in another order")
                return f"attribute {name!r} had values {_few(before)}, now {_few(after)}: {detail}"
            return f"attribute {name!r} was {old[name]}, now {new[name]}"
    return "the unlabelled block differs"


def _few(values: Any, shown: int = 6) -> str:
    values = list(values or [])
    return (str(values) if len(values) <= shown
            else f"[{', '.join(map(repr, values[:shown]))}, ... ({len(values)} in all)]")


def _flatten(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and name not in MAY_CHANGE:
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def may_change(key: str) -> bool:
    """Whether the dotted config *key* may differ between a checkpoint and its resume."""
    if key in MAY_CHANGE:
        return True
    parts = key.split(".")
    return len(parts) == 3 and parts[:2] == ["dataset", "options"] and parts[2] in DATA_LOCATION


def resume_changes(saved: Mapping[str, Any], new: Mapping[str, Any], run: str
                   ) -> dict[str, tuple[Any, Any]]:
    """The changes from *saved* (the checkpoint's config) to *new* that a resume may make,
    as ``{key: (old, new)}``; any other change is a :class:`ConfigError` naming each key."""
    old, now = dict(_flatten(saved)), dict(_flatten(new))
    # a key the checkpoint's config lacks came with a later version, at its default
    changed = {k: (old[k], now.get(k)) for k in old if old[k] != now.get(k)}
    refused = {k: v for k, v in changed.items() if not may_change(k)}
    if refused:
        listed = "; ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in refused.items())
        raise ConfigError(
            f"--resume {run}: {listed}: a resumed run keeps its model, schema, dataset, "
            "strategy, loss, seed and optimiser (only optim.lr, the step count, time budget, "
            "intervals, display, device and data paths may change); start a new run instead")
    return {k: v for k, v in changed.items() if k != "train.out"}


def resume_run(run: RunDirectory, config: ExperimentConfig, state: TrainState,
               checkpoints: Checkpoints) -> None:
    """Restore *run*'s latest checkpoint into *state* once *config* and the data's labels
    are found to continue it (a :class:`ConfigError` naming what differs otherwise); rank 0
    drops what the steps after the checkpoint wrote, which run again."""
    path, main = run.path, state.runtime.is_main
    found = load_checkpoint(path, map_location=state.runtime.device)
    saved = found.meta.get("config")
    changes = (resume_changes(saved, config.to_dict(), str(path))
               if isinstance(saved, dict) else {})
    schema, now = found.meta.get("schema"), state.model.schema.to_dict()
    if isinstance(schema, dict) and ({**schema, "name": None} != {**now, "name": None}):
        raise ConfigError(f"--resume {path}: the data's labels no longer match the run's "
                          f"({schema_difference(schema, now)}); "
                          "the checkpoint's blocks were trained on the old values: start "
                          "a new run")
    checkpoints.restore(state, found)
    if "optim.lr" in changes:  # the optimiser's state holds the old rate: re-base it
        rebase_rate(state.scheduler, config.optim.lr, state.learning_rate.factor(state.step))
    if changes and main:
        print(f"resuming {path} at step {state.step} with "
              + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items()),
              file=sys.stderr, flush=True)
    if main:  # the steps after the checkpoint are run (and logged) again
        run.rewind(state.step)
