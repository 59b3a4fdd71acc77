"""MIG, the mutual information gap (Chen et al., NeurIPS 2018), on fixed codes and factors.

Each code dimension is discretised into ``bins`` equal-width bins between its minimum and
maximum (as disentanglement_lib does, 20 bins by default). For every factor j, the mutual
information ``I(z_i; v_j)`` (nats) with every discretised dimension is computed from joint
histograms; the factor's gap is the difference between the largest and second-largest
``I`` divided by the factor's entropy ``H(v_j)``. MIG is the mean gap over factors. No
randomness is involved. Codes are read in float64 (a shifted dimension keeps its small
variations).

Block-level MIG (:func:`block_mig`) asks the same question of latent *blocks*: on a block code a
factor is spread over its block's dimensions, so every single dimension carries only part of it
and the per-dimension gap (between two dimensions of one block) is about 0 by construction. Each
block is discretised as a whole by k-means (the block's dimensions standardised, k-means++
seeding and Lloyd iterations from an explicit ``seed``); ``I(block_b; v_j)`` is the mutual
information between the cluster index and the factor, and the gap is taken over blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import (
    ArrayLike,
    GapScore,
    factor_inputs,
    json_array,
    json_float,
    standardise,
)
from groupsup.evaluate.seeding import Seed, make_rng, seed_record
from groupsup.partition import LatentPartition


@dataclass(frozen=True)
class MIGScores(GapScore):
    """``mutual_information (Z, A)`` in nats, ``entropy (A,)`` of each factor and ``gap (A,)``."""

    factors: tuple[str, ...]
    mutual_information: np.ndarray
    entropy: np.ndarray
    gap: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.gap_record("mig", entropy=json_array(self.entropy),
                               mutual_information=json_array(self.mutual_information))


def discretize(codes: np.ndarray, bins: int) -> np.ndarray:
    """``(N, Z)`` floats -> ``(N, Z)`` bin indices in ``0..bins-1``, equal-width per column."""
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    return np.clip(((codes - low) / width * bins).astype(np.int64), 0, bins - 1)


def mutual_information(binned: np.ndarray, bins: int, labels: np.ndarray,
                       classes: int) -> np.ndarray:
    """``I(z_i; v)`` in nats for every column of ``binned (N, Z)`` and ``labels (N,)``: ``(Z,)``.

    One ``bincount`` builds all ``Z`` joint histograms of shape ``(bins, classes)``.
    """
    n, z = binned.shape
    cells = (np.arange(z) * bins * classes)[None, :] + binned * classes + labels[:, None]
    joint = np.bincount(cells.ravel(), minlength=z * bins * classes)
    joint = joint.reshape(z, bins, classes) / n
    outer = joint.sum(axis=2, keepdims=True) * joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / outer), 0.0)
    return terms.sum(axis=(1, 2))


def all_mutual_information(binned: np.ndarray, bins: int, labels: np.ndarray,
                           cardinalities: Sequence[int]) -> np.ndarray:
    """``(Z, A)``: :func:`mutual_information` of every column of ``binned (N, Z)`` with every
    factor of compact ``labels (N, A)``."""
    return np.stack([mutual_information(binned, bins, labels[:, j], k)
                     for j, k in enumerate(cardinalities)], axis=1)


def entropy_and_gap(labels: np.ndarray, info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entropy ``(A,)`` of each factor of compact ``labels (N, A)`` (nats) and the normalised
    gap ``(A,)`` between the two largest rows of ``info (U, A)`` (NaN for a constant factor)."""
    freq = [np.bincount(labels[:, j]) / len(labels) for j in range(labels.shape[1])]
    entropy = np.array([-(p * np.log(p)).sum() for p in freq])
    top = -np.sort(-info, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(entropy > 0, (top[0] - top[1]) / entropy, np.nan)
    return entropy, gap


def mig(codes: ArrayLike, factors: ArrayLike, *, bins: int = 20,
        factor_names: Sequence[str] | None = None) -> MIGScores:
    """MIG of ``codes (N, Z)`` (``Z >= 2``) for integer ``factors (N, A)``.

    A factor with a single value has zero entropy: its gap is NaN and it is left out of the
    mean.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins must be an int >= 2, got {bins!r}")
    data = factor_inputs(codes, factors, factor_names)
    z, y, cards = data.codes, data.labels, data.cardinalities
    if z.shape[1] < 2:
        raise DataError(f"mig needs codes with at least 2 dimensions (a gap between the best "
                        f"two), got shape {z.shape}")
    info = all_mutual_information(discretize(z, bins), bins, y, cards)
    entropy, gap = entropy_and_gap(y, info)
    return MIGScores(data.names, info, entropy, gap,
                     {"bins": bins, "discretization": "equal-width per dimension",
                      "cardinalities": list(cards)})


@dataclass(frozen=True)
class BlockMIGScores(GapScore):
    """Block-level MIG: ``mutual_information (B, A)`` in nats between each block's cluster index
    and each factor, ``entropy (A,)``, ``gap (A,)`` and the most informative block per factor."""

    blocks: tuple[str, ...]
    factors: tuple[str, ...]
    mutual_information: np.ndarray
    entropy: np.ndarray
    gap: np.ndarray
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def best_block(self) -> tuple[str, ...]:
        """For each factor, the block that carries most information about it."""
        return tuple(self.blocks[i] for i in np.argmax(self.mutual_information, axis=0))

    def to_dict(self) -> dict[str, Any]:
        return {"metric": "block_mig", "blocks": list(self.blocks), "factors": list(self.factors),
                "block_mig": json_float(self.score), "gap": json_array(self.gap),
                "best_block": list(self.best_block), "entropy": json_array(self.entropy),
                "mutual_information": json_array(self.mutual_information),
                "config": dict(self.config)}


def kmeans(x: np.ndarray, clusters: int, rng: np.random.Generator,
           iterations: int = 100) -> np.ndarray:
    """Cluster index ``(N,)`` of each row of ``x (N, D)`` (float64): k-means++ seeding from
    *rng*, then Lloyd iterations until no assignment changes (at most *iterations*).

    Fewer distinct rows than *clusters* give fewer clusters; a cluster that empties keeps its
    centre.
    """
    n = len(x)
    centres = [x[rng.integers(n)]]
    nearest = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, min(clusters, n)):
        total = nearest.sum()
        if total <= 0:  # every row coincides with a centre already
            break
        pick = x[rng.choice(n, p=nearest / total)]
        centres.append(pick)
        nearest = np.minimum(nearest, ((x - pick) ** 2).sum(axis=1))
    centre = np.stack(centres)
    assignment = np.full(n, -1)
    squares = (x**2).sum(axis=1, keepdims=True)
    for _ in range(iterations):
        distance = squares - 2.0 * x @ centre.T + (centre**2).sum(axis=1)[None, :]
        new = distance.argmin(axis=1)
        if np.array_equal(new, assignment):
            break
        assignment = new
        counts = np.bincount(assignment, minlength=len(centre))
        sums = np.stack([np.bincount(assignment, weights=column, minlength=len(centre))
                         for column in x.T], axis=1)
        filled = counts > 0
        centre[filled] = sums[filled] / counts[filled, None]
    return assignment


def block_mig(codes: ArrayLike, factors: ArrayLike, partition: LatentPartition | Sequence[int],
              *, clusters: int = 20, seed: Seed = 0, iterations: int = 100,
              factor_names: Sequence[str] | None = None) -> BlockMIGScores:
    """Block-level MIG of ``codes (N, Z)`` for integer ``factors (N, A)``, with the blocks of
    *partition* (a :class:`~groupsup.LatentPartition` or a list of block widths summing to Z;
    at least 2 blocks).

    Each block's dimensions are standardised (so the score does not depend on their units),
    clustered into at most ``clusters`` groups by k-means (seeded from ``seed``; blocks in
    order), and the block is replaced by its cluster index. For each factor the gap between the
    two most informative blocks is divided by the factor's entropy; the score is the mean gap.
    ``I <= log(clusters)``, so a factor with more than ``clusters`` equally likely values
    cannot reach a gap of 1: raise ``clusters`` for such factors (the plug-in estimate's upward
    bias, about ``(clusters - 1)(K - 1) / 2N`` nats, grows with it).
    """
    if isinstance(clusters, bool) or not isinstance(clusters, int) or clusters < 2:
        raise ConfigError(f"clusters must be an int >= 2, got {clusters!r}")
    if isinstance(partition, LatentPartition):
        block_names, sizes = partition.names, partition.sizes
    else:
        sizes = tuple(int(s) for s in partition)
        block_names = tuple(f"block{i}" for i in range(len(sizes)))
    data = factor_inputs(codes, factors, factor_names)
    z, y, cards = data.codes, data.labels, data.cardinalities
    if len(sizes) < 2 or min(sizes) < 1 or sum(sizes) != z.shape[1]:
        raise DataError(f"block_mig needs at least 2 blocks of positive width covering the "
                        f"{z.shape[1]} code dimensions, got widths {list(sizes)}")
    rng = make_rng(seed)
    standard = standardise(z)
    starts = np.cumsum((0, *sizes))
    binned = np.stack([kmeans(standard[:, a:b], clusters, rng, iterations)
                       for a, b in pairwise(starts)], axis=1)
    info = all_mutual_information(binned, clusters, y, cards)
    entropy, gap = entropy_and_gap(y, info)
    return BlockMIGScores(block_names, data.names, info, entropy, gap,
                          {"clusters": clusters, "seed": seed_record(seed),
                           "iterations": iterations, "block_sizes": list(sizes),
                           "discretization": "k-means++ per standardised block",
                           "cardinalities": list(cards)})
