"""Fonts-v2: optional position, rotation and texture attributes and short words, with exact
ground truth for every combination; the CPU-scale config trains and evaluates zero-shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from groupsup_fonts.v2 import FontsV2Options, renderer_for, texture_pattern

import groupsup as gs
from groupsup.train.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "fonts" / "v2.toml"
SMALL = {"image_size": 16, "letters": "A-B", "sizes": ["large"], "font_colors": ["red", "blue"],
         "back_colors": ["red", "blue"], "fonts": ["dejavusans"], "positions": 2,
         "rotations": [0, 90], "textures": ["plain", "checks"]}


def build(**options):
    return gs.get_host().datasets.get("fonts-v2").build(options)


def test_attributes_with_one_value_are_left_out_and_every_combination_renders():
    data = build(**SMALL)
    assert data.schema.names == ("text", "font_color", "back_color", "position", "rotation",
                                 "texture")
    assert len(data) == 2 * 2 * 4 * 2 * 2  # 2 colour pairs
    renderer = renderer_for(FontsV2Options(**SMALL))
    # ground truth on demand equals the stored images, for any label row
    np.testing.assert_array_equal(renderer.render(data.labels), data.load_uint8(
        np.arange(len(data))))


def test_each_attribute_changes_the_pixels_as_described():
    renderer = renderer_for(FontsV2Options(**SMALL))
    names = renderer.schema.names
    base = np.zeros((1, len(names)), np.int64)
    base[0, names.index("back_color")] = 1  # red on blue
    image = renderer.render(base)[0].astype(int)

    def changed(attribute: str) -> np.ndarray:
        row = base.copy()
        row[0, names.index(attribute)] = 1
        return renderer.render(row)[0].astype(int)

    # position: the same glyph moved by whole pixels (the grid step is 16 // 8 = 2)
    moved = changed("position")
    dx, dy = np.subtract(renderer.offsets[1], renderer.offsets[0])
    np.testing.assert_array_equal(np.roll(image, (dy, dx), axis=(0, 1)), moved)
    # rotation by 90 degrees about the centre keeps the ink amount (bilinear, exact at 90)
    ink = (image != image[0, 0]).any(-1).sum()
    assert abs((changed("rotation") != image[0, 0]).any(-1).sum() - ink) <= ink * 0.1
    # texture on the glyph: background pixels unchanged, glyph pixels dimmed on the motif gaps
    textured = changed("texture")
    background = (image == image[0, 0]).all(-1)
    np.testing.assert_array_equal(textured[background], image[background])
    assert (textured != image).any()
    np.testing.assert_allclose(np.unique(texture_pattern("checks", 16)), [0.45, 1.0])


def test_words_and_texture_on_the_background():
    data = build(**{**SMALL, "words": ["cat", "sun"], "rotations": [0],
                    "texture_on": "background", "positions": 1})
    assert data.schema["text"].values == ("cat", "sun")
    assert "rotation" not in data.schema.names and "position" not in data.schema.names
    with pytest.raises(gs.ConfigError, match="words must be distinct"):
        build(**{**SMALL, "words": ["cat", "cat"]})


def test_v2_config_trains_and_evaluates_zero_shot(tmp_path):
    config = load_config(EXAMPLE, [
        "dataset.options.image_size=16", "dataset.options.letters=A-C",
        "dataset.options.fonts=['dejavusans']", "model.options={width=4, max_width=8}",
        "train.steps=2", "train.groups_per_step=2", "train.progress=false",
        f"train.out={tmp_path / 'run'}"])
    result = gs.Trainer(config).fit()
    metrics = gs.evaluate_run(result.run_dir, progress=False, report=False, options=gs.EvalOptions(
        max_examples=6, classifier_steps=2, leakage_examples=4, coprediction_examples=24,
        code_metrics=(), sheet_rows=2))
    assert metrics["synthesis"]["held_out"] and metrics["synthesis"]["novel_values"] == {}
    assert {"position", "rotation", "texture"} <= set(metrics["leakage"]["attributes"])
