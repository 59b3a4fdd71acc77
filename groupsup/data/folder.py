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
                manifest: str | Path | None, strict: bool = True
                ) -> tuple[list[Path], list[dict[str, Any]]]:
    """Return ``(paths, label records)`` sorted by path, for :meth:`GroupDataset.from_folder`."""
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    if (pattern is None) == (manifest is None):
        raise DataError("give exactly one of pattern= (labels from file names) or manifest=")
    if manifest is not None:
        return _read_manifest(schema, root, Path(manifest))
    regex = compile_pattern(pattern, schema)
    paths, records = [], []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = path.relative_to(root).as_posix()
        m = regex.match(rel)
        if m is None:
            if strict:
                raise DataError(f"{path}: file name does not match pattern {pattern!r}")
            continue
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


def _read_manifest(schema: type[Schema], root: Path, manifest: Path
                   ) -> tuple[list[Path], list[dict[str, Any]]]:
    manifest, rows = read_manifest_rows(root, manifest)
    paths, records = [], []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "path" not in row:
            raise DataError(f"{manifest}: row {i} has no 'path' column/key")
        missing = [n for n in schema.names if n not in row]
        if missing:
            raise DataError(f"{manifest}: row {i} lacks attributes {missing}")
        paths.append(root / row["path"])
        records.append({n: _typed(row[n], schema, n) if isinstance(row[n], str) else row[n]
                        for n in schema.names})
    if not paths:
        raise DataError(f"{manifest}: no rows")
    return paths, records
