"""Atomic writes that honour the umask: the one way groupsup puts files and folders on disk.

A reader sees the old file or the new one, never half of one: data goes to a temporary
sibling, is fsynced, and is renamed over the target (``os.replace``). Outputs get the mode
any normal file would (``0644`` files and ``0755`` folders under umask ``022``):
``tempfile.mkstemp``/``mkdtemp`` would make them ``0600``/``0700``, and so would
``safetensors.torch.save_file``, which writes its own private temporary file. The umask is
never read with ``os.umask`` (setting it to read it races with other threads); the kernel
applies it when a file is created with mode ``0666`` or a folder with ``0777``.

A full disk (or quota) is reported as a :class:`~groupsup.errors.StorageError` naming the
file, and the previous file is left in place.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from groupsup.errors import ConfigError, StorageError

# public for plugin writers (docs/architecture.md, "Public API"); the rest may change
__all__ = [
    "STORE_FORMAT",
    "atomic_directory",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "replace_directory",
    "staging_directory",
    "store_manifest",
]

# the ``format`` of a store's manifest.json (GroupDataset.write_store / from_store)
STORE_FORMAT = "groupsup.store/1"

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# torch.save reports a failed write as a RuntimeError from its C++ zip writer
# ("[enforce fail at inline_container.cc:...] ... file write failed"), without the errno.
_FAILED_WRITE_TEXTS = ("No space left on device", "file write failed", "Disk quota exceeded")


def write_error(err: BaseException, path: str | os.PathLike) -> StorageError | None:
    """The one-line :class:`StorageError` for a failed write of *path*, or None if *err* is not
    one (a bug, an interrupt)."""
    if isinstance(err, OSError) and err.errno in _NO_SPACE:
        return StorageError(f"{path}: no space left on device ({os.strerror(err.errno)}); "
                            "free some space and run again")
    if isinstance(err, RuntimeError) and any(t in str(err) for t in _FAILED_WRITE_TEXTS):
        return StorageError(f"{path}: no space left on device (the write failed: "
                            f"{str(err).splitlines()[0]}); free some space and run again")
    return None


def _temporary_file(target: Path) -> tuple[Path, int]:
    """Create an empty, unique sibling of *target* with the umask-derived mode; ``(path, fd)``."""
    while True:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:  # a leftover of an earlier crash with the same pid and token
            continue


def _fsync_directory(folder: Path) -> None:
    """Persist a rename in *folder* (a no-op where directories cannot be opened, e.g. Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_save(path: str | os.PathLike, write: Callable[[Path], None],
                durable: bool = True) -> Path:
    """Call ``write(temporary_path)`` (e.g. ``image.save``, ``fig.savefig``), then fsync it and
    rename it onto *path*, with the mode a newly created file gets under the current umask.

    The writer may replace the temporary file (safetensors does, making it ``0600``): the mode
    is set again afterwards. On any failure the temporary file is removed and *path* is left as
    it was; a full disk raises :class:`StorageError` naming *path*. ``durable=False`` skips the
    fsyncs, for bulk writers (thousands of rendered PNGs) that re-check their files on resume:
    a crash of the process still leaves whole files only, a crash of the machine may not.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # mode 0777 & ~umask, like mkdir -p
    tmp, fd = _temporary_file(path)
    try:
        mode = os.fstat(fd).st_mode & 0o777
        os.close(fd)
        write(tmp)
        os.chmod(tmp, mode)
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        storage = write_error(err, path)
        if storage is not None:
            raise storage from None
        raise
    if durable:
        _fsync_directory(path.parent)
    return path


def replace_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Put the complete file *source* at *target* by a rename, replacing any old one: fsync it,
    ``os.replace`` it (same folder, so atomic), fsync the folder. For a file written in place
    over time, e.g. a resumable download's partial file, that cannot go through
    :func:`atomic_save`."""
    source, target = Path(source), Path(target)
    with open(source, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
    _fsync_directory(target.parent)
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> Path:
    """Write *data* to *path* atomically (see :func:`atomic_save`)."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return atomic_save(path, write, durable)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write *text* (UTF-8) to *path* atomically (see :func:`atomic_save`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def staging_directory(target: str | os.PathLike) -> Path:
    """A new empty sibling folder of *target*, umask-derived mode, to fill and then hand to
    :func:`replace_directory` (``tempfile.mkdtemp`` would make it ``0700``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staging = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.mkdir(staging, 0o777)
            return staging
        except FileExistsError:
            continue


def replace_directory(staging: Path, target: Path) -> None:
    """Put the complete directory *staging* at *target* by renames, replacing any old one.

    Readers see the old directory or the new one, never a half-written one.
    """
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    _fsync_directory(target.parent)


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces *target*, on failure it is removed.

    Files inside are best written with :func:`atomic_write_bytes` (fsynced, and a full disk
    names the file). A full disk names the file in *target* rather than in the staging folder.
    """
    target = Path(target)
    staging = staging_directory(target)
    try:
        yield staging
        replace_directory(staging, target)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, StorageError):
            raise StorageError(str(err).replace(str(staging), str(target))) from None
        raise


def store_manifest(name: str, size: int, image_shape: Sequence[int],
                   schema: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The ``manifest.json`` of a store: ``images.npy`` uint8 ``(N, H, W, C)`` and
    ``labels.npy`` int64 ``(N, A)`` beside it. *image_shape* is ``(C, H, W)``, *schema* the
    schema's ``to_dict()``; *extra* adds sections (a writer's provenance, say).
    ``GroupDataset.from_store`` opens such a store; a writer that fills ``images.npy``
    incrementally (a memory map) writes this last, once every image is in place."""
    return {"format": STORE_FORMAT, "name": name, "size": int(size),
            "image_shape": [int(d) for d in image_shape], "schema": dict(schema), **extra}


def read_json_with_format(path: Path, key: str, expected: Any, error: type[Exception],
                          missing: str) -> dict[str, Any]:
    """The JSON object at *path*, whose *key* must be *expected*; else an *error* that names
    *path* (*missing*: its message where the file does not exist)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise error(missing) from None
    except json.JSONDecodeError as err:
        raise error(f"{path}: corrupt JSON ({err})") from None
    if data.get(key) != expected:
        raise error(f"{path}: {key} {data.get(key)!r}, expected {expected!r}")
    return data


def refuse_taken_folder(target: Path, overwrite: bool) -> None:
    """Refuse to write a folder at *target* that exists and is not empty (or is a file), unless
    *overwrite*: nothing of the user's is replaced without being asked."""
    if target.exists() and not overwrite and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target}: exists; choose a new folder or pass overwrite "
                          "(--overwrite)")
