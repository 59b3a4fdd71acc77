"""The dSprites factors of variation, their values, and subsets of them.

Every image of dSprites is one combination of five factors (plus a constant colour). A factor
value is identified by its *class index*, as in the released file's ``latents_classes``:

========== ======= ============================================
factor     classes value of class k
========== ======= ============================================
shape      3       square, ellipse, heart
scale      6       0.5 + 0.1 k (6 values linearly spaced in [0.5, 1])
orientation 40     2 pi k / 40 radians, counter-clockwise
pos_x      32      k / 31 in [0, 1], left to right
pos_y      32      k / 31 in [0, 1], top to bottom
========== ======= ============================================

Images are ordered like the released file: C order over (shape, scale, orientation, pos_x,
pos_y), so example ``i`` has class indices ``np.unravel_index(i, sizes)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
FACTORS: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
SIZES: dict[str, int] = {"shape": 3, "scale": 6, "orientation": 40, "pos_x": 32, "pos_y": 32}
IMAGE_SIZE = 64

Choice = int | Sequence[int | str]


def scale_value(k: np.ndarray | int) -> np.ndarray:
    """Scale of class *k*: ``0.5 + 0.1 k``."""
    return 0.5 + 0.5 * np.asarray(k, dtype=np.float64) / (SIZES["scale"] - 1)


def orientation_value(k: np.ndarray | int) -> np.ndarray:
    """Orientation of class *k* in radians: ``2 pi k / 40``."""
    return 2 * np.pi * np.asarray(k, dtype=np.float64) / SIZES["orientation"]


def select(factor: str, choice: Choice | None) -> np.ndarray:
    """Sorted class indices of *factor* to keep.

    ``None``: all of them; an int ``n``: ``n`` values evenly spread over the range (always the
    first and the last); a list: those class indices (shape also accepts its names).
    Raises ``ValueError`` naming the factor and the bad value.
    """
    size = SIZES[factor]
    if choice is None:
        return np.arange(size)
    if isinstance(choice, bool):
        raise ValueError(f"subset of {factor!r}: give a count or a list of class indices, "
                         f"not {choice!r}")
    if isinstance(choice, int):
        if not 1 <= choice <= size:
            raise ValueError(f"subset of {factor!r}: count {choice} is outside 1..{size}")
        return np.round(np.linspace(0, size - 1, choice)).astype(np.int64)
    indices = []
    for item in choice:
        if isinstance(item, str):
            if factor != "shape" or item not in SHAPES:
                names = f" or one of {list(SHAPES)}" if factor == "shape" else ""
                raise ValueError(f"subset of {factor!r}: {item!r} is not a class index{names}")
            item = SHAPES.index(item)
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < size:
            raise ValueError(f"subset of {factor!r}: class {item!r} is outside 0..{size - 1}")
        indices.append(item)
    if not indices:
        raise ValueError(f"subset of {factor!r} is empty")
    if len(set(indices)) != len(indices):
        raise ValueError(f"subset of {factor!r} lists a class twice: {list(choice)}")
    return np.array(sorted(indices), dtype=np.int64)


def select_all(subset: Mapping[str, Choice] | None) -> dict[str, np.ndarray]:
    """:func:`select` for every factor; *subset* maps factor names to choices."""
    subset = dict(subset or {})
    unknown = [name for name in subset if name not in SIZES]
    if unknown:
        raise ValueError(f"subset names unknown factors {unknown}; factors are {list(FACTORS)}")
    return {name: select(name, subset.get(name)) for name in FACTORS}
