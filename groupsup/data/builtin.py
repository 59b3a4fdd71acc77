"""Built-in datasets that need no plugin: a compact store, and a labelled image folder.

Both serve custom data from a config file alone (``groupsup train``), with no Python code.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from groupsup.data.dataset import GroupDataset
from groupsup.data.spec import DatasetSpec
from groupsup.hookspecs import hookimpl
from groupsup.schema import Attribute, Schema


class StoreOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="a store directory (manifest.json, images.npy, labels.npy)")
    mmap: bool = Field(default=True, description="memory-map images.npy (read pages on demand) "
                       "instead of loading it whole")


class FolderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root: str = Field(description="the image folder; every image file under it (any depth) is "
                      "an example")
    attributes: dict[str, Annotated[int, Field(gt=0)]] = Field(
        description="attribute name -> latent block size (> 0), in order; values are "
        "discovered from the labels")
    pattern: str | None = Field(default=None, description="file-name pattern relative to root, "
                                "e.g. '{shape}/{shape}_{color}_{_id}.png': {name} is an "
                                "attribute, {_} / {_name} / * an ignored part; give pattern or "
                                "manifest")
    manifest: str | None = Field(default=None, description="CSV/JSON (relative to root or the "
                                 "working directory) with a path column and one column per "
                                 "attribute; give pattern or manifest")
    image_size: int | None = Field(default=None, gt=0, description="resize every image to this "
                                   "square size on load; unset: keep the files' size (all equal)")
    channels: int = Field(default=3, ge=1, le=3, description="1: grayscale, 3: RGB (images are "
                          "converted on load)")
    allow_outside_root: bool = Field(default=False, description="read manifest rows and "
                                     "symlinks that resolve outside root")
    missing: str | None = Field(default=None, description="a label text that means 'unknown' "
                                "(e.g. '?'); an empty manifest cell always does")
    relations: str | None = Field(default=None, description="CSV (relative to root or the "
                                  "working directory) of a,b,attribute rows: images a and b "
                                  "share that attribute's value; such attributes need no "
                                  "pattern field or manifest column")


def load_store(options: StoreOptions) -> GroupDataset:
    return GroupDataset.from_store(options.path, mmap=options.mmap)


def load_folder(options: FolderOptions) -> GroupDataset:
    schema = Schema.define("Folder", [Attribute(name=n, latent=w, missing=options.missing)
                                      for n, w in options.attributes.items()])
    return GroupDataset.from_folder(schema, options.root, pattern=options.pattern,
                                    manifest=options.manifest, image_size=options.image_size,
                                    channels=options.channels,
                                    allow_outside_root=options.allow_outside_root,
                                    relations=options.relations)


@hookimpl
def register_datasets(register):
    register("store", DatasetSpec(
        schema=None, load=load_store, options_model=StoreOptions,
        expects="a directory written by GroupDataset.write_store or `groupsup render-fonts "
                "--layout store`: manifest.json (schema), images.npy (N,H,W,C uint8), labels.npy",
        description="any dataset saved as a memory-mapped store (schema in its manifest)"))
    register("folder", DatasetSpec(
        schema=None, load=load_folder, options_model=FolderOptions,
        expects="image files under `root`, labelled by `pattern` (from their paths) or by a "
                "CSV/JSON `manifest`; attributes declared in `attributes`",
        description="custom data: a folder of images with labels in names or a manifest"))
