"""The colour-artefact measure of synthesised Fonts images, on constructed images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from groupsup_fonts import COLOURS, fonts_schema
from groupsup_fonts.artefacts import colour_artefacts, edge_band, largest_clusters
from groupsup_fonts.plugin import ARTEFACTS

import groupsup as gs

SIZE = 16


def _dataset() -> gs.GroupDataset:
    schema = fonts_schema(fonts=["a", "b"], letters="AB", font_colors=["red", "blue"],
                          back_colors=["yellow", "blue"])
    labels = np.array([[0, 0, 0, 0, 0]])
    return gs.GroupDataset.from_arrays(schema, np.zeros((1, SIZE, SIZE, 3), np.uint8), labels)


def _image(font: str, back: str, coverage: np.ndarray) -> torch.Tensor:
    """``(3, H, W)`` in [-1, 1]: the two colours blended by *coverage* ``(H, W)`` in [0, 1]."""
    f, b = (np.array(COLOURS[c], dtype=np.float64) / 255 for c in (font, back))
    rgb = b[:, None, None] * (1 - coverage) + f[:, None, None] * coverage
    return torch.tensor(rgb * 2 - 1, dtype=torch.float32)


def _glyph() -> np.ndarray:
    """A 6x4 bar with an antialiased (half-covered) left column."""
    coverage = np.zeros((SIZE, SIZE))
    coverage[5:11, 6:10] = 1.0
    coverage[5:11, 5] = 0.5
    return coverage


def test_two_colour_images_and_their_blends_have_no_artefacts():
    data = _dataset()
    labels = np.array([[0, 0, 0, 0, 0], [1, 0, 1, 0, 1]])  # red on yellow, blue on yellow
    truth = torch.stack([_image("red", "yellow", _glyph()), _image("blue", "yellow", _glyph())])
    # a blurred synthesis stays on the colour segment: blends are not artefacts
    blurred = torch.stack([_image("red", "yellow", _glyph() * 0.6 + 0.2),
                           _image("blue", "yellow", np.full((SIZE, SIZE), 0.5))])
    for synth in (truth, blurred):
        result = colour_artefacts(synth, truth, labels, data)
        assert result["pixels"] == 0 and result["rate"] == 0.0
        assert result["images_with_clusters"] == 0 and result["n"] == 2


def test_a_droplet_of_foreign_colour_is_counted_outside_the_edge_band():
    data = _dataset()
    labels = np.array([[0, 0, 0, 0, 0]])  # red glyph on yellow
    truth = _image("red", "yellow", _glyph())[None]
    synth = truth.clone()
    synth[0, :, 0:2, 0:2] = -1.0          # a 2x2 black droplet in the corner (far from the glyph)
    synth[0, :, 14, 14] = torch.tensor([-1.0, 1.0, 1.0])  # one cyan speck
    synth[0, :, 4, 7] = -1.0               # black on the glyph's edge band: not counted
    result = colour_artefacts(synth, truth, labels, data)
    assert result["pixels"] == 5
    assert result["rate"] == pytest.approx(5 / SIZE**2)
    assert result["percent"] == pytest.approx(100 * 5 / SIZE**2)
    assert result["images_with_artefacts"] == 1
    assert result["largest_cluster"] == 4 and result["images_with_clusters"] == 1


def test_the_colours_are_those_requested_not_the_truths():
    """A synthesis in the wrong colours is all artefact: it is judged against the request."""
    data = _dataset()
    truth = _image("red", "yellow", np.zeros((SIZE, SIZE)))[None]   # plain yellow
    synth = _image("red", "blue", np.zeros((SIZE, SIZE)))[None]     # plain blue instead
    result = colour_artefacts(synth, truth, np.array([[0, 0, 0, 0, 0]]), data)
    assert result["pixels"] == SIZE**2 and result["largest_cluster"] == SIZE**2


def test_edge_band_and_clusters():
    truth = np.zeros((1, 8, 8, 3))
    truth[0, 3:5, 3:5] = 1.0
    band = edge_band(truth, band=1)
    # edge pixels (both sides of the square's border) dilated by one: rows/columns 1..6
    assert band[0, 1:7, 1:7].all() and band[0].sum() == 36
    mask = np.zeros((2, 6, 6), dtype=bool)
    mask[0, 0, 0] = mask[0, 1, 1] = mask[0, 2, 2] = True   # diagonal: 8-connected
    mask[0, 5, 5] = True
    mask[1, 0, 3] = mask[1, 0, 5] = True                   # not connected
    assert largest_clusters(mask).tolist() == [3, 1]


def test_registered_as_the_fonts_synthesis_measure_and_rejects_bad_shapes():
    entry = gs.get_host().evaluations.entry("artefacts")
    assert entry.obj.metric is colour_artefacts and tuple(entry.obj.datasets) == ("fonts",)
    assert entry.obj is ARTEFACTS
    data = _dataset()
    with pytest.raises(gs.DataError, match="labels has 2 rows for 1 images"):
        colour_artefacts(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8),
                         np.zeros((2, 5), int), data)
