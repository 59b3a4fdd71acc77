"""The per-file ``transform`` of GroupDataset.from_files: applied before the size check."""

import numpy as np
import pytest
from PIL import Image

import groupsup as gs


class Tiny(gs.Schema):
    kind = gs.Attribute(latent=2)


def _write(path, width, height, value):
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)
    return path


def _crop(img):
    return img.crop((2, 4, 10, 12))  # 12x20 -> 8x8


def test_transform_runs_before_the_size_check(tmp_path):
    paths = [_write(tmp_path / f"{k}.png", 12, 20, 40 * k) for k in range(3)]
    data = gs.GroupDataset.from_files(Tiny, paths, [{"kind": "a"}] * 3, transform=_crop)
    assert data.image_shape == (3, 8, 8)
    assert data.load_uint8([2]).shape == (1, 8, 8, 3)
    assert (data.load_uint8([2]) == 80).all()
    resized = gs.GroupDataset.from_files(Tiny, paths, [{"kind": "a"}] * 3, image_size=4,
                                         transform=_crop)
    assert resized.load_uint8([0, 1]).shape == (2, 4, 4, 3)


def test_without_transform_the_size_check_still_applies(tmp_path):
    paths = [_write(tmp_path / "a.png", 8, 8, 0), _write(tmp_path / "b.png", 9, 8, 0)]
    data = gs.GroupDataset.from_files(Tiny, paths, [{"kind": "a"}, {"kind": "b"}])
    with pytest.raises(gs.DataError, match=r"b\.png: image is 9x8, expected 8x8"):
        data.load_uint8([1])


def test_transform_errors_name_the_file(tmp_path):
    paths = [_write(tmp_path / "a.png", 8, 8, 0), _write(tmp_path / "b.png", 4, 4, 0)]

    def strict_crop(img):
        if img.size[0] < 8:
            raise gs.DataError("frame too small for the crop")
        return img.crop((0, 0, 8, 8))

    data = gs.GroupDataset.from_files(Tiny, paths, [{"kind": "a"}] * 2, transform=strict_crop)
    with pytest.raises(gs.DataError, match=r"b\.png: frame too small for the crop"):
        data.load_uint8([1])
    broken = gs.GroupDataset.from_files(Tiny, paths, [{"kind": "a"}] * 2, image_size=8,
                                        transform=lambda img: None)
    with pytest.raises(gs.DataError, match=r"a\.png: image transform returned NoneType"):
        broken.load_uint8([0])
