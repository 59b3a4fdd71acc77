"""Label image files from their paths (a name pattern) or from a CSV/JSON manifest."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from groupsup.errors import DataError, did_you_mean
from groupsup.schema import Schema

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
"""The file endings (lower case) read as images when a tree is scanned."""
_OPT_IN = "set the folder option allow_outside_root = true to read files outside it"
# {name}: an attribute; {_} or {_anything}: a part of the name that is not a label; *: any text
_TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}|\*")


class _Containment:
    """``inside(path)``: whether *path*, symlinks resolved, lies within *root* (resolved)."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def __call__(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root)


@dataclass(frozen=True)
class _Token:
    kind: str  # "text" (literal), "field" (an attribute) or "skip" ({_...} or *)
    text: str  # the literal, the attribute name, or the placeholder as written


class NamePattern:
    """A file-name pattern such as ``"{letter}/{letter}_{size}_{_id}.png"``.

    ``{name}`` is an attribute; ``{_}`` or ``{_anything}`` (a leading underscore) matches a
    non-empty part of the name that is not a label, and ``*`` any part, possibly empty. Every
    placeholder matches within one path segment, never across ``/``. An attribute field may
    repeat (``{letter}/{letter}_x.png``): every occurrence must hold the same value.
    """

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.tokens: list[_Token] = []
        pos = 0
        for m in _TOKEN.finditer(pattern):
            if m.start() > pos:
                self.tokens.append(_Token("text", pattern[pos:m.start()]))
            name = m.group(1)
            if name is None or name.startswith("_"):
                self.tokens.append(_Token("skip", m.group(0)))
            else:
                self.tokens.append(_Token("field", name))
            pos = m.end()
        if pos < len(pattern):
            self.tokens.append(_Token("text", pattern[pos:]))
        self.fields: list[str] = list(dict.fromkeys(t.text for t in self.tokens
                                                    if t.kind == "field"))
        self._regex = self._compile(self.tokens, anchored=True)

    @staticmethod
    def _compile(tokens: list[_Token], *, anchored: bool) -> re.Pattern[str]:
        out, seen = [], set()
        for t in tokens:
            if t.kind == "text":
                out.append(re.escape(t.text))
            elif t.kind == "skip":
                out.append("[^/]*?" if t.text == "*" else "[^/]+?")
            else:
                out.append(f"(?P={t.text})" if t.text in seen else f"(?P<{t.text}>[^/]+?)")
                seen.add(t.text)
        return re.compile("^" + "".join(out) + ("$" if anchored else ""))

    def match(self, name: str) -> dict[str, str] | None:
        """The attribute values in *name* (a path relative to the root), or ``None``."""
        m = self._regex.match(name)
        return None if m is None else {f: m.group(f) for f in self.fields}

    def explain(self, name: str) -> str:
        """Which part of *name* does not match, e.g. ``"after 'a_3_' expected field 'ink' ..."``.

        The longest prefix of the pattern that matches the start of *name* locates the failure;
        placeholders just before the failing literal are named with it, since any of them may
        have swallowed the text the literal needed.
        """
        n = len(self.tokens)
        k = max(i for i in range(n + 1)
                if self._compile(self.tokens[:i], anchored=False).match(name))
        if k == n:
            end = self._compile(self.tokens, anchored=False).match(name).end()  # type: ignore
            return f"the pattern ends after {name[:end]!r} but the name goes on: {name[end:]!r}"
        j = k
        while j > 0 and self.tokens[j - 1].kind != "text":
            j -= 1
        anchor = self._compile(self.tokens[:j], anchored=False).match(name)
        assert anchor is not None  # a prefix of a matching prefix matches
        parts = [self._describe(t, anchor) for t in self.tokens[j:k + 1]]
        where = f"after {name[:anchor.end()]!r}" if anchor.end() else "at the start"
        rest = name[anchor.end():]
        found = f"found {rest!r}" if rest else "found the end of the name"
        return f"{where} expected {' then '.join(parts)}, {found}"

    @staticmethod
    def _describe(token: _Token, before: re.Match[str]) -> str:
        if token.kind == "text":
            return repr(token.text)
        if token.kind == "skip":
            return f"{token.text} (ignored, {'any text' if token.text == '*' else 'non-empty'})"
        if token.text in before.groupdict():
            return f"field {token.text!r} again (the same value {before.group(token.text)!r})"
        return f"field {token.text!r} (non-empty, no '/')"


