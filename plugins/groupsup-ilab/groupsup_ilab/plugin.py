"""The ``ilab`` dataset: iLab-20M (the paper's iLab-6pose subset) read from its raw tree.

Labels come from the file names and nothing is copied or moved: identity = category +
instance, background, and pose = rotation (camera and rotation when several cameras are
chosen). Groups come from the multigraph of these labels.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

import groupsup as gs
from groupsup_ilab.names import NAME_FORMAT, POSE_FOLDER, parse_name

PAPER_ROTATIONS = ("r01", "r02", "r03", "r04", "r06", "r07")
LAYOUT = f"<root>/c<NN>_r<NN>/{NAME_FORMAT}.jpg (one folder per camera_rotation pose)"


class ILab(gs.Schema):
    """iLab-20M in the paper's partition (z = 100); values are discovered from the tree."""

    identity = gs.Attribute(latent=60, description="<category>-<instance>, e.g. boat-i0001")
    background = gs.Attribute(latent=20, description="background id, e.g. b0001")
    pose = gs.Attribute(latent=20, description="rotation (r01), or camera_rotation (c00_r01) "
                                               "when several cameras are chosen")


def _ids(values: list[str], prefix: str, what: str) -> list[str]:
    if not values:
        raise ValueError(f"choose at least one {what}")
    for value in values:
        if not re.fullmatch(rf"{prefix}\d+", value):
            raise ValueError(f"{what} {value!r} is not of the form {prefix}NN (e.g. {prefix}00)")
    if len(set(values)) != len(values):
        raise ValueError(f"a {what} is listed twice: {values}")
    return values


class ILabOptions(BaseModel):
    """Options of the ``ilab`` dataset (``[dataset] options`` in an experiment config)."""

    model_config = ConfigDict(extra="forbid")

    root: Path = Field(default=Path("data/ilab"), description="folder holding the pose folders")
    categories: list[str] | None = Field(
        default=None, description="categories to keep (e.g. ['boat', 'car']); None: all found")
    cameras: list[str] = Field(default=["c00"], description="camera ids (the paper: c00)")
    rotations: list[str] = Field(default=list(PAPER_ROTATIONS),
                                 description="rotation ids (the paper: r01-r04, r06, r07)")
    image_size: int | None = Field(default=128, gt=0, description="resize to this side on "
                                   "load (raw 256 px, the paper 128 px); None: keep the raw size")

    @field_validator("cameras")
    @classmethod
    def _cameras(cls, values: list[str]) -> list[str]:
        return _ids(values, "c", "camera")

    @field_validator("rotations")
    @classmethod
    def _rotations(cls, values: list[str]) -> list[str]:
        return _ids(values, "r", "rotation")

    @field_validator("categories")
    @classmethod
    def _categories(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and not values:
            raise ValueError("choose at least one category, or leave categories out for all")
        return values


def _pose_folders(options: ILabOptions) -> list[Path]:
    """The chosen pose folders under the root, each checked to exist."""
    root = options.root
    if not root.is_dir():
        raise gs.DataError(f"{root}: iLab-20M folder not found; expected {LAYOUT}")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and POSE_FOLDER.match(p.name))
    if not found:
        entries = sorted(p.name for p in root.iterdir())[:5]
        raise gs.DataError(f"{root}: no pose folders like c00_r01 (found {entries}); "
                           f"expected {LAYOUT}")
    wanted = [f"{c}_{r}" for c in options.cameras for r in options.rotations]
    missing = [name for name in wanted if name not in found]
    if missing:
        raise gs.DataError(f"{root}: pose folders {missing} are missing (found {found}); "
                           "choose cameras and rotations that exist")
    return [root / name for name in wanted]


def scan(options: ILabOptions) -> tuple[list[Path], list[dict[str, str]]]:
    """Image paths and label records of the chosen poses and categories.

    Pose folders come in the order of the options (cameras, then rotations), files sorted
    within each, so the order is deterministic.
    """
    several_cameras = len(options.cameras) > 1
    keep = None if options.categories is None else set(options.categories)
    categories: set[str] = set()  # every category seen, kept or not, to name a misspelt one

    def parse(path: Path) -> dict[str, str] | None:
        name = parse_name(path.stem)
        folder = path.relative_to(options.root).parts[0]
        if name.pose_folder != folder:
            raise ValueError(f"camera and rotation {name.pose_folder} in the name do not match "
                             f"its folder {folder}")
        categories.add(name.category)
        if keep is not None and name.category not in keep:
            return None
        return {"identity": name.identity, "background": name.background,
                "pose": name.pose_folder if several_cameras else name.rotation}

    paths: list[Path] = []
    records: list[dict[str, str]] = []
    for folder in _pose_folders(options):
        found = gs.scan_images(folder, parse)
        paths += found.paths
        records += found.records
    if keep is not None and keep - categories:
        unknown = sorted(keep - categories)
        close = difflib.get_close_matches(unknown[0], sorted(categories), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise gs.DataError(f"{options.root}: categories {unknown} have no images in the chosen "
                           f"poses{hint}; found {sorted(categories)}")
    if not paths:
        raise gs.DataError(f"{options.root}: no images in pose folders "
                           f"{[f'{c}_{r}' for c in options.cameras for r in options.rotations]}; "
                           f"expected {LAYOUT}")
    return paths, records


def load(options: ILabOptions) -> gs.GroupDataset:
    """Build the dataset; images are decoded (and resized) on demand."""
    paths, records = scan(options)
    return gs.GroupDataset.from_files(ILab, paths, records, image_size=options.image_size,
                                      channels=3, name="ilab")


SPEC = gs.DatasetSpec(
    schema=ILab,
    load=load,
    options_model=ILabOptions,
    expects=LAYOUT,
    access="iLab-20M (Borji, Izadi and Itti, CVPR 2016) is distributed by USC's iLab "
           "(ilab.usc.edu): request it there. Unpack the pose folders you need under one root "
           "(default data/ilab), as they come:\n"
           "    data/ilab/c00_r01/boat-i0001-b0001-c00-r01-l0-f2.jpg\n"
           "    data/ilab/c00_r01/car-i0001-b0001-c00-r01-l0-f2.jpg\n"
           "    data/ilab/c00_r02/...  (the paper: c00_r01 ... c00_r04, c00_r06, c00_r07)",
    description="iLab-20M toy vehicles (iLab-6pose: camera c00, 6 rotations): identity, "
                "background, pose",
)


@gs.hookimpl
def register_datasets(register) -> None:
    register("ilab", SPEC)
