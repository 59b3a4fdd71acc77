"""A dataset's store on disk: ``images.npy`` (uint8 ``(N, H, W, C)``, memory-mapped on read),
``labels.npy`` (``(N, A)`` int64) and ``manifest.json`` (format, name, size, image shape,
schema; :func:`groupsup.fileio.store_manifest`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from groupsup.data.sources import ArraySource
from groupsup.errors import DataError
from groupsup.fileio import (
    STORE_FORMAT,
    atomic_directory,
    atomic_write_text,
    read_json_with_format,
    store_manifest,
)
from groupsup.schema import Schema

if TYPE_CHECKING:
    from groupsup.data.dataset import GroupDataset

__all__ = ["read_store", "write_store"]


def read_store(root: Path, mmap: bool = True
               ) -> tuple[type[Schema], np.ndarray, ArraySource, str]:
    """``(schema, labels, images, name)`` of the store at *root* (images memory-mapped unless
    not *mmap*); a :class:`DataError` names the directory or file at fault."""
    manifest = read_json_with_format(root / "manifest.json", "format", STORE_FORMAT, DataError,
                                     f"{root}: not a groupsup store (no manifest.json)")
    schema = Schema.from_dict(manifest["schema"])
    try:
        images = np.load(root / "images.npy", mmap_mode="r" if mmap else None)
        labels = np.load(root / "labels.npy")
    except (OSError, ValueError) as err:
        raise DataError(f"{root}: cannot read store arrays ({err})") from None
    return schema, labels, ArraySource(images, str(root)), manifest.get("name", root.name)


def write_store(dataset: GroupDataset, root: Path, extra: dict[str, Any] | None = None,
                chunk: int = 4096) -> Path:
    """Write *dataset*'s images (*chunk* at a time), labels and manifest (with *extra* keys)
    to *root*, atomically (a temporary directory renamed); returns *root*."""
    with atomic_directory(root) as tmp:
        c, h, w = dataset.image_shape
        images = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8,
                                           shape=(len(dataset), h, w, c))
        for start in range(0, len(dataset), chunk):
            stop = min(start + chunk, len(dataset))
            images[start:stop] = dataset.load_uint8(np.arange(start, stop))
        images.flush()
        del images
        np.save(tmp / "labels.npy", dataset.labels)
        manifest = store_manifest(dataset.name, len(dataset), dataset.image_shape,
                                  dataset.schema.to_dict(), **(extra or {}))
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=2))
    return root
