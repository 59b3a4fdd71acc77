"""Geometry of the procedural dSprites generator."""

import numpy as np
import pytest
from groupsup_dsprites import SIZES, generate, position_px, rasterise, select, select_all
from groupsup_dsprites.factors import orientation_value, scale_value

STEP = 2 * np.pi / SIZES["orientation"]


def _centred(shape, scale, angle, centre=32.0):
    """Masks ``(n, 64, 64)`` of sprites of one *shape* at the canvas centre (a pixel corner)."""
    n = len(angle)
    return rasterise(np.full(n, shape), np.full(n, scale), np.asarray(angle), np.full(n, centre),
                     np.full(n, centre))


def _centroid(masks):
    rows, cols = np.indices(masks.shape[1:]) + 0.5
    area = masks.sum(axis=(1, 2))
    return (masks * cols).sum(axis=(1, 2)) / area, (masks * rows).sum(axis=(1, 2)) / area


def test_fast_generator_equals_full_canvas_rasterisation():
    subset = {"scale": [0, 5], "orientation": 7, "pos_x": [0, 1, 2, 3, 30, 31], "pos_y": 5}
    images, classes = generate(subset)
    direct = rasterise(classes[:, 0], scale_value(classes[:, 1]), orientation_value(classes[:, 2]),
                       position_px(classes[:, 3]), position_px(classes[:, 4]))
    assert images.dtype == np.uint8 and images.shape == (3 * 2 * 7 * 6 * 5, 64, 64)
    assert set(np.unique(images)) == {0, 255}
    np.testing.assert_array_equal(images, direct.astype(np.uint8) * 255)


def test_order_matches_the_released_file_and_is_deterministic():
    subset = {"orientation": 3, "pos_x": 2, "pos_y": 2}
    images, classes = generate(subset)
    chosen = select_all(subset)
    sizes = [len(chosen[f]) for f in chosen]
    codes = np.stack(np.unravel_index(np.arange(len(classes)), sizes), axis=1)
    expected = np.stack([chosen[f][codes[:, j]] for j, f in enumerate(chosen)], axis=1)
    np.testing.assert_array_equal(classes, expected)
    again, _ = generate(subset)
    np.testing.assert_array_equal(images, again)


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_area_grows_with_scale_as_its_square(shape):
    areas = np.array([_centred(shape, s, [0.3])[0].sum() for s in scale_value(np.arange(6))])
    assert (np.diff(areas) > 0).all()
    assert areas[-1] / areas[0] == pytest.approx(4.0, rel=0.12)


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_centroid_follows_position(shape):
    k = np.arange(SIZES["pos_x"])
    centre = position_px(k)
    n = len(k)
    masks_x = rasterise(np.full(n, shape), np.ones(n), np.full(n, 0.4), centre, np.full(n, 30.0))
    masks_y = rasterise(np.full(n, shape), np.ones(n), np.full(n, 0.4), np.full(n, 30.0), centre)
    cx, _ = _centroid(masks_x)
    _, cy = _centroid(masks_y)
    for moved in (cx, cy):
        assert np.polyfit(k, moved, 1)[0] == pytest.approx(1.25, abs=0.01)
        offset = moved - centre  # constant: the sprite moves rigidly (up to pixelisation)
        assert np.ptp(offset) < 0.3
        if shape != 2:  # square and ellipse are centrally symmetric
            assert np.abs(offset).max() < 0.15


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_every_sprite_lies_wholly_inside_the_canvas(shape):
    k = np.array([0, 31])
    angles = orientation_value(np.arange(SIZES["orientation"]))
    n = len(angles)
    for px in position_px(k):
        for py in position_px(k):
            inside = rasterise(np.full(n, shape), np.ones(n), angles, np.full(n, px),
                               np.full(n, py))
            roomy = rasterise(np.full(n, shape), np.ones(n), angles, np.full(n, px + 32),
                              np.full(n, py + 32), 128, 128)
            np.testing.assert_array_equal(inside.sum(axis=(1, 2)), roomy.sum(axis=(1, 2)))


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_ten_orientation_steps_rotate_the_mask_a_quarter_turn(shape):
    angles = orientation_value(np.arange(30))
    masks = _centred(shape, 1.0, angles)
    turned = _centred(shape, 1.0, angles + 10 * STEP)
    for mask, quarter in zip(masks, turned):
        np.testing.assert_array_equal(np.rot90(mask), quarter)  # counter-clockwise as displayed


def test_each_orientation_step_turns_the_sprite_by_2pi_over_40():
    angles = orientation_value(np.arange(SIZES["orientation"]))
    ellipse = _centred(1, 1.0, angles)
    rows, cols = np.indices((64, 64)) + 0.5
    dx, dy = cols - 32.0, -(rows - 32.0)  # y up, so angles are counter-clockwise
    area = ellipse.sum(axis=(1, 2))
    cxx = (ellipse * dx * dx).sum(axis=(1, 2)) / area
    cyy = (ellipse * dy * dy).sum(axis=(1, 2)) / area
    cxy = (ellipse * dx * dy).sum(axis=(1, 2)) / area
    axis = 0.5 * np.arctan2(2 * cxy, cxx - cyy)  # the long axis, defined modulo pi
    error = np.angle(np.exp(2j * (axis - angles))) / 2
    assert np.degrees(np.abs(error)).max() < 1.5  # pixelisation; a step is 9 degrees

    heart = _centred(2, 1.0, angles)
    cx, cy = _centroid(heart)
    pointing = np.arctan2(-(cy - 32.0), cx - 32.0)  # the lobes side: up at angle 0
    error = np.angle(np.exp(1j * (pointing - np.pi / 2 - angles)))
    assert np.degrees(np.abs(error)).max() < 3.0  # its centroid is only 1.5 px off centre
    assert np.ptp(heart.sum(axis=(1, 2))) < 0.05 * heart.sum(axis=(1, 2)).mean()


def test_subset_selection():
    assert select("orientation", 4).tolist() == [0, 13, 26, 39]
    assert select("shape", ["heart", 0]).tolist() == [0, 2]
    assert select("scale", None).tolist() == list(range(6))
    with pytest.raises(ValueError, match=r"'pos_x': count 33 is outside 1..32"):
        select("pos_x", 33)
    with pytest.raises(ValueError, match=r"'scale': class 6 is outside 0..5"):
        select("scale", [1, 6])
    with pytest.raises(ValueError, match="'shape': 'star' is not a class index"):
        select("shape", ["star"])
    with pytest.raises(ValueError, match="lists a class twice"):
        select("pos_y", [3, 3])
    with pytest.raises(ValueError, match=r"unknown factors \['colour'\]"):
        select_all({"colour": 1})
