"""GroupDataset: arrays, stores (atomic writes), folders with patterns and manifests, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import groupsup as gs


class Glyphs(gs.Schema):
    letter = gs.Attribute(values=["A", "B"], latent=2)
    size = gs.Attribute(values=["small", "large"], latent=2)
    font = gs.Attribute(latent=2)  # discovered


RECORDS = [{"letter": letter, "size": size, "font": font}
           for letter in "AB" for size in ("small", "large") for font in ("serif", "mono")]


def _images(n: int, size: int = 6) -> np.ndarray:
    return (np.arange(n * size * size * 3) % 251).astype(np.uint8).reshape(n, size, size, 3)


def _save(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_from_arrays_with_records_and_codes():
    data = gs.GroupDataset.from_arrays(Glyphs, _images(8), RECORDS)
    assert data.schema["font"].values == ("mono", "serif")
    assert data.labels[:2].tolist() == [[0, 0, 1], [0, 0, 0]]
    x = data.load([3, 0])
    assert x.shape == (2, 3, 6, 6) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    np.testing.assert_array_equal(data.load_uint8([3]), _images(8)[[3]])
    assert data.records([1]) == [RECORDS[1]]
    codes = gs.GroupDataset.from_arrays(data.schema, _images(8), data.labels)
    np.testing.assert_array_equal(codes.labels, data.labels)
    floats = gs.GroupDataset.from_arrays(data.schema, x.repeat(4, 1, 1, 1), data.labels)
    np.testing.assert_array_equal(floats.load_uint8([0]), _images(8)[[3]])
    sub = data.subset([5, 2])
    np.testing.assert_array_equal(sub.labels, data.labels[[5, 2]])
    np.testing.assert_array_equal(sub.load_uint8([0]), _images(8)[[5]])


def test_label_errors_name_the_problem():
    with pytest.raises(gs.LabelError, match=r"record 2 has 2 values, expected 3"):
        gs.GroupDataset.from_arrays(Glyphs, _images(3), [("A", "small", "x"),
                                                         ("B", "large", "y"), ("A", "small")])
    resolved = Glyphs.discover_values(RECORDS)
    with pytest.raises(gs.LabelError, match=r"must have shape \(N, 3\)"):
        gs.GroupDataset.from_arrays(resolved, _images(2), np.zeros((2, 2), np.int64))
    with pytest.raises(gs.LabelError, match=r"attribute 'size': value 'huge'"):
        gs.GroupDataset.from_arrays(Glyphs, _images(1), [{"letter": "A", "size": "huge",
                                                          "font": "serif"}])
    with pytest.raises(gs.DataError, match="2 images but 8 label rows"):
        gs.GroupDataset.from_arrays(Glyphs, _images(2), RECORDS)


def test_store_round_trip_and_atomic_rewrite(tmp_path, monkeypatch):
    data = gs.GroupDataset.from_arrays(Glyphs, _images(8), RECORDS, name="glyphs")
    root = data.write_store(tmp_path / "store", extra={"note": "v1"})
    back = gs.GroupDataset.from_store(root)
    assert back.schema.same_as(data.schema) and back.name == "glyphs"
    np.testing.assert_array_equal(back.labels, data.labels)
    np.testing.assert_array_equal(back.load_uint8(np.arange(8)), _images(8))
    assert isinstance(back.source.images, np.memmap)
    assert json.loads((root / "manifest.json").read_text())["note"] == "v1"

    # A write that fails half-way leaves the previous store intact and no temporary files.
    def broken(self, indices):
        raise OSError("disk full")

    monkeypatch.setattr(gs.GroupDataset, "load_uint8", broken)
    with pytest.raises(OSError, match="disk full"):
        data.write_store(root, extra={"note": "v2"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert json.loads((root / "manifest.json").read_text())["note"] == "v1"
    data.subset([0, 1]).write_store(root)  # a successful rewrite replaces it
    assert len(gs.GroupDataset.from_store(root)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_store_errors(tmp_path):
    with pytest.raises(gs.DataError, match="not a groupsup store"):
        gs.GroupDataset.from_store(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(gs.DataError, match=r"manifest\.json: corrupt JSON"):
        gs.GroupDataset.from_store(tmp_path)


def test_folder_with_pattern(tmp_path):
    images = _images(8)
    for rec, img in zip(RECORDS, images):
        _save(tmp_path / rec["letter"] / f"{rec['letter']}_{rec['size']}_{rec['font']}.png", img)
    data = gs.GroupDataset.from_folder(Glyphs, tmp_path,
                                       pattern="{letter}/{letter}_{size}_{font}.png")
    assert len(data) == 8 and data.image_shape == (3, 6, 6)
    by_name = {tuple(r.values()): i for i, r in enumerate(data.records())}
    for rec, img in zip(RECORDS, images):
        i = by_name[(rec["letter"], rec["size"], rec["font"])]
        np.testing.assert_array_equal(data.load_uint8([i])[0], img)
    (tmp_path / "A" / "stray.png").write_bytes(b"")
    with pytest.raises(gs.DataError, match=r"stray\.png: file name does not match pattern"):
        gs.GroupDataset.from_folder(Glyphs, tmp_path, pattern="{letter}/{letter}_{size}_{font}.png")


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_folder_with_manifest(tmp_path, kind):
    images = _images(8)
    rows = []
    for k, (rec, img) in enumerate(zip(RECORDS, images)):
        _save(tmp_path / "img" / f"{k}.png", img)
        rows.append({"path": f"img/{k}.png", **rec})
    if kind == "csv":
        lines = ["path,letter,size,font"] + [",".join(r.values()) for r in rows]
        (tmp_path / "labels.csv").write_text("\n".join(lines))
        manifest = "labels.csv"
    else:
        (tmp_path / "labels.json").write_text(json.dumps(rows))
        manifest = "labels.json"
    data = gs.GroupDataset.from_folder(Glyphs, tmp_path, manifest=manifest)
    assert data.records() == RECORDS
    np.testing.assert_array_equal(data.load_uint8(np.arange(8)), images)


def test_image_errors_name_the_file(tmp_path):
    good = tmp_path / "good.png"
    _save(good, _images(1)[0])
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    wide = tmp_path / "wide.png"
    _save(wide, np.zeros((6, 9, 3), np.uint8))
    missing = tmp_path / "missing.png"
    records = [{"letter": "A", "size": "small", "font": "x"}] * 4
    data = gs.GroupDataset.from_files(Glyphs, [good, corrupt, wide, missing], records)
    assert data.load_uint8([0]).shape == (1, 6, 6, 3)
    with pytest.raises(gs.DataError, match=r"corrupt\.png: cannot read image"):
        data.load([1])
    with pytest.raises(gs.DataError, match=r"wide\.png: image is 9x6, expected 6x6"):
        data.load([2])
    with pytest.raises(gs.DataError, match=r"missing\.png: image file is missing"):
        data.load([3])
    resized = gs.GroupDataset.from_files(Glyphs, [good, wide], records[:2], image_size=4)
    assert resized.load([0, 1]).shape == (2, 3, 4, 4)