def pattern_fields(pattern: str) -> list[str]:
    """The attribute fields of a file-name pattern, in order (ignored fields left out)."""
    return NamePattern(pattern).fields


def compile_pattern(pattern: str, schema: type[Schema],
                    optional: frozenset[str] = frozenset()) -> NamePattern:
    """``"{letter}_{size}_{_id}.png"`` -> a :class:`NamePattern` checked against *schema*
    (attributes in *optional*, e.g. given by relations, need no field)."""
    parsed = NamePattern(pattern)
    for field in parsed.fields:
        schema[field]  # unknown field -> SchemaError with a did-you-mean
    missing = [n for n in schema.names if n not in parsed.fields and n not in optional]
    if missing:
        raise DataError(f"file-name pattern {pattern!r} lacks fields for attributes {missing} "
                        "(fields written {_name} or * are ignored, not attributes)")
    return parsed


def _typed(value: str, schema: type[Schema], name: str) -> Any:
    """Values parsed from text become ints where the declared vocabulary holds ints."""
    vocab = schema[name].values
    if schema[name].is_missing(value):
        return None
    if vocab and all(isinstance(v, int) for v in vocab):
        try:
            return int(value)
        except ValueError:
            return value
    return value


@dataclass(frozen=True)
class ImageScan:
    """What :func:`scan_images` found: the kept ``paths`` and their label ``records`` (in the
    same order, sorted by path) and ``files``, how many image files the tree holds."""

    paths: list[Path]
    records: list[dict[str, Any]]
    files: int


def scan_images(root: str | Path, parse: Callable[[Path], dict[str, Any] | None], *,
                suffixes: Sequence[str] = IMAGE_SUFFIXES) -> ImageScan:
    """Label every image file under *root* (any depth, sorted by path) with *parse*.

    ``parse(path)`` returns the file's label record, ``None`` to leave the file out (a filter),
    or raises ``ValueError`` saying what is wrong with it. Every file is parsed before any error
    is raised, so the one :class:`~groupsup.DataError` names the first bad file and how many
    more there are, rather than one per run. *suffixes*: the endings (lower case) that make a
    file an image, :data:`IMAGE_SUFFIXES` by default.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    endings = tuple(s.lower() for s in suffixes)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in endings)
    paths, records, errors = [], [], []
    for path in files:
        try:
            record = parse(path)
        except ValueError as err:
            errors.append(f"{path}: {err}")
            continue
        if record is not None:
            paths.append(path)
            records.append(record)
    if errors:
        more = len(errors) - 1
        raise DataError(errors[0] + (f" (and {more} more bad file{'s' * (more > 1)})"
                                     if more else ""))
    return ImageScan(paths, records, len(files))


def scan_folder(schema: type[Schema], root: Path, *, pattern: str | None,
                manifest: str | Path | None, strict: bool = True,
                allow_outside_root: bool = False, optional: frozenset[str] = frozenset()
                ) -> tuple[list[Path], list[dict[str, Any]]]:
    """Return ``(paths, label records)`` sorted by path, for :meth:`GroupDataset.from_folder`.

    Attributes in *optional* (those a relations file gives) may lack a pattern field or a
    manifest column; their records then leave them out (unknown).

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
        return _read_manifest(schema, root, Path(manifest), inside, optional)
    parsed = compile_pattern(pattern, schema, optional)
    misses: list[str] = []

    def parse(path: Path) -> dict[str, Any] | None:
        rel = path.relative_to(root).as_posix()
        values = parsed.match(rel)
        if values is None:
            if strict:
                raise ValueError(f"file name does not match pattern {pattern!r}: "
                                 f"{parsed.explain(rel)}")
            misses.append(rel)
            return None
        if inside is not None and not inside(path):
            raise ValueError(f"resolves to {path.resolve()}, outside the dataset root "
                             f"{inside.root} (a symlink?); {_OPT_IN}")
        return {n: _typed(values[n], schema, n) for n in schema.names if n in values}

    scan = scan_images(root, parse)
    if not scan.paths:
        example = f" ({misses[0]}: {parsed.explain(misses[0])})" if misses else ""
        raise DataError(f"{root}: no image files match pattern {pattern!r}{example}")
    return scan.paths, scan.records


