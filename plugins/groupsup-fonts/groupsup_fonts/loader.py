"""Loading Fonts data: the released folder layout and rendered stores.

:func:`scan_folder` walks a tree, parses every path (see :mod:`groupsup_fonts.layout`),
checks every PNG cheaply and finds the holes in the grid of values present;
:func:`load_folder` turns a clean scan into a :class:`groupsup.GroupDataset`. Problems are
reported with counts and file names: unparsable paths, corrupt files, duplicates, and (unless
allowed) missing combinations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import groupsup as gs
from groupsup_fonts.discovery import FontFace, file_sha256
from groupsup_fonts.layout import FIELDS, parse_relative, png_problem
from groupsup_fonts.renderer import RENDERER_VERSION, FontsRenderer
from groupsup_fonts.schema import FontsSchema, fonts_schema

_SHOWN = 5  # examples listed in a report


@dataclass(frozen=True)
class FolderScan:
    """What a Fonts tree holds: parsed files (sorted by path) and what is wrong with it."""

    root: Path
    paths: tuple[Path, ...]
    records: tuple[dict[str, str], ...]
    schema: type[gs.Schema] | None
    codes: np.ndarray
    unparsed: tuple[tuple[Path, str], ...]
    corrupt: tuple[tuple[Path, str], ...]
    duplicates: tuple[tuple[Path, Path], ...]
    missing: np.ndarray

    @property
    def missing_records(self) -> list[dict[str, str]]:
        """The missing combinations as label dicts."""
        return [] if self.schema is None else self.schema.decode(self.missing)

    def report(self) -> str:
        """A human-readable summary: counts, then up to five examples of each problem."""
        lines = [f"{self.root}: {len(self.paths)} images"]
        if self.schema is not None:
            sizes = ", ".join(f"{a.name} {len(a.values)}" for a in self.schema.attributes)
            lines[0] += f" ({sizes})"
        for title, items in (("unparsable paths", self.unparsed),
                             ("corrupt files", self.corrupt)):
            if items:
                lines.append(f"{len(items)} {title}, e.g.:")
                lines += [f"  {path}: {why}" for path, why in items[:_SHOWN]]
        if self.duplicates:
            lines.append(f"{len(self.duplicates)} combinations stored twice, e.g.:")
            lines += [f"  {a} and {b}" for a, b in self.duplicates[:_SHOWN]]
        if len(self.missing):
            lines.append(f"{len(self.missing)} missing combinations of the values present, "
                         "e.g.:")
            lines += ["  " + " ".join(f"{k}={v}" for k, v in record.items())
                      for record in self.schema.decode(self.missing[:_SHOWN])]
        return "\n".join(lines)


def _walk(root: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Every ``.png`` under *root* with its path parts, sorted by path."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = Path(folder).relative_to(root).parts
        found += [(Path(folder) / name, (*rel, name)) for name in sorted(files)
                  if name.lower().endswith(".png") and not name.startswith(".")]
    return found


def scan_folder(root: str | os.PathLike, *, check_files: bool = True) -> FolderScan:
    """Parse and check a Fonts tree in the released layout.

    With *check_files*, each PNG's signature, header and end chunk are checked (36 bytes read
    per file); all files must have the size of the first one.
    """
    root = Path(root)
    if not root.is_dir():
        raise gs.DataError(f"{root}: Fonts folder not found")
    paths: list[Path] = []
    records: list[dict[str, str]] = []
    unparsed: list[tuple[Path, str]] = []
    corrupt: list[tuple[Path, str]] = []
    image_size: int | None = None
    for path, parts in _walk(root):
        parsed = parse_relative(parts)
        if isinstance(parsed, str):
            unparsed.append((path, parsed))
            continue
        if check_files:
            problem = png_problem(path, image_size)
            if problem is not None:
                corrupt.append((path, problem))
                continue
            if image_size is None:
                with open(path, "rb") as handle:
                    image_size = int.from_bytes(handle.read(20)[16:20], "big")
        paths.append(path)
        records.append(parsed)
    if not records:
        return FolderScan(root, (), (), None, np.zeros((0, len(FIELDS)), np.int64),
                          tuple(unparsed), tuple(corrupt), (), np.zeros((0, 5), np.int64))
    present = {field: {r[field] for r in records} for field in FontsSchema.names}
    schema = fonts_schema(letters=sorted(present["letter"]), sizes=sorted(present["size"]),
                          font_colors=sorted(present["font_color"]),
                          back_colors=sorted(present["back_color"]),
                          fonts=sorted(present["font"]))
    codes = schema.encode(records, where=[str(p) for p in paths])
    duplicates, missing = _grid_holes(schema, codes, paths)
    return FolderScan(root, tuple(paths), tuple(records), schema, codes, tuple(unparsed),
                      tuple(corrupt), duplicates, missing)


def _grid_holes(schema: type[gs.Schema], codes: np.ndarray, paths: list[Path]
                ) -> tuple[tuple[tuple[Path, Path], ...], np.ndarray]:
    """Duplicated combinations, and combinations of the present values with no file.

    A combination whose font and background colours are equal is not expected.
    """
    cards = np.array(schema.cardinalities, dtype=np.int64)
    flat = np.ravel_multi_index(codes.T, cards)
    order = np.argsort(flat, kind="stable")
    repeated = np.flatnonzero(np.diff(flat[order]) == 0)
    duplicates = tuple((paths[order[i]], paths[order[i + 1]]) for i in repeated.tolist())
    have = np.zeros(int(cards.prod()), dtype=bool)
    have[flat] = True
    grid = np.stack(np.unravel_index(np.flatnonzero(~have), cards), axis=1).astype(np.int64)
    fg_values = np.array(schema["font_color"].values)
    bg_values = np.array(schema["back_color"].values)
    same_colour = fg_values[:, None] == bg_values[None, :]
    return duplicates, grid[~same_colour[grid[:, 2], grid[:, 3]]]


def load_folder(root: str | os.PathLike, *, allow_missing: bool = False,
                check_files: bool = True, latent: Mapping[str, int] | None = None
                ) -> gs.GroupDataset:
    """A :class:`groupsup.GroupDataset` from a Fonts tree in the released layout.

    Raises :class:`groupsup.DataError` (with counts and examples) when a path cannot be
    parsed, a file is corrupt, a combination is stored twice, or, unless *allow_missing*,
    combinations of the values present are missing. Vocabularies are the values present.
    """
    scan = scan_folder(root, check_files=check_files)
    if scan.schema is None:
        raise gs.DataError(scan.report() + "\nno Fonts images found (expected "
                           "<letter>/<size>/<font_color>/<back_color>/<font>/<...>.png)")
    if scan.unparsed or scan.corrupt or scan.duplicates or \
            (len(scan.missing) and not allow_missing):
        hint = "" if not len(scan.missing) else \
            "\n(pass allow_missing=True to load an incomplete grid)"
        raise gs.DataError(scan.report() + hint)
    schema = scan.schema.with_latent(**latent) if latent else scan.schema
    return gs.GroupDataset.from_files(schema, list(scan.paths), scan.codes,
                                      name=Path(root).name or "fonts")


def load_store(path: str | os.PathLike, *, latent: Mapping[str, int] | None = None
               ) -> gs.GroupDataset:
    """A Fonts store (``render-fonts --layout store``) as a memory-mapped dataset."""
    dataset = gs.GroupDataset.from_store(path)
    if dataset.schema.names != FontsSchema.names:
        raise gs.DataError(f"{path}: a store of attributes {list(dataset.schema.names)}, not "
                           f"the Fonts attributes {list(FontsSchema.names)}")
    if not latent:
        return dataset
    return gs.GroupDataset(dataset.schema.with_latent(**latent), dataset.labels,
                           dataset.source, dataset.name)


def load_renderer(path: str | os.PathLike) -> FontsRenderer:
    """The renderer that made a store or folder (from its ``manifest.json``).

    Every font file named in the manifest must still be at its path with the recorded
    SHA-256. Pixels are byte-identical when Pillow and FreeType are the versions the manifest
    records too.
    """
    manifest_path = Path(path) / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        section = manifest["fonts"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise gs.DataError(f"{manifest_path}: not a Fonts render manifest ({err})") from None
    if section.get("renderer_version") != RENDERER_VERSION:
        raise gs.DataError(f"{manifest_path}: renderer version "
                           f"{section.get('renderer_version')!r}, this is {RENDERER_VERSION!r}")
    faces = []
    for record in section["font_files"]:
        file = Path(record["path"])
        if not file.is_file():
            raise gs.DataError(f"{manifest_path}: font {record['name']!r} file {file} is missing")
        if file_sha256(file) != record["sha256"]:
            raise gs.DataError(f"{manifest_path}: font {record['name']!r} file {file} has "
                               f"changed (SHA-256 differs from the manifest's)")
        faces.append(FontFace(record["name"], record["family"], file, record["index"],
                              record["sha256"], record["source"]))
    return FontsRenderer(faces, section["image_size"], centring=section["centring"],
                         sizing=section["sizing"], margin=section["margin"])
