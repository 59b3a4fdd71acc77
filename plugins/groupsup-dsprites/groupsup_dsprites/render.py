"""Procedural dSprites: a vectorised rasteriser and a generator of the whole factor grid.

Geometry (pixels; pixel ``(row r, column c)`` covers ``[c, c + 1) x [r, r + 1)`` and is white
when its centre lies inside the sprite):

- position class k puts the sprite's centre at ``POS_FIRST + POS_STEP * k`` along x (columns,
  left to right) and along y (rows, top to bottom): 32 positions spanning 38.75 px, centred on
  the 64 px canvas, with the largest sprite (radius <= 11.5 px) always wholly inside it;
- at scale 1 the square is 16 px wide, the ellipse has semi-axes 11 and 5.5 px, and the heart
  is the curve ``(x^2 + y^2 - 1)^3 <= x^2 y^3`` at ``HEART_UNIT`` px per unit, lobes up;
  scale s multiplies every length by s;
- orientation theta rotates the sprite counter-clockwise (as displayed) about its centre; the
  heart turns about the centre of its bounding box.

Because ``POS_STEP`` is 1.25 px, sprite centres take only four sub-pixel phases per axis. The
generator rasterises each (shape, scale, orientation) once per phase pair in a small window
and pastes the windows at their integer offsets; sampling at pixel centres commutes with
integer shifts, so this equals rasterising every image on the full canvas (a test checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from groupsup_dsprites.factors import (
    IMAGE_SIZE,
    SIZES,
    Choice,
    orientation_value,
    scale_value,
    select_all,
)

POS_FIRST = 12.625
POS_STEP = 1.25
SQUARE_HALF_SIDE = 8.0
ELLIPSE_SEMI_AXES = (11.0, 5.5)
HEART_UNIT = 8.6
HEART_PIVOT = 0.118  # the heart's y range is [-1, 1.236]: its bounding box is centred here
MAX_RADIUS = 11.5  # farthest sprite pixel from the centre at scale 1 (the heart's tip)
WINDOW_HALF = int(np.ceil(MAX_RADIUS)) + 2  # windows of 2 * WINDOW_HALF px hold any sprite


def position_px(k: np.ndarray | int) -> np.ndarray:
    """Pixel coordinate of the sprite centre at position class *k* (x and y alike)."""
    return POS_FIRST + POS_STEP * np.asarray(k, dtype=np.float64)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= SQUARE_HALF_SIDE


def _ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a, b = ELLIPSE_SEMI_AXES
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = u / HEART_UNIT
    y = v / HEART_UNIT + HEART_PIVOT
    x2 = x * x
    return (x2 + y * y - 1.0) ** 3 <= x2 * y ** 3


_MEMBERSHIP: tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], ...] = (
    _square, _ellipse, _heart)


def rasterise(shape: np.ndarray, scale: np.ndarray, angle: np.ndarray, cx: np.ndarray,
              cy: np.ndarray, height: int = IMAGE_SIZE, width: int = IMAGE_SIZE) -> np.ndarray:
    """Binary masks ``(n, height, width)`` (bool) of *n* sprites.

    *shape*: class indices ``(n,)`` (0 square, 1 ellipse, 2 heart); *scale*: ``(n,)`` factors;
    *angle*: ``(n,)`` radians, counter-clockwise; *cx*, *cy*: ``(n,)`` centres in pixels
    (column and row axes, pixel centres at ``k + 0.5``).
    """
    shape = np.asarray(shape, dtype=np.int64)
    scale = np.asarray(scale, dtype=np.float64)[:, None, None]
    angle = np.asarray(angle, dtype=np.float64)[:, None, None]
    dx = np.arange(width, dtype=np.float64)[None, None, :] + 0.5 - np.asarray(cx)[:, None, None]
    dy = np.arange(height, dtype=np.float64)[None, :, None] + 0.5 - np.asarray(cy)[:, None, None]
    cos, sin = np.cos(angle), np.sin(angle)
    # Screen offsets (dx right, dy down) -> the sprite's own frame (u along it, v up).
    u = (cos * dx - sin * dy) / scale
    v = (-sin * dx - cos * dy) / scale
    inside = np.zeros((len(shape), height, width), dtype=bool)
    for k, member in enumerate(_MEMBERSHIP):
        rows = np.flatnonzero(shape == k)
        if rows.size:
            inside[rows] = member(u[rows], v[rows])
    return inside


def generate(subset: Mapping[str, Choice] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Render dSprites (or the *subset* of factor values, see :func:`factors.select`).

    Returns ``(images, classes)``: uint8 ``(N, 64, 64)`` images with values 0 and 255, and
    int64 ``(N, 5)`` class indices of (shape, scale, orientation, pos_x, pos_y), in the
    released file's order. Deterministic; the full grid (737,280 images, 3 GB) takes seconds.
    """
    chosen = select_all(subset)
    sprites = np.meshgrid(chosen["shape"], chosen["scale"], chosen["orientation"], indexing="ij")
    shape, scale_k, angle_k = (s.reshape(-1) for s in sprites)
    n_sprites = shape.size
    centre_x, centre_y = position_px(chosen["pos_x"]), position_px(chosen["pos_y"])
    # Window origins (integer) and the sub-pixel phase of each centre inside its window.
    origin_x = np.floor(centre_x).astype(np.int64) - WINDOW_HALF
    origin_y = np.floor(centre_y).astype(np.int64) - WINDOW_HALF
    phases_x, phase_of_x = np.unique(centre_x - origin_x, return_inverse=True)
    phases_y, phase_of_y = np.unique(centre_y - origin_y, return_inverse=True)

    side = 2 * WINDOW_HALF
    windows = np.empty((n_sprites, phases_x.size, phases_y.size, side, side), dtype=np.uint8)
    scale, angle = scale_value(scale_k), orientation_value(angle_k)
    for a, px in enumerate(phases_x):
        for b, py in enumerate(phases_y):
            mask = rasterise(shape, scale, angle, np.full(n_sprites, px), np.full(n_sprites, py),
                             side, side)
            np.multiply(mask, 255, out=windows[:, a, b], casting="unsafe")

    n_x, n_y = centre_x.size, centre_y.size
    images = np.zeros((n_sprites, n_x, n_y, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    cols = [_clip(int(o)) for o in origin_x]
    rows = [_clip(int(o)) for o in origin_y]
    for i in range(n_x):  # one vectorised paste (over every sprite) per position
        canvas_c, window_c = cols[i]
        for j in range(n_y):
            canvas_r, window_r = rows[j]
            images[:, i, j, canvas_r, canvas_c] = windows[:, phase_of_x[i], phase_of_y[j],
                                                          window_r, window_c]
    grid = np.meshgrid(*(chosen[name] for name in chosen), indexing="ij")
    classes = np.stack([g.reshape(-1) for g in grid], axis=1)
    return images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE), classes


def _clip(origin: int) -> tuple[slice, slice]:
    """Canvas and window slices of a window at *origin*, clipped to the canvas.

    The clipped margin is empty: every sprite lies inside the canvas.
    """
    start, stop = max(origin, 0), min(origin + 2 * WINDOW_HALF, IMAGE_SIZE)
    return slice(start, stop), slice(start - origin, stop - origin)


def full_size() -> int:
    """Number of images in the full grid (737,280)."""
    return int(np.prod(list(SIZES.values())))
