"""Folder datasets read only files inside their root (manifest rows, pattern matches, symlinks)
unless the user opts in with ``allow_outside_root``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import groupsup as gs


class Kind(gs.Schema):
    kind = gs.Attribute(latent=2)


def _tree(tmp_path):
    """``data/`` with two images, and ``outside/secret.png`` next to it."""
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    for k in range(2):
        Image.fromarray(np.full((4, 4, 3), 40 * k, np.uint8)).save(root / "img" / f"{k}.png")
    (tmp_path / "outside").mkdir()
    secret = tmp_path / "outside" / "secret.png"
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(secret)
    return root, secret


def _manifest(root, rows: list[str]) -> str:
    lines = ["path,kind", "img/0.png,a", *(f"{path},b" for path in rows)]
    (root / "labels.csv").write_text("\n".join(lines))
    return "labels.csv"


@pytest.mark.parametrize("row", ["../../../../../../../../etc/passwd", "/etc/passwd",
                                 "../outside/secret.png", "img/../../outside/secret.png"])
def test_manifest_row_outside_root_is_refused_naming_the_row(tmp_path, row):
    root, _ = _tree(tmp_path)
    manifest = _manifest(root, ["img/1.png", row])
    with pytest.raises(gs.DataError, match=rf"labels\.csv: row 3 path '{row}' resolves to "
                                           r".*, outside the dataset root .*data; set the "
                                           r"folder option allow_outside_root = true"):
        gs.GroupDataset.from_folder(Kind, root, manifest=manifest)


def test_absolute_manifest_path_inside_root_is_accepted(tmp_path):
    root, _ = _tree(tmp_path)
    data = gs.GroupDataset.from_folder(Kind, root, manifest=_manifest(root, [
        str(root / "img" / "1.png")]))
    assert len(data) == 2


def test_symlink_out_of_root_is_refused_for_patterns_and_manifests(tmp_path):
    root, secret = _tree(tmp_path)
    (root / "img" / "link.png").symlink_to(secret)
    with pytest.raises(gs.DataError, match=r"img/link\.png: resolves to .*outside/secret\.png, "
                                           r"outside the dataset root .*data \(a symlink\?\)"):
        gs.GroupDataset.from_folder(Kind, root, pattern="img/{kind}.png")
    with pytest.raises(gs.DataError, match=r"row 2 path 'img/link\.png' resolves to "
                                           r".*outside/secret\.png"):
        gs.GroupDataset.from_folder(Kind, root, manifest=_manifest(root, ["img/link.png"]))
    (root / "img" / "inner.png").symlink_to(root / "img" / "0.png")  # inside: fine
    (root / "img" / "link.png").unlink()
    assert len(gs.GroupDataset.from_folder(Kind, root, pattern="img/{kind}.png")) == 3


def test_allow_outside_root_opts_in(tmp_path):
    root, secret = _tree(tmp_path)
    (root / "img" / "link.png").symlink_to(secret)
    data = gs.GroupDataset.from_folder(Kind, root, pattern="img/{kind}.png",
                                       allow_outside_root=True)
    assert data.load_uint8([data.records().index({"kind": "link"})]).max() == 200
    spec = gs.get_host().datasets.get("folder")
    options = {"root": str(root), "manifest": _manifest(root, [str(secret)]),
               "attributes": {"kind": 2}}
    with pytest.raises(gs.DataError, match="outside the dataset root"):
        spec.build(options)
    assert len(spec.build({**options, "allow_outside_root": True})) == 2
