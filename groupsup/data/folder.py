"""Label image files from their paths (a name pattern) or from a CSV/JSON manifest."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from groupsup.errors import DataError
from groupsup.schema import Schema

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OPT_IN = "set the folder option allow_outside_root = true to read files outside it"


class _Containment:
    """``inside(path)``: whether *path*, symlinks resolved, lies within *root* (resolved)."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def __call__(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root)


def compile_pattern(pattern: str, schema: type[Schema]) -> re.Pattern[str]:
    """``"{letter}_{size}.png"`` -> a regex with one named group per attribute.

    A field may repeat (``{letter}/{letter}_x.png``): every occurrence must hold the same value.
    Fields match within one path segment and never across ``/``.
    """
    names = _FIELD.findall(pattern)
    for field in names:
        schema[field]  # unknown field -> SchemaError with a did-you-mean
    missing = [n for n in schema.names if n not in names]
    if missing:
        raise DataError(f"file-name pattern {pattern!r} lacks fields for attributes {missing}")
    out, pos, seen = [], 0, set()
    for m in _FIELD.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        name = m.group(1)
        out.append(f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+?)")
        seen.add(name)
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


def _typed(value: str, schema: type[Schema], name: str) -> Any:
    """Values parsed from text become ints where the declared vocabulary holds ints."""
    vocab = schema[name].values
    if vocab and all(isinstance(v, int) for v in vocab):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def scan_folder(schema: type[Schema], root: Path, *, pattern: str | None,
                manifest: str | Path | None, strict: bool = True,
                allow_outside_root: bool = False) -> tuple[list[Path], list[dict[str, Any]]]:
    """Return ``(paths, label records)`` sorted by path, for :meth:`GroupDataset.from_folder`.

    Every image path (a manifest row, or a file the pattern matched, symlinks followed) must
    resolve inside *root* unless *allow_outside_root*: a manifest row ``../../etc/passwd``
    must not make groupsup read files the dataset's owner did not put there.
    """
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    if (pattern is None) == (manifest is None):
        raise DataError("give exactly one of pattern= (labels from file names) or manifest=")
    inside = None if allow_outside_root else _Containment(root)
    if manifest is not None:
        return _read_manifest(schema, root, Path(manifest), inside)
    regex = compile_pattern(pattern, schema)
    paths, records = [], []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = path.relative_to(root).as_posix()
        m = regex.match(rel)
        if m is None:
            if strict:
                raise DataError(f"{path}: file name does not match pattern {pattern!r}")
            continue
        if inside is not None and not inside(path):
            raise DataError(f"{path}: resolves to {path.resolve()}, outside the dataset root "
                            f"{inside.root} (a symlink?); {_OPT_IN}")
        paths.append(path)
        records.append({n: _typed(m.group(n), schema, n) for n in schema.names})
    if not paths:
        raise DataError(f"{root}: no image files match pattern {pattern!r}")
    return paths, records


def read_manifest_rows(root: Path, manifest: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The rows of a CSV or JSON manifest (a relative path may be relative to *root*).

    Returns the resolved manifest path and its rows as dicts (CSV: strings).
    """
    if not manifest.is_absolute() and not manifest.exists():
        manifest = root / manifest
    try:
        text = manifest.read_text()
    except FileNotFoundError:
        raise DataError(f"{manifest}: manifest not found") from None
    except OSError as err:
        raise DataError(f"{manifest}: cannot read manifest ({err})") from None
    if manifest.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{manifest}: corrupt JSON ({err})") from None
        if not isinstance(rows, list):
            raise DataError(f"{manifest}: expected a JSON list of objects with a 'path' key")
    else:
        rows = list(csv.DictReader(text.splitlines()))
    return manifest, rows


def _read_manifest(schema: type[Schema], root: Path, manifest: Path,
                   inside: _Containment | None) -> tuple[list[Path], list[dict[str, Any]]]:
    manifest, rows = read_manifest_rows(root, manifest)
    paths, records = [], []
    for i, row in enumerate(rows, start=1):  # row 1: the first data row (after a CSV header)
        if not isinstance(row, dict) or "path" not in row:
            raise DataError(f"{manifest}: row {i} has no 'path' column/key")
        missing = [n for n in schema.names if n not in row]
        if missing:
            raise DataError(f"{manifest}: row {i} lacks attributes {missing}")
        path = root / row["path"]  # an absolute row path replaces root
        if inside is not None and not inside(path):
            raise DataError(f"{manifest}: row {i} path {row['path']!r} resolves to "
                            f"{path.resolve()}, outside the dataset root {inside.root}; "
                            f"{_OPT_IN}")
        paths.append(path)
        records.append({n: _typed(row[n], schema, n) if isinstance(row[n], str) else row[n]
                        for n in schema.names})
    if not paths:
        raise DataError(f"{manifest}: no rows")
    return paths, records
