"""The FactorVAE score (Kim & Mnih, ICML 2018) on fixed codes and factors.

The original samples images with one factor fixed from a simulator; here the batches are drawn
from labelled codes (the "fixed data" variant): for each vote a factor k is drawn uniformly among
the factors that vary, a value of it is read off a uniformly drawn row (so values come with
their frequency in the data), and ``batch_size`` rows showing that value are drawn with
replacement. Each dimension's variance over the batch (``ddof=1``) is divided by its variance
over all rows; the dimension with the smallest ratio votes for factor k. A majority-vote
classifier maps every dimension to the factor that gave it most training votes (``num_train``
votes); the score is its accuracy on ``num_eval`` fresh votes. As in disentanglement_lib,
dimensions whose global standard deviation is below ``prune_threshold`` (default 0, as there)
do not vote; constant dimensions never do (their ratio is undefined).

A perfectly disentangled code scores 1 (the fixed factor's own dimension has zero variance).
Votes spread evenly over the factors (random codes) score about ``1 / A``, the floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import ArrayLike, factor_inputs, json_float
from groupsup.evaluate.seeding import Seed, make_rng, seed_record


@dataclass(frozen=True)
class FactorVAEScores:
    """Votes ``(A, Z)`` (factor fixed x dimension of least normalised variance), the
    majority-vote ``classifier (Z,)`` (a factor index per dimension) and its accuracies."""

    factors: tuple[str, ...]
    train_votes: np.ndarray
    eval_votes: np.ndarray
    classifier: np.ndarray
    active: np.ndarray
    train_accuracy: float
    eval_accuracy: float
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The held-out accuracy of the majority-vote classifier."""
        return self.eval_accuracy

    def to_dict(self) -> dict[str, Any]:
        return {"metric": "factorvae", "factors": list(self.factors),
                "factorvae": json_float(self.score),
                "train_accuracy": json_float(self.train_accuracy),
                "active_dimensions": int(self.active.sum()),
                "classifier": [self.factors[k] for k in self.classifier],
                "train_votes": self.train_votes.tolist(), "eval_votes": self.eval_votes.tolist(),
                "config": dict(self.config)}


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def draw_votes(codes: np.ndarray, labels: np.ndarray, cardinalities: Sequence[int],
               global_variance: np.ndarray, active: np.ndarray, votes: int, batch_size: int,
               rng: np.random.Generator, chunk: int = 256) -> np.ndarray:
    """``(A, Z)`` vote counts from *votes* batches with one factor fixed.

    ``codes (N, Z)`` float64, compact ``labels (N, A)``; ``active (Z,)`` the dimensions that may
    vote. Batches are processed *chunk* at a time as one ``(chunk, batch_size, Z)`` array.
    """
    n, z = codes.shape
    a = labels.shape[1]
    varying = np.flatnonzero(np.asarray(cardinalities) > 1)
    # factor k's rows sorted by value, at k * n in one flat array; value v of factor k starts
    # at start[k, v] within them and has count[k, v] rows
    order = np.concatenate([np.argsort(labels[:, k], kind="stable") for k in range(a)])
    count = np.zeros((a, max(cardinalities)), dtype=np.int64)
    for k, c in enumerate(cardinalities):
        count[k, :c] = np.bincount(labels[:, k], minlength=c)
    start = np.cumsum(count, axis=1) - count + n * np.arange(a)[:, None]
    candidates = np.flatnonzero(active)
    tally = np.zeros((a, z), dtype=np.int64)
    for begin in range(0, votes, chunk):
        m = min(chunk, votes - begin)
        fixed = varying[rng.integers(len(varying), size=m)]
        value = labels[rng.integers(n, size=m), fixed]
        offset = (rng.random((m, batch_size)) * count[fixed, value][:, None]).astype(np.int64)
        rows = order[start[fixed, value][:, None] + offset]  # (m, batch_size)
        ratio = codes[rows][..., candidates].var(axis=1, ddof=1) / global_variance[candidates]
        np.add.at(tally, (fixed, candidates[ratio.argmin(axis=1)]), 1)
    return tally


def factorvae(codes: ArrayLike, factors: ArrayLike, *, batch_size: int = 64,
              num_train: int = 10000, num_eval: int = 5000, prune_threshold: float = 0.0,
              seed: Seed = 0, factor_names: Sequence[str] | None = None) -> FactorVAEScores:
    """The FactorVAE score of ``codes (N, Z)`` for integer ``factors (N, A)`` (at least one
    factor with two values), with the defaults of disentanglement_lib (batches of 64, 10,000
    training and 5,000 evaluation votes). Every draw comes from ``seed``.

    With no dimension left to vote (all constant or pruned) the score is 0, as there.
    """
    batch_size = _positive(batch_size, "batch_size")
    if batch_size < 2:
        raise ConfigError(f"batch_size must be at least 2 (a variance needs two rows), got "
                          f"{batch_size}")
    num_train, num_eval = _positive(num_train, "num_train"), _positive(num_eval, "num_eval")
    if prune_threshold < 0:
        raise ConfigError(f"prune_threshold must be non-negative, got {prune_threshold}")
    data = factor_inputs(codes, factors, factor_names)
    z, y, cards, names = data.codes, data.labels, data.cardinalities, data.names
    if max(cards) < 2:
        raise DataError(f"factorvae needs a factor with at least two values, got cardinalities "
                        f"{list(cards)}")
    if z.shape[0] < 2:
        raise DataError(f"factorvae needs at least 2 rows, got codes of shape {z.shape}")
    rng = make_rng(seed)
    global_variance = z.var(axis=0, ddof=1)
    active = (global_variance > 0) & (np.sqrt(global_variance) >= prune_threshold)
    config = {"batch_size": batch_size, "num_train": num_train, "num_eval": num_eval,
              "prune_threshold": prune_threshold, "seed": seed_record(seed),
              "sampling": "fixed data: rows sharing the fixed factor's value, with replacement",
              "cardinalities": list(cards)}
    a, d = y.shape[1], z.shape[1]
    if not active.any():
        empty = np.zeros((a, d), dtype=np.int64)
        return FactorVAEScores(names, empty, empty, np.zeros(d, dtype=np.int64), active, 0.0, 0.0,
                               config)
    train = draw_votes(z, y, cards, global_variance, active, num_train, batch_size, rng)
    held_out = draw_votes(z, y, cards, global_variance, active, num_eval, batch_size, rng)
    classifier = train.argmax(axis=0)  # (Z,): the factor each dimension voted for most
    columns = np.arange(d)
    return FactorVAEScores(
        names, train, held_out, classifier, active,
        train_accuracy=float(train[classifier, columns].sum() / train.sum()),
        eval_accuracy=float(held_out[classifier, columns].sum() / held_out.sum()), config=config)
