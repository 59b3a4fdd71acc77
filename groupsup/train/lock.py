"""The run directory's lock: one process trains into a run directory at a time.

:class:`RunLock` holds ``RUN/run.lock`` with :class:`filelock.FileLock` (``flock`` on POSIX,
``LockFileEx`` on Windows); the file also holds the owner's pid, host and start time for the
message a second process gets (on Windows the locked file cannot be read by another process, so
there the message names the file but not its holder). The operating system drops the lock when
its process dies (even on ``kill -9``), so a lock file left behind by a dead process is
recognised as stale, reported and taken over. The Fonts plugin's dataset writer locks its store
with the same library.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from groupsup.errors import DataError, GroupsupError, StorageError

LOCK_FILE = "run.lock"


class RunLockedError(GroupsupError):
    """The run directory is in use by another running process."""


def _describe(owner: dict[str, Any]) -> str:
    started = owner.get("started")
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "an unknown time")
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')} (started {when})"


def _write_at_start(fd: int, data: bytes) -> None:
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, 0)
        return
    os.lseek(fd, 0, os.SEEK_SET)  # Windows has no pwrite
    os.write(fd, data)


def _read_from_start(fd: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, 0)
    os.lseek(fd, 0, os.SEEK_SET)  # Windows has no pread
    return os.read(fd, size)


def _parse_owner(data: bytes) -> dict[str, Any]:
    """The owner record of a lock file's bytes (empty when none, ``?`` when unreadable)."""
    try:
        owner = json.loads(data.decode() or "{}")
    except ValueError:
        return {"pid": "?", "host": "?"}
    return owner if isinstance(owner, dict) else {}


class RunLock:
    """Exclusive ownership of a run directory by this process.

    ``acquire`` creates the directory if needed; a second ``acquire`` of a held lock is a
    no-op. The owner record is written into the locked file in place (on the descriptor
    filelock hands over once the lock is taken), never replaced by a rename: the lock belongs
    to the file's inode, and a new inode would be a second, unrelated lock.
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._lock: FileLock | None = None
        self._pid = os.getpid()
        self._created = False  # whether acquire made the run directory (release may remove it)

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`RunLockedError` naming its owner; report (on
        stderr) and take over a stale lock of a process that died."""
        if self.held:
            return
        try:
            self._created = self._created or not self.path.parent.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"{self.path}: cannot create the run directory's lock file "
                            f"({err.strerror})") from None
        lock = FileLock(self.path, blocking=False, thread_local=False,
                        on_acquired=self._record_owner)
        while True:
            try:
                lock.acquire()
            except Timeout:
                try:
                    owner = _parse_owner(self.path.read_bytes())
                except FileNotFoundError:  # its holder released and removed it meanwhile
                    continue
                except OSError:  # locked against reading (Windows)
                    owner = {}
                raise RunLockedError(
                    f"{self.path.parent}: in use by {_describe(owner)}; wait for that run to "
                    f"end or stop it (lock file {self.path})") from None
            except StorageError:  # from _record_owner: filelock has let go already
                raise
            except OSError as err:
                raise DataError(f"{self.path}: cannot create the run directory's lock file "
                                f"({err.strerror})") from None
            self._lock, self._pid = lock, os.getpid()
            return

    def _record_owner(self, fd: int) -> None:
        """Called by filelock with the locked file's descriptor: report a stale owner, write
        ours; on a failed write (a full disk, a quota) filelock lets go of the lock again."""
        size = os.fstat(fd).st_size
        stale = _parse_owner(_read_from_start(fd, size)) if size else {}
        if stale:
            print(f"groupsup: warning: {self.path.parent}: taking over the stale lock of "
                  f"{_describe(stale)}, which ended without releasing it", file=sys.stderr)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            os.ftruncate(fd, 0)
            _write_at_start(fd, (json.dumps(owner) + "\n").encode())
        except OSError as err:
            raise StorageError(f"{self.path}: cannot record this run's lock ({err.strerror}); "
                               "nothing was changed in the run") from None

    def release(self) -> None:
        """Remove the lock file and drop the lock. On POSIX the file is unlinked while still
        locked, so that nobody can lock the old inode after we let go (a process that opened
        it before finds it gone and tries the current file); on Windows, which cannot unlink an
        open file, filelock removes it after letting go. A run directory that :meth:`acquire`
        created and that is empty now (a run that failed while starting) is removed too."""
        if self._lock is None or os.getpid() != self._pid:
            return  # a forked child (a DataLoader worker) must not release its parent's lock
        lock, self._lock = self._lock, None
        try:
            if os.name != "nt":
                self.path.unlink(missing_ok=True)
        finally:
            lock.release()
        if self._created:
            with contextlib.suppress(OSError):  # not empty: the run wrote files, keep them
                self.path.parent.rmdir()

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
