"""The ``rafd`` dataset: RaFD read from its raw file names, head-cropped and resized on load.

Labels come from the file names and nothing is copied: identity (the model number),
expression and pose (camera angle), filtered to the paper's expressions and frontal gaze.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

import groupsup as gs
from groupsup_rafd.crop import CropBox
from groupsup_rafd.names import EXPRESSIONS, GAZES, NAME_FORMAT, POSES, parse_name

PAPER_EXPRESSIONS = ("happy", "neutral", "surprised", "disgusted", "contemptuous")
TEST_FRACTION = 0.2
LAYOUT = f"<root>/{NAME_FORMAT}.jpg (the raw 681x1024 frames, any sub-folders)"

# Literal[("a", "b")] is Literal["a", "b"]: the options accept exactly the names RaFD uses.
Expression = Literal[EXPRESSIONS]
Gaze = Literal[GAZES]
Pose = Literal[POSES]


class RaFD(gs.Schema):
    """RaFD in the paper's partition (z = 100); values are discovered from the files."""

    identity = gs.Attribute(latent=60, description="model number as in the name, e.g. '01'")
    expression = gs.Attribute(latent=20, description="e.g. happy")
    pose = gs.Attribute(latent=20, description="camera angle: 000 045 090 135 180")


def _distinct(values: list[str], what: str) -> list[str]:
    if not values:
        raise ValueError(f"choose at least one {what}")
    if len(set(values)) != len(values):
        raise ValueError(f"a {what} is listed twice: {values}")
    return values


class RaFDOptions(BaseModel):
    """Options of the ``rafd`` dataset (``[dataset] options`` in an experiment config)."""

    model_config = ConfigDict(extra="forbid")

    root: Path = Field(default=Path("data/rafd"), description="folder holding the RaFD images")
    expressions: list[Expression] = Field(
        default=list(PAPER_EXPRESSIONS), description="expressions to keep (the paper's five)")
    gazes: list[Gaze] = Field(
        default=["frontal"], description="gaze directions to keep (the paper: frontal)")
    poses: list[Pose] = Field(
        default=list(POSES), description="camera angles to keep")
    crop: CropBox | Literal[False] = Field(
        default_factory=CropBox, description="square head crop relative to the frame, or "
                                             "false for images that are already cropped")
    image_size: int | None = Field(default=128, gt=0, description="resize the crop to this "
                                   "side on load (the paper: 128); None: keep the crop's size")

    @field_validator("expressions", "gazes", "poses")
    @classmethod
    def _distinct_values(cls, values: list[str], info) -> list[str]:
        return _distinct(values, info.field_name.removesuffix("s"))


def scan(options: RaFDOptions) -> tuple[list[Path], list[dict[str, str]]]:
    """Image paths and label records that pass the filters, sorted by path."""
    root = options.root
    if not root.is_dir():
        raise gs.DataError(f"{root}: RaFD folder not found; expected {LAYOUT}")
    keep = (set(options.expressions), set(options.gazes), set(options.poses))

    def parse(path: Path) -> dict[str, str] | None:
        face = parse_name(path.stem)
        if (face.expression in keep[0]) and (face.gaze in keep[1]) and (face.pose in keep[2]):
            return {"identity": face.identity, "expression": face.expression, "pose": face.pose}
        return None

    found = gs.scan_images(root, parse)
    if not found.files:
        raise gs.DataError(f"{root}: no image files; expected {LAYOUT}")
    if not found.paths:
        raise gs.DataError(f"{root}: none of {found.files} images has an expression in "
                           f"{options.expressions}, a gaze in {options.gazes} and a camera angle "
                           f"in {options.poses}")
    return found.paths, found.records


def load(options: RaFDOptions) -> gs.GroupDataset:
    """Build the dataset; frames are decoded, cropped and resized on demand."""
    paths, records = scan(options)
    transform = options.crop or None
    return gs.GroupDataset.from_files(RaFD, paths, records, image_size=options.image_size,
                                      channels=3, name="rafd", transform=transform)


def identity_split(dataset: gs.GroupDataset, seed: int,
                   test_fraction: float = TEST_FRACTION) -> gs.Split:
    """Hold out a random *test_fraction* of the identities (at least one), seeded.

    Training gets the larger side (80% of the people by default); every expression and pose
    stays in training, but the test people are never seen, so the test side measures how the
    model carries over to new faces rather than zero-shot synthesis of seen values.
    """
    column = dataset.schema.names.index("identity")
    present = np.unique(dataset.labels[:, column])
    if len(present) < 2:
        raise gs.DataError(f"{dataset.name}: an identity split needs at least 2 identities, "
                           f"found {len(present)}")
    n_test = min(len(present) - 1, max(1, round(test_fraction * len(present))))
    held = np.random.default_rng(seed).choice(present, size=n_test, replace=False)
    test_mask = np.isin(dataset.labels[:, column], held)
    names = [dataset.schema["identity"].values[k] for k in np.sort(held).tolist()]
    return gs.Split(np.flatnonzero(~test_mask), np.flatnonzero(test_mask),
                 np.unique(dataset.labels[test_mask], axis=0),
                 f"rafd identity split (seed {seed}): test identities {names}",
                 dataset.schema.names)


SPEC = gs.DatasetSpec(
    schema=RaFD,
    load=load,
    options_model=RaFDOptions,
    expects=LAYOUT,
    description="Radboud Faces (RaFD): identity, expression, pose; frontal gaze, the paper's "
                "5 expressions, head crop",
    splits={"identity": identity_split},
    access="RaFD is distributed by Radboud University (rafd.socsci.ru.nl) to researchers who "
           "accept its licence: request it there. Put the images, as they come, under one "
           "folder (default data/rafd; sub-folders are fine):\n"
           "    data/rafd/Rafd090_01_Caucasian_female_happy_frontal.jpg\n"
           "    data/rafd/Rafd090_01_Caucasian_female_happy_left.jpg\n"
           "    ...  (Rafd<POSE>_<ID>_<ethnicity>_<gender>_<expression>_<gaze>.jpg)",
)


@gs.hookimpl
def register_datasets(register) -> None:
    register("rafd", SPEC)
