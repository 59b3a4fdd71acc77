"""Render jobs: the Fonts grid (or a subset) written as a folder tree or a compact store.

A :class:`~groupsup_fonts.plan.RenderPlan` fixes what to render and cuts it into chunks of one
(font, letter) each. Chunks render in worker processes; the parent writes progress, so an
interrupted job resumes where it stopped:

- ``store``: a ``groupsup.store/1`` directory (``images.npy`` uint8 ``(N, H, W, 3)``,
  ``labels.npy``, ``manifest.json``) that :meth:`groupsup.GroupDataset.from_store` opens. It is
  built in ``.<name>.partial`` next to the target (images written chunk by chunk into a
  memory map; finished chunks listed in ``progress.txt`` once synced to disk) and renamed
  into place at the end.
- ``folder``: the released layout (see :mod:`groupsup_fonts.layout`); each PNG is written
  through a temporary file and a rename, and a resumed job skips files that pass
  :func:`~groupsup_fonts.layout.png_problem`. ``manifest.json`` at the root says whether the
  tree is complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from tqdm import tqdm

import groupsup as gs
from groupsup.fileio import atomic_write_bytes, replace_directory, store_manifest
from groupsup_fonts.layout import (
    NAMINGS,
    check_case_safe,
    encode_png,
    png_problem,
    relative_path,
)
from groupsup_fonts.plan import RenderPlan
from groupsup_fonts.schema import COLOUR_NAMES, LETTERS, SIZES

FOLDER_FORMAT = "groupsup.fonts-folder/1"
LAYOUTS = ("folder", "store")


@dataclass(frozen=True)
class RenderResult:
    """What a render job did."""

    path: Path
    manifest: Path
    layout: str
    total: int
    rendered: int
    skipped: int
    seconds: float


# ---------------------------------------------------------------------- workers
class _StoreChunks:
    """Renders chunks into the partial store's memory-mapped ``images.npy``."""

    def __init__(self, plan: RenderPlan, folder: Path):
        self.plan, self.renderer = plan, plan.renderer()
        self.images = np.load(folder / "images.npy", mmap_mode="r+")

    def __call__(self, chunk: int) -> tuple[int, int, int]:
        start, stop = self.plan.chunk_rows(chunk)
        self.images[start:stop] = self.renderer.render_indices(*self.plan.rows(start, stop).T)
        return chunk, stop - start, 0


class _FolderChunks:
    """Renders chunks into PNG files, skipping the complete ones already there."""

    def __init__(self, plan: RenderPlan, root: Path, naming: str):
        self.plan, self.root, self.naming = plan, root, naming
        self.renderer = plan.renderer()
        self.fonts = [face.name for face in plan.fonts]

    def __call__(self, chunk: int) -> tuple[int, int, int]:
        start, stop = self.plan.chunk_rows(chunk)
        rows = self.plan.rows(start, stop)
        paths = [self.root / relative_path(LETTERS[r[1]], SIZES[r[2]], COLOUR_NAMES[r[3]],
                                           COLOUR_NAMES[r[4]], self.fonts[r[0]], self.naming)
                 for r in rows.tolist()]
        todo = [k for k, path in enumerate(paths)
                if png_problem(path, self.plan.image_size) is not None]
        if todo:
            images = self.renderer.render_indices(*rows[todo].T)
            for image, k in zip(images, todo):
                _make_folder(paths[k].parent)
                # not fsynced: a resumed render re-checks every file (png_problem)
                atomic_write_bytes(paths[k], encode_png(image), durable=False)
        return chunk, len(todo), len(paths) - len(todo)


