"""Label records <-> integer codes, checked against a schema's vocabularies.

:class:`LabelCodec` is the part of :class:`~groupsup.Schema` that reads labels: dict rows,
tuple rows or columns become an ``(N, A)`` int64 matrix (:data:`UNKNOWN` for an unknown value)
and back, with errors that name the attribute, the value and the record or file it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from groupsup.attribute import Value
from groupsup.errors import LabelError, SchemaError, did_you_mean

UNKNOWN = -1
"""The code of an unknown value in an integer label matrix."""

def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars, so ``np.int64(3)`` matches vocabulary value ``3``."""
    return value.item() if isinstance(value, np.generic) else value


class LabelCodec:
    """Class methods that encode, decode and check labels; mixed into :class:`Schema`, whose
    metaclass provides ``names``, ``attributes`` and ``len()``."""

    @classmethod
    def _columns(cls, records: Any) -> dict[str, list[Value]]:
        """Normalise dict rows, tuple rows or a column mapping into ``{name: [values]}``."""
        names = cls.names
        if isinstance(records, Mapping):
            missing = [n for n in names if n not in records]
            if missing:
                raise LabelError(f"label columns missing for attributes {missing}; "
                                 f"got columns {list(records)}")
            cols = {n: [_plain(v) for v in records[n]] for n in names}
            lengths = {n: len(c) for n, c in cols.items()}
            if len(set(lengths.values())) > 1:
                raise LabelError(f"label columns have different lengths: {lengths}")
            return cols
        cols = {n: [] for n in names}
        for row_no, row in enumerate(records):
            if isinstance(row, Mapping):
                missing = [n for n in names if n not in row]
                if missing:
                    raise LabelError(
                        f"label record {row_no} lacks attributes {missing}: {dict(row)}")
                values = [row[n] for n in names]
            else:
                values = list(row)
                if len(values) != len(names):
                    raise LabelError(f"label record {row_no} has {len(values)} values, expected "
                                     f"{len(names)} ({', '.join(names)}): {values}")
            for n, v in zip(names, values):
                cols[n].append(_plain(v))
        return cols

    @classmethod
    def encode(cls, records: Any, where: str | Sequence[str] | None = None) -> np.ndarray:
        """Label records -> ``(N, A)`` int64 codes; an unknown value (None, NaN, an empty
        string or the attribute's ``missing`` token) becomes :data:`UNKNOWN` (-1).

        *records*: dict rows, tuple rows in attribute order, or a mapping of columns. *where*
        names the origin for error messages: one string, or one per record (e.g. file names).
        """
        cls._require_values()
        cols = cls._columns(records)
        n = len(next(iter(cols.values()))) if cols else 0
        codes = np.empty((n, len(cls)), dtype=np.int64)
        for j, attr in enumerate(cls.attributes):
            lookup = attr.code_of()
            column = cols[attr.name]
            try:
                codes[:, j] = [lookup[v] if v in lookup or not attr.is_missing(v) else UNKNOWN
                               for v in column]
            except (KeyError, TypeError):
                row = next(i for i, v in enumerate(column)
                           if not _hashable_in(v, lookup) and not attr.is_missing(v))
                origin = _origin(where, row)
                raise LabelError(
                    f"attribute {attr.name!r}: value {column[row]!r}{origin} is not in its "
                    f"vocabulary{did_you_mean(str(column[row]), map(str, attr.values))}; "
                    f"known values: {_preview(attr.values)}"
                ) from None
        return codes

    @classmethod
    def decode(cls, codes: np.ndarray) -> list[dict[str, Value]]:
        """``(N, A)`` codes -> label dicts; an unknown value (-1) decodes to None."""
        codes = cls.check_codes(codes, allow_missing=True)
        vocabs = [a.values for a in cls.attributes]
        return [{n: (vocabs[j][c] if c >= 0 else None)
                 for j, (n, c) in enumerate(zip(cls.names, row))}
                for row in codes.tolist()]

    @classmethod
    def check_codes(cls, codes: Any, where: str = "label matrix",
                    allow_missing: bool = False) -> np.ndarray:
        """Validate an integer label matrix: shape ``(N, A)`` and every code in range.

        :data:`UNKNOWN` (-1) is accepted only with *allow_missing*; otherwise the error says
        that *where* needs every value known.
        """
        cls._require_values()
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(cls):
            raise LabelError(f"{where} must have shape (N, {len(cls)}) for attributes "
                             f"{list(cls.names)}, got {codes.shape}")
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise LabelError(f"{where} must hold integer codes, got dtype {codes.dtype}")
        codes = codes.astype(np.int64, copy=False)
        low = UNKNOWN if allow_missing else 0
        for j, attr in enumerate(cls.attributes):
            bad = np.flatnonzero((codes[:, j] < low) | (codes[:, j] >= len(attr.values)))
            if bad.size:
                row = int(bad[0])
                if codes[row, j] == UNKNOWN:
                    unknown = int((codes[:, j] == UNKNOWN).sum())
                    raise LabelError(f"{where}: attribute {attr.name!r} is unknown (-1) in row "
                                     f"{row} ({unknown} rows in all); this needs every value "
                                     "known: drop or label those examples first")
                raise LabelError(f"{where}: attribute {attr.name!r} row {row} has code "
                                 f"{int(codes[row, j])}, valid codes are 0..{len(attr.values) - 1}")
        return codes

    @classmethod
    def _require_values(cls) -> None:
        missing = [a.name for a in cls.attributes if not a.has_values]
        if missing:
            raise SchemaError(f"schema {cls.__name__}: attributes {missing} have no vocabulary; "
                              "call .discover_values(records) first")


def _hashable_in(value: Any, lookup: Mapping) -> bool:
    try:
        return value in lookup
    except TypeError:
        return False


def _origin(where: str | Sequence[str] | None, row: int) -> str:
    if where is None:
        return f" (record {row})"
    if isinstance(where, str):
        return f" (record {row} of {where})"
    return f" (from {where[row]})"


def _preview(values: Sequence[Value], limit: int = 12) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}] ({len(values)} values)"
