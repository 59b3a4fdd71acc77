"""The ``dsprites`` dataset: the released archive, or the same grid rendered procedurally."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

import groupsup as gs
from groupsup_dsprites.factors import FACTORS, SHAPES, SIZES, Choice, select_all
from groupsup_dsprites.npz import FILE_NAME, open_archive, read_classes, read_images
from groupsup_dsprites.render import generate


class DSprites(gs.Schema):
    """dSprites: five factors, two latent dimensions each (z = 10), as in the paper.

    Values are class indices (see :mod:`groupsup_dsprites.factors`), shapes by name.
    """

    shape = gs.Attribute(values=SHAPES, latent=2)
    scale = gs.Attribute(values=tuple(range(SIZES["scale"])), latent=2,
                         description="class k: scale 0.5 + 0.1 k")
    orientation = gs.Attribute(values=tuple(range(SIZES["orientation"])), latent=2,
                               description="class k: 2 pi k / 40 radians, counter-clockwise")
    pos_x = gs.Attribute(values=tuple(range(SIZES["pos_x"])), latent=2,
                         description="class k: x = k / 31, left to right")
    pos_y = gs.Attribute(values=tuple(range(SIZES["pos_y"])), latent=2,
                         description="class k: y = k / 31, top to bottom")


class DSpritesOptions(BaseModel):
    """Options of the ``dsprites`` dataset (``[dataset] options`` in an experiment config)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["file", "generate"] = Field(
        default="file", description="read the released archive, or render the grid procedurally")
    root: Path = Field(default=Path("data/dsprites"),
                       description=f"folder holding {FILE_NAME} (source = 'file')")
    subset: dict[Literal["shape", "scale", "orientation", "pos_x", "pos_y"],
                 int | list[int | str]] = Field(
        default_factory=dict,
        description="fewer values per factor: a count (evenly spread) or a list of class "
                    "indices (shape also by name), e.g. {orientation = 10, pos_x = 8}")

    @field_validator("subset")
    @classmethod
    def _valid_subset(cls, subset: dict[str, Choice]) -> dict[str, Choice]:
        select_all(subset)  # raises ValueError naming the factor and value
        return subset


def load(options: DSpritesOptions) -> gs.GroupDataset:
    """Build the dataset: uint8 ``(N, 64, 64, 1)`` images (0/255) and class-index labels.

    With a ``subset`` the schema's vocabularies shrink to the chosen classes (values stay the
    class indices of the full grid), so codes are contiguous and no value is empty.
    """
    chosen = select_all(options.subset)
    if options.source == "generate":
        images, classes = generate(options.subset)
        name = "dsprites (generated)"
    else:
        path = options.root / FILE_NAME
        with open_archive(path) as archive:
            classes = read_classes(archive, path)
            keep = np.ones(len(classes), dtype=bool)
            for j, factor in enumerate(FACTORS):
                keep &= np.isin(classes[:, j], chosen[factor])
            images = read_images(archive, path, keep)
        classes = classes[keep]
        if not len(classes):
            raise gs.DataError(f"{path}: no image matches the subset {options.subset}")
        name = "dsprites"
    codes = np.stack([np.searchsorted(chosen[f], classes[:, j]) for j, f in enumerate(FACTORS)],
                     axis=1)
    schema = DSprites if not options.subset else DSprites.with_values(
        shape=[SHAPES[k] for k in chosen["shape"]],
        **{f: chosen[f].tolist() for f in FACTORS[1:]})
    return gs.GroupDataset.from_arrays(schema, images[..., None], codes, name=name)


# The released archive at the repository's last commit (google-deepmind/dsprites-dataset
# fa310c6; the file itself is git blob d98996d3f8ee1550e06b9d4ed78d0beb478910d5, added in
# 5bf8275), pinned so that the bytes behind the URL cannot change under the checksum. DeepMind
# publishes no checksum, and no sha256 or byte size of this .npz was found in a source we could
# check, so neither is declared (none is made up): the md5 is the one that many independent
# loaders of this very file agree on (e.g. the dSprites loaders of latte, vaetc and the
# torchvision-style "Resource" declarations); the server's Content-Length sizes the download.
DOWNLOAD = gs.Download(
    path=FILE_NAME,
    url="https://raw.githubusercontent.com/google-deepmind/dsprites-dataset/"
        f"fa310c66517cfc1939d77fe17c725154efc97127/{FILE_NAME}",
    md5="7da33b31b13a06f4b04a70402ce90c2e",
)

SPEC = gs.DatasetSpec(
    schema=DSprites,
    load=load,
    options_model=DSpritesOptions,
    expects=f"<root>/{FILE_NAME} (the released archive), or source = 'generate' for no file",
    description="dSprites: 64x64 binary sprites, shape x scale x orientation x position "
                "(737,280 images; file or procedural)",
    downloads=(DOWNLOAD,),
)


@gs.hookimpl
def register_datasets(register) -> None:
    register("dsprites", SPEC)