def _make_folder(folder: Path) -> None:
    """``mkdir -p``, with one system call in the common case (the parent exists)."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)


_job: _StoreChunks | _FolderChunks | None = None


def _start_worker(kind: str, plan: RenderPlan, target: Path, naming: str) -> None:
    global _job
    _job = _StoreChunks(plan, target) if kind == "store" else _FolderChunks(plan, target, naming)


def _stop_worker() -> None:
    global _job
    _job = None


def _run_chunk(chunk: int) -> tuple[int, int, int]:
    assert _job is not None, "worker not initialised"
    return _job(chunk)


def _run_chunks(kind: str, plan: RenderPlan, target: Path, naming: str, todo: Sequence[int],
                workers: int, progress: bool, done_images: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(chunk, rendered, skipped)`` as chunks finish (in any order), with a bar."""
    bar = tqdm(total=len(plan), initial=done_images, unit="img", disable=not progress,
               desc=f"render-fonts {plan.image_size}px", smoothing=0.05)
    try:
        if workers <= 1 or len(todo) <= 1:
            _start_worker(kind, plan, target, naming)
            results: Iterator[tuple[int, int, int]] = map(_run_chunk, todo)
            pool = None
        else:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            pool = context.Pool(min(workers, len(todo)), initializer=_start_worker,
                                initargs=(kind, plan, target, naming))
            results = pool.imap_unordered(_run_chunk, todo)
        try:
            for result in results:
                bar.update(result[1] + result[2])
                yield result
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    finally:
        _stop_worker()
        bar.close()


def _check_workers(workers: int) -> int:
    if not isinstance(workers, int) or workers < 1:
        raise gs.ConfigError(f"workers must be a positive integer, got {workers!r}")
    return workers


# ---------------------------------------------------------------------- store
def render_store(plan: RenderPlan, path: str | os.PathLike, *, workers: int = 1,
                 progress: bool = True, overwrite: bool = False,
                 name: str = "fonts") -> RenderResult:
    """Render *plan* into a ``groupsup.store/1`` directory at *path* (resumable, atomic).

    A complete store with the same plan is left as it is. One made with another plan is an
    error unless *overwrite*.
    """
    began, workers = time.perf_counter(), _check_workers(workers)
    root = Path(path)
    root.parent.mkdir(parents=True, exist_ok=True)
    # processes rendering the same store (ranks of a distributed run loading one cached
    # dataset) take turns: the later ones find it complete. filelock, as the run lock.
    with FileLock(root.with_name(f".{root.name}.lock")):
        return _render_store(plan, root, workers, progress, overwrite, name, began)


def _render_store(plan: RenderPlan, root: Path, workers: int, progress: bool, overwrite: bool,
                  name: str, began: float) -> RenderResult:
    key = plan.key()
    if (root / "manifest.json").is_file():
        existing = _read_json(root / "manifest.json")
        if existing.get("fonts", {}).get("key") == key:
            return RenderResult(root, root / "manifest.json", "store", len(plan), 0, len(plan),
                                time.perf_counter() - began)
        if not overwrite:
            raise gs.DataError(f"{root} holds a store rendered with other options or fonts; "
                               "choose another path or overwrite it")
    elif root.exists() and not overwrite:
        raise gs.DataError(f"{root} exists and is not a Fonts store; choose another path")
    partial = root.with_name(f".{root.name}.partial")
    done = _open_partial_store(plan, partial, key)
    todo = [c for c in range(plan.chunks) if c not in done]
    rendered = 0
    with _ProgressLog(partial) as log:
        for chunk, count, _ in _run_chunks("store", plan, partial, "plain", todo, workers,
                                           progress, len(done) * plan.chunk_size):
            log.finished(chunk)
            rendered += count
    manifest = store_manifest(name, len(plan), (3, plan.image_size, plan.image_size),
                              plan.schema.to_dict(), fonts=plan.manifest("store", "plain"))
    atomic_write_bytes(partial / "manifest.json", json.dumps(manifest, indent=2).encode())
    (partial / "progress.txt").unlink()
    (partial / "plan.json").unlink()
    replace_directory(partial, root)
    return RenderResult(root, root / "manifest.json", "store", len(plan), rendered,
                        len(plan) - rendered, time.perf_counter() - began)