def read_manifest_rows(root: Path, manifest: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The rows of a CSV or JSON manifest (a relative path may be relative to *root*).

    Returns the resolved manifest path and its rows as dicts (CSV: strings).
    """
    if not manifest.is_absolute() and not manifest.exists():
        manifest = root / manifest
    if manifest.suffix.lower() != ".json":
        return manifest, csv_rows(manifest, "manifest")
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{manifest}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{manifest}: cannot read manifest ({err})") from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{manifest}: corrupt JSON ({err})") from None
    if not isinstance(rows, list):
        raise DataError(f"{manifest}: expected a JSON list of objects with a 'path' key")
    return manifest, rows


def csv_rows(path: Path, what: str) -> list[dict[str, Any]]:
    """The rows of a CSV file as dicts, read by the csv module from the file itself: a quoted
    field keeps a line break, form feed or U+2028 inside it exactly (splitting the text into
    lines first would cut such a label in two or merge it with another). A UTF-8 byte-order
    mark is skipped; a malformed row is a :class:`DataError` naming the file and line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, strict=True)
            try:
                return list(reader)
            except csv.Error as err:
                raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({err})"
                                ) from None
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read {what} ({err})") from None


def _read_manifest(schema: type[Schema], root: Path, manifest: Path,
                   inside: _Containment | None, optional: frozenset[str] = frozenset()
                   ) -> tuple[list[Path], list[dict[str, Any]]]:
    manifest, rows = read_manifest_rows(root, manifest)
    paths, records = [], []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, start=1):  # row 1: the first data row (after a CSV header)
        if not isinstance(row, dict) or "path" not in row:
            raise DataError(f"{manifest}: row {i} has no 'path' column/key")
        missing = [n for n in schema.names if n not in row and n not in optional]
        if missing:
            raise DataError(f"{manifest}: row {i} lacks attributes {missing}")
        path = root / row["path"]  # an absolute row path replaces root
        if inside is not None and not inside(path):
            raise DataError(f"{manifest}: row {i} path {row['path']!r} resolves to "
                            f"{path.resolve()}, outside the dataset root {inside.root}; "
                            f"{_OPT_IN}")
        key = os.path.normpath(path)
        if key in seen:
            first = records[seen[key] - 1]
            labels = {n: row.get(n) for n in schema.names if n in row}
            same = all(str(first.get(n)) == str(v) for n, v in labels.items())
            raise DataError(f"{manifest}: rows {seen[key]} and {i} both list {row['path']!r}"
                            + (" (the same labels twice)" if same else
                               f" with different labels ({first} and {labels})")
                            + "; list every image once")
        seen[key] = i
        paths.append(path)
        records.append({n: _typed(row[n], schema, n) if isinstance(row[n], str) else row[n]
                        for n in schema.names if n in row})
    if not paths:
        raise DataError(f"{manifest}: no rows")
    return paths, records


def read_relations(path: Path, root: Path, paths: Sequence[Path], schema: type[Schema]
                   ) -> dict[str, tuple[Any, Any]]:
    """A relations CSV (columns ``a,b,attribute``: two image paths relative to *root*, as in a
    manifest, and the attribute they share) -> ``{attribute: (ids, ids)}`` into *paths*."""
    if not path.is_absolute() and not path.exists():
        path = root / path
    rows = csv_rows(path, "relations file")
    index = {Path(p): i for i, p in enumerate(paths)}
    ends: dict[str, tuple[list[int], list[int]]] = {}
    for row_no, row in enumerate(rows, start=1):
        missing = [c for c in ("a", "b", "attribute") if not row.get(c)]
        if missing:
            raise DataError(f"{path}: row {row_no} lacks {missing} (columns: a,b,attribute)")
        attribute = row["attribute"]
        if attribute not in schema.names:
            raise DataError(f"{path}: row {row_no} names attribute {attribute!r}, not one of "
                            f"{list(schema.names)}{did_you_mean(attribute, schema.names)}")
        pair = []
        for column in ("a", "b"):
            i = index.get(root / row[column])
            if i is None:
                raise DataError(f"{path}: row {row_no} {column}={row[column]!r} is not an image "
                                f"of the dataset (paths are relative to {root})")
            pair.append(i)
        first, second = ends.setdefault(attribute, ([], []))
        first.append(pair[0])
        second.append(pair[1])
    return {name: (np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
            for name, (a, b) in ends.items()}


def relation_attributes(path: Path, root: Path) -> set[str]:
    """The attribute names a relations CSV uses (unknown ones are reported later)."""
    if not path.is_absolute() and not path.exists():
        path = root / path
    return {row["attribute"] for row in csv_rows(path, "relations file")
            if row.get("attribute")}
