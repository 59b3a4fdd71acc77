"""Ownership of a run directory: one process at a time, never two runs mixed in one folder.

- :class:`RunDirectory`: a run's folder, locked (:class:`~groupsup.train.lock.RunLock`) and
  claimed for a new run (refusing a previous run's files unless overwriting) or a resume
  (refusing a run without a checkpoint); it writes the run's description files and, on
  resume, drops what the steps after the checkpoint wrote.
- :func:`previous_run_files`, :func:`clear_run`: what a previous run left in a directory,
  and the ``--overwrite`` that removes exactly that (nothing else the folder holds).
- :func:`truncate_metrics`: a resumed run drops the log lines of the steps it repeats.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from groupsup.errors import ConfigError, GroupsupError
from groupsup.fileio import atomic_write_text
from groupsup.persistence import LATEST
from groupsup.train.lock import RunLock
from groupsup.train.runtime import Runtime
from groupsup.train.samples import remove_sheets_after

# everything a run (or `groupsup evaluate` on it) writes into its directory
RUN_FILES = ("config.json", "schema.json", "split.json", "metrics.jsonl", "evaluations.jsonl",
             "samples", "checkpoints", "tensorboard", "training_curves.png", "eval")


def previous_run_files(run_dir: str | os.PathLike) -> list[Path]:
    """The files and folders of a previous run in *run_dir* (empty for a fresh directory)."""
    run_dir = Path(run_dir)
    return [run_dir / name for name in RUN_FILES if (run_dir / name).exists()]


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _first_record(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.loads(handle.readline() or "null")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def written_by_a_run(path: Path) -> bool:
    """Whether *path* (one of :data:`RUN_FILES` in a run directory) looks like what a groupsup
    run or evaluation writes there, by its content: a config with ``dataset`` and ``train``
    tables, JSON logs of steps, sample sheets named by step, checkpoint folders, ... A file of
    another origin that happens to share the name is not, and ``--overwrite`` keeps it."""
    name = path.name
    if path.is_symlink():
        return False
    if name == "config.json":
        return isinstance(doc := _json(path), dict) and {"dataset", "train"} <= set(doc)
    if name in ("schema.json", "split.json"):
        return isinstance(_json(path), dict)
    if name in ("metrics.jsonl", "evaluations.jsonl"):
        record = _first_record(path)
        return path.stat().st_size == 0 or isinstance(record, dict)
    if name == "training_curves.png":
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    if not path.is_dir():
        return False
    entries = list(path.iterdir())
    if name == "samples":
        return all(e.suffix == ".png" and e.name.startswith("step-") for e in entries)
    if name == "checkpoints":
        return all(e.name == "latest" or e.name.startswith(("step-", ".step-")) for e in entries)
    if name == "tensorboard":
        return all(e.name.startswith("events.out.tfevents") for e in entries)
    if name == "eval":
        return all(e.is_dir() or e.suffix in (".json", ".md", ".html", ".png")
                   for e in entries)
    return False


def clear_run(run_dir: str | os.PathLike) -> list[Path]:
    """Remove the previous run's files (only those, see :data:`RUN_FILES`) from *run_dir*.

    They are first moved together into one hidden folder and then deleted, so an
    interrupted clear never leaves a mix of old files that looks like a run. Returns what
    was removed.
    """
    run_dir = Path(run_dir)
    found = previous_run_files(run_dir)
    if not found:
        return []
    foreign = [p for p in found if not written_by_a_run(p)]
    if foreign:
        raise ConfigError(f"--overwrite would delete {', '.join(str(p) for p in foreign)}, "
                          f"which no groupsup run wrote (by its content); move it away or "
                          "choose another train.out")
    trash = Path(tempfile.mkdtemp(prefix=".overwritten-", dir=run_dir))
    for path in found:
        path.rename(trash / path.name)
    shutil.rmtree(trash)
    return found


def truncate_metrics(run_dir: str | os.PathLike, step: int, name: str = "metrics.jsonl") -> int:
    """Drop the records of ``RUN/<name>`` (``metrics.jsonl``) after *step* (and a torn last
    line), atomically.

    A run resumed from its step-*step* checkpoint repeats the steps after it, and would
    otherwise log them twice. Returns the number of lines dropped.
    """
    path = Path(run_dir) / name
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line torn by a crash mid-write
            continue
        if isinstance(record, dict) and record.get("step", 0) <= step:
            kept.append(line)
    if len(kept) < len(lines):
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))
    return len(lines) - len(kept)


class RunDirectory:
    """A run's folder, locked (``RUN/run.lock``) from :meth:`claim` to :meth:`release`."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.lock = RunLock(self.path)

    def claim(self, resuming: bool, overwrite: bool, runtime: Runtime) -> None:
        """Lock the directory (rank 0) and check that it suits a new run or a resume; every
        process raises the same error when it does not."""
        problem: GroupsupError | None = None
        if runtime.is_main:
            try:
                self.lock.acquire()
                self._check(resuming, overwrite)
            except GroupsupError as err:
                self.lock.release()
                problem = err
        problem = runtime.from_main(problem)
        if problem is not None:
            raise problem

    def _check(self, resuming: bool, overwrite: bool) -> None:
        run = self.path
        if resuming:
            if overwrite:
                raise ConfigError("--overwrite starts a new run; it cannot be combined with "
                                  f"--resume {run}")
            if not (run / "checkpoints" / LATEST).is_file():
                raise ConfigError(f"--resume {run}: the run holds no checkpoint (it stopped "
                                  "before its first); start it afresh with --overwrite")
            return
        found = previous_run_files(run)
        if found and not overwrite:
            raise ConfigError(
                f"train.out {str(run)!r} already holds a run "
                f"({', '.join(p.name for p in found)}); continue it with --resume {run}, "
                "start it afresh with --overwrite (deletes those files), or choose another "
                "train.out")
        if found:
            clear_run(run)
            print(f"groupsup: overwrote the previous run in {run} "
                  f"({', '.join(p.name for p in found)})", file=sys.stderr)

    def write(self, files: dict[str, Any]) -> None:
        """Write each ``{name: JSON-able document or text}`` into the directory atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2)
            atomic_write_text(self.path / name, text)

    def rewind(self, step: int) -> None:
        """Drop the log lines and sample sheets of the steps after *step*: a run resumed from
        its step-*step* checkpoint runs (and logs) them again."""
        truncate_metrics(self.path, step)
        remove_sheets_after(self.path / "samples", step)

    def release(self) -> None:
        self.lock.release()