class _ProgressLog:
    """Records finished chunks in ``progress.txt``, only after their pixels are on disk.

    Workers write through shared memory maps, which survive a killed process in the page
    cache; against a machine crash, ``images.npy`` is fsynced before the chunks written since
    the last sync are listed (every few seconds and on exit, so syncing costs little).
    """

    def __init__(self, partial: Path, every: float = 5.0):
        self.partial, self.every = partial, every
        self.pending: list[int] = []
        self.last = time.monotonic()

    def __enter__(self) -> _ProgressLog:
        return self

    def finished(self, chunk: int) -> None:
        self.pending.append(chunk)
        if time.monotonic() - self.last >= self.every:
            self.sync()

    def sync(self) -> None:
        if not self.pending:
            return
        with open(self.partial / "images.npy", "rb") as images:
            os.fsync(images.fileno())
        with open(self.partial / "progress.txt", "a") as log:
            log.write("".join(f"{chunk}\n" for chunk in self.pending))
            log.flush()
            os.fsync(log.fileno())
        self.pending.clear()
        self.last = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.sync()


def _open_partial_store(plan: RenderPlan, partial: Path, key: str) -> set[int]:
    """Create or reopen the partial store; return the chunks already finished."""
    if (partial / "plan.json").is_file() and _read_json(partial / "plan.json").get("key") == key:
        lines = (partial / "progress.txt").read_text().split() \
            if (partial / "progress.txt").is_file() else []
        return {int(line) for line in lines}
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    np.lib.format.open_memmap(partial / "images.npy", mode="w+", dtype=np.uint8,
                              shape=(len(plan), plan.image_size, plan.image_size, 3)).flush()
    np.save(partial / "labels.npy", plan.labels())
    (partial / "progress.txt").touch()
    atomic_write_bytes(partial / "plan.json", json.dumps({"key": key}).encode())
    return set()


# ---------------------------------------------------------------------- folder
def render_folder(plan: RenderPlan, path: str | os.PathLike, *, workers: int = 1,
                  progress: bool = True, naming: str = "plain") -> RenderResult:
    """Render *plan* as the released folder layout under *path* (resumable).

    Existing complete files are kept. A folder holding a render with another plan is an
    error. *naming* ``"case-safe"`` writes lower-case letters as ``lower-a``.
    """
    began, workers = time.perf_counter(), _check_workers(workers)
    if naming not in NAMINGS:
        raise gs.ConfigError(f"naming must be one of {NAMINGS}, got {naming!r}")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    check_case_safe(root, plan.letters, naming)
    manifest_path = root / "manifest.json"
    fonts_section = plan.manifest("folder", naming)
    if manifest_path.is_file():
        existing = _read_json(manifest_path).get("fonts", {})
        if existing.get("key") != fonts_section["key"] or existing.get("naming") != naming:
            raise gs.DataError(f"{root} holds a render with other options, fonts or naming "
                               f"(see {manifest_path}); choose another folder")
    elif any(root.iterdir()):
        raise gs.DataError(f"{root} is not empty and holds no Fonts manifest; choose an empty "
                           "or new folder")
    manifest = {"format": FOLDER_FORMAT, "name": root.name, "size": len(plan),
                "image_shape": [3, plan.image_size, plan.image_size],
                "schema": plan.schema.to_dict(), "complete": False, "fonts": fonts_section}
    atomic_write_bytes(manifest_path, json.dumps(manifest, indent=2).encode())
    rendered = skipped = 0
    for _, count, kept in _run_chunks("folder", plan, root, naming, range(plan.chunks),
                                      workers, progress, 0):
        rendered, skipped = rendered + count, skipped + kept
    manifest["complete"] = True
    atomic_write_bytes(manifest_path, json.dumps(manifest, indent=2).encode())
    return RenderResult(root, manifest_path, "folder", len(plan), rendered, skipped,
                        time.perf_counter() - began)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise gs.DataError(f"{path}: cannot read it as JSON ({err})") from None
    if not isinstance(data, dict):
        raise gs.DataError(f"{path}: expected a JSON object")
    return data
