"""The run directory's lock: one process trains into a run directory at a time.

:class:`RunLock` holds an exclusive lock on ``RUN/run.lock`` (``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows, each imported only when a lock is taken, so importing groupsup
needs neither); the file also holds the owner's pid, host and start time for the message a
second process gets. The operating system drops the lock when its process dies (even on
``kill -9``), so a lock file left behind by a dead process is recognised as stale, reported
and taken over.
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

from groupsup.errors import DataError, GroupsupError, StorageError

LOCK_FILE = "run.lock"
_WINDOWS = os.name == "nt"
# msvcrt locks a byte range: one byte far past the owner record, so that a second process
# can still read who holds the lock
_WINDOWS_LOCK_OFFSET = 1 << 20
_BINARY = getattr(os, "O_BINARY", 0)  # Windows opens in text mode (newlines translated) without


class RunLockedError(GroupsupError):
    """The run directory is in use by another running process."""


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock of *fd* without waiting; False when another process holds it."""
    if _WINDOWS:
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if _WINDOWS:
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


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


def _describe(owner: dict[str, Any]) -> str:
    started = owner.get("started")
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float)) else "an unknown time")
    return f"pid {owner.get('pid', '?')} on host {owner.get('host', '?')} (started {when})"


class RunLock:
    """Exclusive ownership of a run directory by this process.

    ``acquire`` creates the directory if needed; a second ``acquire`` of a held lock is a
    no-op. The lock file is written in place, never replaced by a rename: the lock belongs
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
        fd = self._lock_current_file()
        stale = self._read(fd)
        if stale:
            print(f"groupsup: warning: {self.path.parent}: taking over the stale lock of "
                  f"{_describe(stale)}, which ended without releasing it", file=sys.stderr)
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            os.ftruncate(fd, 0)
            _write_at_start(fd, (json.dumps(owner) + "\n").encode())
        except OSError as err:  # a full disk, a quota: name the file, keep nothing locked
            _unlock(fd)
            os.close(fd)
            raise StorageError(f"{self.path}: cannot record this run's lock ({err.strerror}); "
                               "nothing was changed in the run") from None
        self._fd, self._pid = fd, os.getpid()

    def _lock_current_file(self) -> int:
        """Open and lock the lock file; returns its descriptor."""
        while True:
            try:
                self._created = self._created or not self.path.parent.exists()
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
            except OSError as err:
                raise DataError(f"{self.path}: cannot create the run directory's lock file "
                                f"({err.strerror})") from None
            try:
                locked = _try_lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked:
                owner = self._read(fd)
                os.close(fd)
                raise RunLockedError(
                    f"{self.path.parent}: in use by {_describe(owner)}; wait for that run to "
                    f"end or stop it (lock file {self.path})")
            # the holder may have released and unlinked the file between our open and our
            # lock: then we locked a deleted inode, and must retry on the current file
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file and drop the lock (unlink first, so that nobody can lock
        the old inode after we let go; Windows cannot unlink an open file, so there the lock
        goes first). A run directory that :meth:`acquire` created and that is empty now (a
        run that failed while starting) is removed too."""
        if self._fd is None or os.getpid() != self._pid:
            return  # a forked child (a DataLoader worker) must not release its parent's lock
        fd, self._fd = self._fd, None
        if _WINDOWS:
            _unlock(fd)
            os.close(fd)
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
        else:
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
            data = json.loads(_read_from_start(fd, size).decode() or "{}") if size else {}
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
