"""Helpers shared by the metrics: input checks, label codes, chance level, JSON-safe numbers,
standardised codes and the mean of a per-factor score where it is defined.

Every metric accepts numpy arrays or torch tensors. These helpers convert them, check shapes and
name the argument at fault (expected vs actual shape) in a :class:`~groupsup.errors.DataError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from groupsup.errors import ConfigError, DataError

ArrayLike = np.ndarray | torch.Tensor | Sequence[Any]


def as_float_matrix(x: ArrayLike, name: str, rows: int | None = None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(N, D)`` array -> CPU tensor of *dtype* (float32 unless a metric needs float64's
    resolution); checks the shape, the row count and finiteness."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach())
    if t.ndim != 2:
        raise DataError(f"{name} must have shape (N, D), got {tuple(t.shape)}")
    if rows is not None and t.shape[0] != rows:
        raise DataError(f"{name} must have {rows} rows (one per example), got shape "
                        f"{tuple(t.shape)}")
    if t.shape[0] == 0:
        raise DataError(f"{name} is empty (shape {tuple(t.shape)})")
    t = t.to(device="cpu", dtype=dtype)
    if not torch.isfinite(t).all():
        row = int(torch.nonzero(~torch.isfinite(t))[0, 0])
        raise DataError(f"{name} holds a NaN or infinite value (row {row})")
    return t


def as_label_matrix(labels: ArrayLike, name: str, rows: int | None = None) -> np.ndarray:
    """``(N, A)`` non-negative integer codes -> int64 numpy array (``(N,)`` becomes ``(N, 1)``)."""
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise DataError(f"{name} must have shape (N, A), got {y.shape}")
    if rows is not None and y.shape[0] != rows:
        raise DataError(f"{name} must have {rows} rows (one per example), got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{name} must hold integer codes, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and y.min() < 0:
        row, col = (int(v[0]) for v in np.nonzero(y < 0))
        unknown = " (-1: an unknown value; this needs every value known)" \
            if y[row, col] == -1 else ""
        raise DataError(f"{name}: negative code {int(y[row, col])} at row {row}, column {col}"
                        f"{unknown}")
    return y


def compact_labels(labels: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """Renumber each column's codes to ``0..K_j-1`` (in sorted order); returns codes and ``K``."""
    columns, cards = [], []
    for j in range(labels.shape[1]):
        values, inverse = np.unique(labels[:, j], return_inverse=True)
        columns.append(inverse.reshape(-1))
        cards.append(len(values))
    return np.stack(columns, axis=1).astype(np.int64), tuple(cards)


def chance_level(labels: np.ndarray) -> np.ndarray:
    """``(A,)``: frequency of each column's most common code in ``labels (N, A)``, the accuracy
    of always guessing the majority value."""
    return np.array([np.bincount(col).max() / len(col) for col in labels.T], dtype=np.float64)


def as_images(x: ArrayLike, name: str) -> torch.Tensor:
    """``(N, C, H, W)`` float images -> float64 CPU tensor (metrics need the precision)."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 4:
        hint = "; add a batch axis with x[None]" if t.ndim == 3 else ""
        raise DataError(f"{name} must have shape (N, C, H, W), got {tuple(t.shape)}{hint}")
    return t.to(device="cpu", dtype=torch.float64)


def same_shape(pred: torch.Tensor, truth: torch.Tensor) -> None:
    """Raise unless *pred* and *truth* have one shape."""
    if pred.shape != truth.shape:
        raise DataError(f"pred and truth must have one shape (N, C, H, W), got pred "
                        f"{tuple(pred.shape)} and truth {tuple(truth.shape)}")


def names_for(names: Sequence[str] | None, count: int, what: str, prefix: str) -> tuple[str, ...]:
    """*names* checked against *count*, or ``prefix0, prefix1, ...`` when not given."""
    if names is None:
        return tuple(f"{prefix}{i}" for i in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ConfigError(f"{what} must name {count} columns, got {len(names)}: {list(names)}")
    return names


@dataclass(frozen=True)
class FactorInputs:
    """The checked inputs of a metric of codes against factors.

    ``codes (N, Z)`` float64, ``raw (N, A)`` the factor codes as given (int64), ``labels (N, A)``
    the same renumbered to ``0..K_j-1``, their ``cardinalities`` ``K`` and the factor ``names``.
    """

    codes: np.ndarray
    raw: np.ndarray
    labels: np.ndarray
    cardinalities: tuple[int, ...]
    names: tuple[str, ...]


def factor_inputs(codes: ArrayLike, factors: ArrayLike,
                  factor_names: Sequence[str] | None) -> FactorInputs:
    """Check ``codes (N, Z)`` and integer ``factors (N, A)`` (one row each per example) and name
    the factors (``factor0, ...`` when *factor_names* is None).

    Codes are read in float64: float32 has a resolution of about 1e-3 at 1e4, so a dimension
    far from 0 would lose its small variations and the scores would change with a shift.
    """
    z = as_float_matrix(codes, "codes", dtype=torch.float64).numpy()
    raw = as_label_matrix(factors, "factors", rows=z.shape[0])
    names = names_for(factor_names, raw.shape[1], "factor_names", "factor")
    labels, cards = compact_labels(raw)
    return FactorInputs(z, raw, labels, cards, names)


def standardise(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` -> each column centred and scaled to unit standard deviation (a constant
    column only centred), so that a score does not depend on the units of a dimension."""
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def defined_mean(values: np.ndarray) -> float:
    """The mean of the entries of *values* that are not NaN; NaN when none is."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


class AttributeAccuracy:
    """For results with an ``accuracy (A,)`` per attribute: its mean and the JSON record."""

    attributes: tuple[str, ...]
    accuracy: np.ndarray
    config: dict[str, Any]

    @property
    def mean_accuracy(self) -> float:
        return float(self.accuracy.mean())

    def accuracy_record(self, metric: str, mean_key: str, **fields: Any) -> dict[str, Any]:
        """The JSON record of *metric*: the attributes, their accuracy and its mean (under
        *mean_key*), then *fields*, then the config."""
        return {"metric": metric, "attributes": list(self.attributes),
                "accuracy": json_array(self.accuracy), mean_key: self.mean_accuracy, **fields,
                "config": dict(self.config)}


class GapScore:
    """For results with a per-factor ``gap (A,)``: ``score``, its mean over the factors where
    it is defined (NaN for a factor that does not vary; NaN if none does)."""

    factors: tuple[str, ...]
    gap: np.ndarray
    config: dict[str, Any]

    @property
    def score(self) -> float:
        """Mean gap over the factors where it is defined (NaN if none)."""
        return defined_mean(self.gap)

    def gap_record(self, metric: str, **fields: Any) -> dict[str, Any]:
        """The JSON record of *metric*: the factors, the score (under *metric*) and the gap,
        then *fields*, then the config."""
        return {"metric": metric, "factors": list(self.factors), metric: json_float(self.score),
                "gap": json_array(self.gap), **fields, "config": dict(self.config)}


def json_float(value: float) -> float | None:
    """A float for JSON: ``None`` where it is NaN or infinite (strict JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None


def json_array(values: np.ndarray) -> list[Any]:
    """A nested list of floats for JSON, with ``None`` for non-finite entries."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 0:
        return json_float(values)  # type: ignore[return-value]
    return [json_array(v) if values.ndim > 1 else json_float(v) for v in values]
