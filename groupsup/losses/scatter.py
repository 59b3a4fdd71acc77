"""Per-column scatter of a code matrix grouped by value: the sums the ``invariance`` and
``independence`` terms are made of (one scatter over (value, column), no loop)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Scatter:
    """Per column of a code matrix grouped by a value per entry (see :func:`scatter_by_value`)."""

    within: torch.Tensor  # (D,) squared distance of each known entry from its value's mean
    total: torch.Tensor  # (D,) squared distance of each known entry from the column's mean
    residual: torch.Tensor  # (M, D) entry minus its value's mean (0 where unknown)
    centred: torch.Tensor  # (M, D) entry minus the column's mean (0 where unknown)
    values: torch.Tensor  # (D,) distinct known values per column
    known: torch.Tensor  # (D,) rows whose value is known, per column


def scatter_by_value(z: torch.Tensor, values: torch.Tensor) -> Scatter:
    """Group every column d of ``z`` ``(M, D)`` by ``values[:, d]`` (``(M, D)`` int codes;
    unknown values, -1, are left out): one scatter over (value, column) gives each value's
    sum per column, no loop over values or columns."""
    known = values >= 0
    spare = int(values.max()) + 1 if values.numel() else 0
    slot = torch.where(known, values, spare)  # unknown rows go to a spare row no sum reads
    weight = known.to(z.dtype)
    sums = z.new_zeros(spare + 1, z.shape[1]).scatter_add_(0, slot, z * weight)
    counts = z.new_zeros(spare + 1, z.shape[1]).scatter_add_(0, slot, weight)
    n = weight.sum(0)
    residual = (z - (sums / counts.clamp_min(1.0)).gather(0, slot)) * weight
    centred = (z - sums.sum(0) / n.clamp_min(1.0)) * weight
    return Scatter(residual.square().sum(0), centred.square().sum(0), residual, centred,
                    (counts[:spare] > 0).sum(0), n)
