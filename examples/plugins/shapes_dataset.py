"""A dataset plugin: coloured shapes drawn with numpy, so it needs no file and runs anywhere.

    GROUPSUP_PLUGINS=examples/plugins/shapes_dataset.py groupsup datasets shapes
    GROUPSUP_PLUGINS=examples/plugins/shapes_dataset.py groupsup train my.toml

with ``[dataset] name = "shapes"`` and ``options = { image_size = 16 }`` in ``my.toml``.
Three attributes (shape, colour, position) in every combination, ``copies`` times each; a copy
differs from the others by a little pixel noise, so no two examples are identical.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import groupsup as gs

COLOURS = {"red": (220, 20, 60), "green": (0, 128, 0), "blue": (0, 0, 255)}


class Shapes(gs.Schema):
    """The attributes, their vocabularies (codes 0..K-1 in this order) and latent block sizes
    (z has 4 + 4 + 4 = 12 dimensions unless a config's ``[schema] latent`` changes them)."""

    shape = gs.Attribute(values=["square", "plus", "bar"], latent=4)
    colour = gs.Attribute(values=list(COLOURS), latent=4)
    position = gs.Attribute(values=["left", "right"], latent=4,
                            description="horizontal centre at 1/4 or 3/4 of the width")


class ShapesOptions(BaseModel):
    """``[dataset] options`` of ``shapes``; ``extra="forbid"`` makes a misspelled key an error
    that names it (with a did-you-mean)."""

    model_config = ConfigDict(extra="forbid")

    image_size: int = Field(16, ge=8, le=256, description="square image side in pixels")
    copies: int = Field(2, ge=1, description="examples per attribute combination")
    noise: int = Field(8, ge=0, le=64, description="uniform pixel noise amplitude (0..255 scale)")
    seed: int = Field(0, description="seed of the pixel noise")


def draw(codes: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, size, size, 3)`` images of the label codes ``(N, 3)`` (shape, colour,
    position) on a white background."""
    images = np.full((len(codes), size, size, 3), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    rgb = np.array(list(COLOURS.values()), dtype=np.uint8)
    r = max(size // 5, 1)
    for i, (shape, colour, position) in enumerate(codes.tolist()):
        cx, cy = (size // 4 if position == 0 else 3 * size // 4), size // 2
        box = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
        arms = (abs(xx - cx) <= r // 2) | (abs(yy - cy) <= r // 2)
        mask = [box, box & arms, box & (abs(yy - cy) <= r // 2)][shape]
        images[i][mask] = rgb[colour]
    return images


def load(options: ShapesOptions) -> gs.GroupDataset:
    """Every combination of the schema's values, ``options.copies`` times: ``N = 3 * 3 * 2 *
    copies`` examples, labels ``(N, 3)`` int codes, images ``(N, H, W, 3)`` uint8."""
    sizes = [len(a.values) for a in Shapes.attributes]
    grid = np.stack(np.meshgrid(*map(np.arange, sizes), indexing="ij"), -1).reshape(-1, 3)
    codes = np.repeat(grid, options.copies, axis=0)
    images = draw(codes, options.image_size).astype(np.int16)
    rng = np.random.default_rng(options.seed)
    images += rng.integers(-options.noise, options.noise + 1, size=images.shape, dtype=np.int16)
    images = np.clip(images, 0, 255).astype(np.uint8)
    return gs.GroupDataset.from_arrays(Shapes, images, codes, name="shapes")


SPEC = gs.DatasetSpec(
    schema=Shapes,
    load=load,
    options_model=ShapesOptions,
    expects="nothing: the images are drawn on load",
    description="coloured shapes drawn with numpy (example plugin)",
)


@gs.hookimpl
def register_datasets(register) -> None:
    register("shapes", SPEC)
