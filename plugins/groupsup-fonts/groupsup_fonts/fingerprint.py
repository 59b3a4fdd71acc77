"""The fingerprint of a rendered Fonts dataset: which font files, and which pixels.

Two runs of the demo compare only when they trained on the same images. A store rendered on
the fly is named by the hash of everything its pixels depend on (:meth:`RenderPlan.key`: the
font files' SHA-256, the renderer's options, the vocabularies), but the pixels also depend on
the rasteriser (FreeType inside Pillow's wheel). The fingerprint therefore records both: the
font files' hashes and the hash of the rendered image and label arrays. ``id`` (16 hex digits)
summarises the two; equal ids mean byte-identical training data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import groupsup as gs
from groupsup_fonts.discovery import file_sha256
from groupsup_fonts.options import FontsOptions, cache_path

STORE_FILES = ("images.npy", "labels.npy")


def store_sha256(path: str | Path) -> str:
    """SHA-256 over a store's image and label arrays (``.npy`` files, headers included)."""
    digest = hashlib.sha256()
    for name in STORE_FILES:
        file = Path(path) / name
        if not file.is_file():
            raise gs.DataError(f"{path}: not a Fonts store ({name} missing)")
        digest.update(bytes.fromhex(file_sha256(file)))
    return digest.hexdigest()


def dataset_fingerprint(options: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprint of the ``fonts`` dataset that *options* (``dataset.options``) load, once
    it has been loaded (rendered into its cache, or a ``store``): ``fonts`` (name, file and
    SHA-256 of each face), ``plan`` (the render plan's key), ``store`` (the arrays' SHA-256)
    and ``id``. All of it comes from the store itself (its ``manifest.json`` records the plan
    and the font files it was rendered from), so a store written by ``groupsup render-fonts
    --layout store`` has the id of the same data rendered on the fly. A dataset read from a
    folder tree (``root``) has no store to hash: a :class:`~groupsup.DataError`."""
    opts = FontsOptions.model_validate(dict(options))
    if opts.root is not None:
        raise gs.DataError(f"{opts.root}: a Fonts folder tree has no rendered store to "
                           "fingerprint; render it with `groupsup render-fonts --layout store`")
    path = opts.store if opts.store is not None else cache_path(opts, opts.plan())
    manifest = Path(path) / "manifest.json"
    try:
        rendered = json.loads(manifest.read_text(encoding="utf-8"))["fonts"]
        key, files = rendered["key"], rendered["font_files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise gs.DataError(f"{manifest}: not the manifest of a rendered Fonts store "
                           f"({type(err).__name__}: {err})") from None
    store = store_sha256(path)
    return {"fonts": [{"name": f["name"], "file": f["file"], "sha256": f["sha256"]}
                      for f in files],
            "plan": key, "store": store,
            "id": hashlib.sha256(f"{key}:{store}".encode()).hexdigest()[:16]}
