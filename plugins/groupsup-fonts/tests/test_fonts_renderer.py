"""The renderer: determinism, exact colours, centring, sizes that fit, ground truth."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from groupsup_fonts import COLOUR_NAMES, COLOURS, LETTERS, SIZES, FontsRenderer, load_renderer
from groupsup_fonts.renderer import colourise

import groupsup as gs

RECORDS = [
    {"letter": "A", "size": "large", "font_color": "red", "back_color": "blue",
     "font": "dejavusans"},
    {"letter": "g", "size": "small", "font_color": "yellow", "back_color": "purple",
     "font": "dejavuserifbold"},
    {"letter": "Q", "size": "medium", "font_color": "silver", "back_color": "chocolate",
     "font": "cmtt10"},
]
# Pillow (with its FreeType) and matplotlib are pinned by constraints.txt. A change of this
# hash means the pixels changed: bump RENDERER_VERSION if the renderer did it.
GOLDEN = "56ff6b8920af06b47f713ca1c3e187c1003143841ad3f25063407a2dcd1c54c0"


def all_glyphs(renderer: FontsRenderer, font: int) -> np.ndarray:
    """Every letter x size of one font, red on blue: ``(52, 3, H, W, 3)``."""
    letter, size = np.meshgrid(np.arange(len(LETTERS)), np.arange(len(SIZES)), indexing="ij")
    n = letter.size
    red, blue = COLOUR_NAMES.index("red"), COLOUR_NAMES.index("blue")
    images = renderer.render_indices(np.full(n, font), letter.ravel(), size.ravel(),
                                     np.full(n, red), np.full(n, blue))
    return images.reshape(len(LETTERS), len(SIZES), *images.shape[1:])


def ink_boxes(images: np.ndarray) -> np.ndarray:
    """``(..., 4)`` top, left, bottom, right (exclusive) of non-background pixels."""
    background = np.array(COLOURS["blue"], dtype=np.uint8)
    ink = np.any(images != background, axis=-1)
    rows, cols = ink.any(axis=-1), ink.any(axis=-2)
    size = ink.shape[-1]
    first = lambda m: m.argmax(axis=-1)  # noqa: E731
    last = lambda m: size - m[..., ::-1].argmax(axis=-1)  # noqa: E731
    return np.stack([first(rows), first(cols), last(rows), last(cols)], axis=-1)


def test_same_inputs_give_identical_bytes(catalog) -> None:
    first = FontsRenderer(catalog.faces, 32).render(RECORDS)
    second = FontsRenderer(catalog.faces, 32).render(RECORDS)
    assert first.dtype == np.uint8 and first.shape == (3, 32, 32, 3)
    assert first.tobytes() == second.tobytes()
    assert hashlib.sha256(first.tobytes()).hexdigest() == GOLDEN


@pytest.mark.parametrize("size", [32, 64])
def test_background_is_exact_and_glyphs_fit_centred_and_ordered(catalog, size: int) -> None:
    renderer = FontsRenderer(catalog.faces, size)
    margin = renderer.margin_pixels
    for font in range(len(catalog.faces)):
        images = all_glyphs(renderer, font)
        corners = images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == np.array(COLOURS["blue"], dtype=np.uint8)).all()
        assert np.isin(images.reshape(-1, 3), [COLOURS["red"], COLOURS["blue"]]).all(axis=1) \
            .mean() > 0.8  # mostly pure colours, antialiased edges in between
        top, left, bottom, right = np.moveaxis(ink_boxes(images), -1, 0)
        assert (top >= margin).all() and (left >= margin).all()
        assert (bottom <= size - margin).all() and (right <= size - margin).all()
        # Ink box centre within a pixel of the canvas centre, for every letter and size.
        assert np.abs((top + bottom) / 2 - size / 2).max() <= 1.0
        assert np.abs((left + right) / 2 - size / 2).max() <= 1.0
        extent = np.maximum(bottom - top, right - left)
        assert (extent[:, 0] < extent[:, 1]).all() and (extent[:, 1] < extent[:, 2]).all()
        # The largest glyph of the font nearly fills the space inside the margins.
        assert extent[:, 2].max() >= (size - 2 * margin) * 0.9


def test_font_colour_equal_to_background_is_refused(catalog) -> None:
    record = dict(RECORDS[0], back_color="red")
    with pytest.raises(gs.LabelError, match="both 'red'"):
        FontsRenderer(catalog.faces, 32).render([record])


def test_colourise_is_exact_at_both_ends() -> None:
    masks = np.array([[[0, 255, 128]]], dtype=np.uint8)
    out = colourise(masks, np.array([COLOUR_NAMES.index("pink")]),
                    np.array([COLOUR_NAMES.index("green")]))
    assert out[0, 0, 0].tolist() == list(COLOURS["green"])
    assert out[0, 0, 1].tolist() == list(COLOURS["pink"])
    expected = [(b * 127 + f * 128 + 127) // 255 for f, b in zip(COLOURS["pink"],
                                                                   COLOURS["green"])]
    assert out[0, 0, 2].tolist() == expected


def test_reference_options(catalog) -> None:
    paper = FontsRenderer(catalog.faces, 128, centring="line", sizing="paper")
    assert paper.pixel_sizes(0) == (80, 100, 120)
    assert FontsRenderer(catalog.faces, 32, sizing="paper").pixel_sizes(0) == (20, 25, 30)
    line = paper.render(RECORDS[:1])
    ink = FontsRenderer(catalog.faces, 128).render(RECORDS[:1])
    assert line.shape == ink.shape and not np.array_equal(line, ink)
    with pytest.raises(gs.ConfigError, match="centring"):
        FontsRenderer(catalog.faces, 32, centring="middle")


def test_codes_records_and_store_agree(mini_store) -> None:
    dataset = gs.GroupDataset.from_store(mini_store)
    renderer = load_renderer(mini_store)
    rows = np.array([0, 7, 50, len(dataset) - 1])
    from_codes = renderer.render(dataset.labels[rows], dataset.schema)
    from_records = renderer.render(dataset.records(rows))
    assert np.array_equal(from_codes, dataset.load_uint8(rows))
    assert np.array_equal(from_records, from_codes)
