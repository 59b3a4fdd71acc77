"""Pre-flight check of a dataset's image files, before a run spends time on them.

Image files are decoded lazily during training, so a missing, empty, truncated or corrupt file
would otherwise stop a run only when it is first sampled, hours in. :func:`check_images` reads
every file once through the same decode path as training (header, pixels, mode, size,
transform), in a thread pool (Pillow releases the GIL while it decodes), and raises one
:class:`~groupsup.errors.DataError` listing every bad file with its reason. Files that passed
are remembered by ``(path, size, mtime)`` in a cache file, so the next run of the same dataset
re-reads only files that changed.

The cache lives in the user's cache directory (``$GROUPSUP_CACHE_DIR``, else
``$XDG_CACHE_HOME/groupsup``, else ``~/.cache/groupsup``), never in the dataset's folder, which
may be read-only or shared; where that directory is not writable, in the run directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from groupsup.data.sources import FileSource, ImageReadError
from groupsup.errors import DataError
from groupsup.fileio import atomic_write_text

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset

CACHE_FORMAT = "groupsup.image-check/1"
LISTED = 20  # bad files named in the error; the rest are counted


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_images` did: files decoded now, files known good from the cache."""

    files: int
    decoded: int
    cached: int
    seconds: float
    cache_file: Path | None

    def __str__(self) -> str:
        return (f"checked {self.files} image files in {self.seconds:.1f} s ({self.decoded} "
                f"decoded, {self.cached} unchanged since a previous check)")


def user_cache_dir() -> Path:
    """``$GROUPSUP_CACHE_DIR``, else ``$XDG_CACHE_HOME/groupsup``, else ``~/.cache/groupsup``."""
    if os.environ.get("GROUPSUP_CACHE_DIR"):
        return Path(os.environ["GROUPSUP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "groupsup"


def file_source(dataset: GroupDataset) -> FileSource | None:
    """The image files behind *dataset* (through any subsets), or None for array data."""
    source = dataset.source
    while hasattr(source, "base"):  # a subset's view of its parent's source
        source = source.base
    return source if isinstance(source, FileSource) else None


def check_images(dataset: GroupDataset, *, cache_dirs: list[Path] | None = None,
                 workers: int | None = None) -> CheckReport | None:
    """Read every image file of *dataset* once; raise one DataError listing every bad file.

    *cache_dirs*: where the cache of good files may be kept, in order of preference (default
    :func:`user_cache_dir`); the first one that can be written is used. Returns None for a
    dataset that is not backed by image files (arrays and stores have nothing to check).
    """
    source = file_source(dataset)
    if source is None:
        return None
    started = time.perf_counter()
    dirs = cache_dirs if cache_dirs is not None else [user_cache_dir()]
    name = _cache_name(source)
    known = _read_cache(dirs, name)
    keys = [str(p.absolute()) for p in source.paths]
    bad: dict[int, str] = {}
    stamps: dict[int, list[int]] = {}
    for i, path in enumerate(source.paths):  # stat is cheap, done in turn; decoding in the pool
        stamp = _stamp(path)
        if isinstance(stamp, str):
            bad[i] = stamp
        else:
            stamps[i] = stamp
    todo = [i for i, stamp in stamps.items() if known.get(keys[i]) != stamp]
    with ThreadPoolExecutor(workers or min(32, os.cpu_count() or 1)) as pool:
        for i, reason in zip(todo, pool.map(lambda i: _decode_problem(source, i), todo)):
            if reason is not None:
                bad[i] = reason
                del stamps[i]
    good = {keys[i]: stamp for i, stamp in stamps.items()}
    cache_file = _write_cache(dirs, name, good) if good != known else _cached_at(dirs, name)
    if bad:
        raise DataError(_listing([(source.paths[i], bad[i]) for i in sorted(bad)], len(keys)))
    return CheckReport(len(keys), len(todo), len(keys) - len(todo),
                       time.perf_counter() - started, cache_file)


def _stamp(path: Path) -> list[int] | str:
    """``[size, mtime_ns]`` of *path* (the cache key), or why it cannot be an image."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "image file is missing"
    except OSError as err:
        return f"cannot stat file ({err.strerror})"
    return [stat.st_size, stat.st_mtime_ns] if stat.st_size else "empty file (0 bytes)"


def _decode_problem(source: FileSource, index: int) -> str | None:
    """Why file *index* cannot be read as training would read it, or None when it can."""
    try:
        source.read_one(index)
    except ImageReadError as err:
        return err.reason
    except DataError as err:
        return str(err)
    return None


def _listing(bad: list[tuple[Path, str]], total: int) -> str:
    """One line: how many files are bad, the first :data:`LISTED` with reasons, the rest counted.
    """
    shown = "; ".join(f"{path}: {reason}" for path, reason in bad[:LISTED])
    more = f"; and {len(bad) - LISTED} more" if len(bad) > LISTED else ""
    return (f"{len(bad)} of {total} image files cannot be read: {shown}{more} (fix or remove "
            f"them; `groupsup train --skip-check` / train.check_images = false skips this check)")


def _describe(transform: object) -> str | None:
    """A stable description of a per-file transform (a function's address changes per run)."""
    if transform is None:
        return None
    if isinstance(transform, (types.FunctionType, types.BuiltinFunctionType)):
        return f"{transform.__module__}.{transform.__qualname__}"
    return repr(transform)


def _cache_name(source: FileSource) -> str:
    """A file name per dataset and decode setting: the check's verdict depends on both."""
    folder = os.path.commonpath([str(p.absolute().parent) for p in source.paths])
    key = json.dumps([CACHE_FORMAT, folder, list(source.image_shape), source.resize,
                      _describe(source.transform)])
    return f"image-check-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _read_cache(dirs: list[Path], name: str) -> dict[str, list[int]]:
    for folder in dirs:
        try:
            cache = json.loads((folder / name).read_text())
        except (OSError, ValueError):  # absent or damaged: check everything again
            continue
        if isinstance(cache, dict) and cache.get("format") == CACHE_FORMAT \
                and isinstance(cache.get("files"), dict):
            return cache["files"]
    return {}


def _cached_at(dirs: list[Path], name: str) -> Path | None:
    return next((folder / name for folder in dirs if (folder / name).exists()), None)


def _write_cache(dirs: list[Path], name: str, files: dict[str, list[int]]) -> Path | None:
    """Write the cache atomically into the first writable folder of *dirs*; None if none is.

    A cache is an optimisation: failing to write one never fails the check.
    """
    text = json.dumps({"format": CACHE_FORMAT, "files": files})
    for folder in dirs:
        try:
            atomic_write_text(folder / name, text)
        except OSError:
            continue
        return folder / name
    return None
