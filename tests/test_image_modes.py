"""Image files of every Pillow mode decode to 8-bit L/RGB with their value range scaled, never
clipped (a full-range 16-bit PNG once became 88% white)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import groupsup as gs
from groupsup.imaging import to_8bit


class Gray(gs.Schema):
    kind = gs.Attribute(values=["a"], latent=2)


def _load(path, channels: int = 1) -> np.ndarray:
    """The uint8 ``(H, W, C)`` pixels the folder/file loader gives for *path*."""
    data = gs.GroupDataset.from_files(Gray, [path], [{"kind": "a"}], channels=channels)
    return data.load_uint8([0])[0]


def test_full_range_16bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 16 * 16).round().astype(np.uint16).reshape(16, 16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")
    pixels = _load(path)[..., 0]
    np.testing.assert_array_equal(pixels, np.rint(ramp / 65535 * 255).astype(np.uint8))
    assert (pixels == 255).mean() < 0.01  # Pillow's convert("L") clips 99.6% of them
    rgb = _load(path, channels=3)
    np.testing.assert_array_equal(rgb, np.repeat(pixels[..., None], 3, axis=-1))


def test_32bit_integer_image_is_read_as_16bit_and_out_of_range_refused(tmp_path):
    values = np.array([[0, 32768], [65535, 257]], dtype=np.int32)
    path = tmp_path / "int32.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as img:
        assert img.mode == "I"
    np.testing.assert_array_equal(_load(path)[..., 0], [[0, 128], [255, 1]])
    bad = tmp_path / "negative.tif"
    Image.fromarray(np.array([[-5, 70000]], dtype=np.int32)).save(bad)
    with pytest.raises(gs.DataError, match=r"negative\.tif: 32-bit integer image holds values "
                                           r"in \[-5, 70000\]"):
        _load(bad)


def test_float_tiff_in_unit_range_is_scaled_others_refused(tmp_path):
    path = tmp_path / "unit.tif"
    Image.fromarray(np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)).save(path)
    with Image.open(path) as img:
        assert img.mode == "F"
    np.testing.assert_array_equal(_load(path)[..., 0], [[0, 128], [255, 64]])
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.array([[0.0, 200.0]], dtype=np.float32)).save(wide)
    with pytest.raises(gs.DataError, match=r"wide\.tif: float image holds values in "
                                           r"\[0, 200\]; groupsup reads float images only"):
        _load(wide)
    nan = tmp_path / "nan.tif"
    Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32)).save(nan)
    with pytest.raises(gs.DataError, match=r"nan\.tif: float image holds non-finite values"):
        _load(nan)


def test_transparent_pixels_are_composited_over_black(tmp_path):
    la = tmp_path / "la.png"
    Image.fromarray(np.array([[[200, 255], [200, 0], [100, 128]]], dtype=np.uint8), "LA").save(la)
    np.testing.assert_array_equal(_load(la)[..., 0], [[200, 0, 50]])
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.array([[[10, 20, 30, 255], [90, 90, 90, 0]]], np.uint8), "RGBA").save(rgba)
    np.testing.assert_array_equal(_load(rgba, 3), [[[10, 20, 30], [0, 0, 0]]])
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0])
    palette.putpixel((1, 0), 1)  # pixel 0: index 0 (red, transparent); pixel 1: green
    keyed = tmp_path / "keyed.png"
    palette.save(keyed, transparency=0)
    np.testing.assert_array_equal(_load(keyed, 3), [[[0, 0, 0], [0, 255, 0]]])


def test_cmyk_and_bilevel_images_convert(tmp_path):
    cmyk = tmp_path / "cmyk.tif"
    Image.new("CMYK", (2, 2), (0, 255, 0, 0)).save(cmyk)  # magenta
    np.testing.assert_array_equal(_load(cmyk, 3)[0, 0], [255, 0, 255])
    bilevel = tmp_path / "bilevel.png"
    image = Image.new("1", (2, 1), 0)
    image.putpixel((1, 0), 1)
    image.save(bilevel)
    np.testing.assert_array_equal(_load(bilevel)[..., 0], [[0, 255]])


def test_unsupported_mode_is_refused_naming_the_file():
    lab = Image.new("LAB", (2, 2))
    with pytest.raises(gs.DataError, match=r"odd\.tif: image mode LAB is not supported"):
        to_8bit(lab, "RGB", "odd.tif")
