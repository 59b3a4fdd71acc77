"""Ownership of a run directory: one process at a time, never two runs mixed in one folder.

- :class:`RunLock`: an exclusive ``fcntl.flock`` on ``RUN/run.lock``, which also holds the
  owner's pid, host and start time for the message a second process gets. The operating
  system drops a flock when its process dies (even on ``kill -9``), so a lock file left
  behind by a dead process is recognised as stale, reported and taken over.
- :func:`previous_run_files`, :func:`clear_run`: what a previous run left in a directory,
  and the ``--overwrite`` that removes exactly that (nothing else the folder holds).
- :func:`truncate_metrics`: a resumed run drops the log lines of the steps it repeats.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from groupsup.errors import ConfigError, DataError, GroupsupError, StorageError
from groupsup.train.checkpoint import atomic_write_text

LOCK_FILE = "run.lock"
# everything a run (or `groupsup evaluate` on it) writes into its directory
RUN_FILES = ("config.json", "schema.json", "split.json", "metrics.jsonl", "evaluations.jsonl",
             "samples", "checkpoints", "tensorboard", "training_curves.png", "eval")


class RunLockedError(GroupsupError):
    """The run directory is in use by another running process."""


def _describe(owner: dict[str, Any]) -> str:
    started = owner.get("started")
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "an unknown time")
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')} (started {when})"


class RunLock:
    """Exclusive ownership of a run directory by this process.

    ``acquire`` creates the directory if needed; a second ``acquire`` of a held lock is a
    no-op. The lock file is written in place, never replaced by a rename: the flock belongs
    to the file's inode, and a new inode would be a second, unrelated lock.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None
        self._pid = os.getpid()
        self._created = False  # whether acquire made the run directory (release may remove it)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunLockedError` naming its owner; report (on
        stderr) and take over a stale lock of a process that died."""
        if self.held:
            return
        while True:
            try:
                self._created = self._created or not self.path.parent.exists()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as err:
                raise DataError(f"{self.path}: cannot create the run directory's lock file "
                                f"({err.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = self._read(fd)
                os.close(fd)
                raise RunLockedError(
                    f"{self.path.parent}: in use by {_describe(owner)}; wait for that run to "
                    f"end or stop it (lock file {self.path})") from None
            except BaseException:
                os.close(fd)
                raise
            # the holder may have released and unlinked the file between our open and our
            # flock: then we locked a deleted inode, and must retry on the current file
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stale = self._read(fd)
        if stale:
            print(f"groupsup: warning: {self.path.parent}: taking over the stale lock of "
                  f"{_describe(stale)}, which ended without releasing it", file=sys.stderr)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(owner) + "\n").encode(), 0)
        except OSError as err:  # a full disk, a quota: name the file, keep nothing locked
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise StorageError(f"{self.path}: cannot record this run's lock ({err.strerror}); "
                               "nothing was changed in the run") from None
        self._fd, self._pid = fd, os.getpid()

    def release(self) -> None:
        """Remove the lock file and drop the lock (unlink first, so that nobody can lock
        the old inode after we let go). A run directory that :meth:`acquire` created and that
        is empty now (a run that failed while starting) is removed too."""
        if self._fd is None or os.getpid() != self._pid:
            return  # a forked child (a DataLoader worker) must not release its parent's lock
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)
        if self._created:
            with contextlib.suppress(OSError):  # not empty: the run wrote files, keep them
                self.path.parent.rmdir()

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        """The owner recorded in the lock file (empty when none, or unreadable)."""
        try:
            size = os.fstat(fd).st_size
            data = json.loads(os.pread(fd, size, 0).decode() or "{}") if size else {}
        except (OSError, ValueError):
            return {"pid": "?", "host": "?"}
        return data if isinstance(data, dict) else {}

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


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
