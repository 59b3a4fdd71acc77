"""Seeds and train/test splits: every random choice of a metric goes through here."""

from __future__ import annotations

import numpy as np
import torch

from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.arrays import ArrayLike

Seed = int | np.random.Generator


def make_rng(seed: Seed) -> np.random.Generator:
    """A numpy Generator from an int seed, or the Generator itself (it is advanced in place)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an int or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def seed_record(seed: Seed) -> int | str:
    """The seed as written into a result's config: the int, or ``"generator"``."""
    return "generator" if isinstance(seed, np.random.Generator) else int(seed)


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU torch Generator seeded by one draw from *rng*."""
    generator = torch.Generator()
    generator.manual_seed(int(rng.integers(2**62)))
    return generator


def split_indices(n: int, rng: np.random.Generator, test_fraction: float = 0.25,
                  train_index: ArrayLike | None = None,
                  test_index: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows for fitting and rows for scoring, each a sorted int64 array.

    With neither index given, a random ``test_fraction`` of the *n* rows is held out. With
    ``train_index`` only, the test rows are the rest; with both, they are used as given.
    """
    if train_index is None and test_index is None:
        if not 0.0 < test_fraction < 1.0:
            raise ConfigError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        n_test = round(n * test_fraction)
        if n_test < 1 or n_test > n - 1:
            raise DataError(f"test_fraction {test_fraction} of {n} rows leaves an empty train or "
                            f"test split")
        order = rng.permutation(n)
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    if train_index is None:
        raise ConfigError("test_index needs train_index as well")
    train = _index(train_index, n, "train_index")
    test = (np.setdiff1d(np.arange(n), train) if test_index is None
            else _index(test_index, n, "test_index"))
    if test.size == 0:
        raise DataError(f"train_index covers all {n} rows: nothing is left to test on")
    return train, test


def _index(index: ArrayLike, n: int, name: str) -> np.ndarray:
    idx = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise DataError(f"{name} as a boolean mask must have shape ({n},), got {idx.shape}")
        idx = np.flatnonzero(idx)
    idx = idx.astype(np.int64).reshape(-1)
    if idx.size == 0:
        raise DataError(f"{name} is empty")
    if idx.min() < 0 or idx.max() >= n:
        raise DataError(f"{name} holds rows outside 0..{n - 1} "
                        f"(min {int(idx.min())}, max {int(idx.max())})")
    return np.sort(idx)
