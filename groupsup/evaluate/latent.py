"""The standard disentanglement metrics of one set of codes, as ``groupsup evaluate`` reports them.

:func:`disentanglement_metrics` runs MIG, block-level MIG (when the partition has at least two
blocks), DCI (logistic importances with the permuted-code floor), the FactorVAE score and SAP
(discrete factors) on the same codes and labels, each with its defaults and one seed, and returns
their ``to_dict()`` results by name; a plugin's code metric (registered through
``register_evaluations``, see :class:`groupsup.CodeMetric`) is passed in by name with them.
:func:`summary_line` condenses them into one console line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from groupsup.errors import ConfigError, did_you_mean
from groupsup.evaluate.dci import dci
from groupsup.evaluate.factorvae import factorvae
from groupsup.evaluate.mig import block_mig, mig
from groupsup.evaluate.sap import sap
from groupsup.partition import LatentPartition


class CodeMetricFunction(Protocol):
    """A metric of latent codes and their labels (wrapped in :class:`groupsup.CodeMetric` to
    register it through ``register_evaluations``)."""

    def __call__(self, codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
                 factor_names: Sequence[str], seed: int) -> Any: ...


# The metrics `groupsup evaluate` runs on the training codes by default (registry names).
DEFAULT_CODE_METRICS = ("mig", "block_mig", "dci", "factorvae", "sap")


def _mig(codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
         factor_names: Sequence[str], seed: int) -> Any:
    return mig(codes, labels, factor_names=factor_names)


def _block_mig(codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
               factor_names: Sequence[str], seed: int) -> Any:
    if len(partition) < 2:  # one block: nothing to compare it with
        return None
    return block_mig(codes, labels, partition, seed=seed, factor_names=factor_names)


def _dci(codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
         factor_names: Sequence[str], seed: int) -> Any:
    return dci(codes, labels, seed=seed, factor_names=factor_names)


def _factorvae(codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
               factor_names: Sequence[str], seed: int) -> Any:
    return factorvae(codes, labels, seed=seed, factor_names=factor_names)


def _sap(codes: np.ndarray, labels: np.ndarray, *, partition: LatentPartition,
         factor_names: Sequence[str], seed: int) -> Any:
    return sap(codes, labels, seed=seed, factor_names=factor_names)


# name -> (code metric, description): registered through ``register_evaluations``
# (groupsup/runs/builtin.py)
CODE_METRICS: dict[str, tuple[CodeMetricFunction, str]] = {
    "mig": (_mig, "mutual information gap (histogram-discretised codes)"),
    "block_mig": (_block_mig, "MIG between factors and latent blocks (k-means-discretised "
                  "blocks); skipped for a one-block partition"),
    "dci": (_dci, "DCI disentanglement, completeness, informativeness (logistic importances, "
            "with the permuted-code floor)"),
    "factorvae": (_factorvae, "FactorVAE score: majority vote on the dimension of least "
                  "variance"),
    "sap": (_sap, "SAP: gap between the two dimensions best predicting a factor"),
}


def disentanglement_metrics(codes: np.ndarray, labels: np.ndarray, partition: LatentPartition,
                            names: Sequence[str], seed: int = 0,
                            metrics: Sequence[str] | Mapping[str, CodeMetricFunction]
                            = DEFAULT_CODE_METRICS) -> dict[str, Any]:
    """Run the code *metrics* on ``codes (N, Z)`` for ``labels (N, A)`` named *names*:
    ``{metric name: result.to_dict()}`` (a metric returning None is left out).

    *metrics*: names of the built-in :data:`CODE_METRICS`, or ``{name: metric}`` (e.g. a
    plugin's, as ``groupsup evaluate`` passes them). Every metric is called as
    ``metric(codes, labels, partition=..., factor_names=..., seed=...)`` and returns an object
    with ``to_dict()``.
    """
    if not isinstance(metrics, Mapping):
        metrics = {name: _builtin(name) for name in metrics}
    names = list(names)
    out: dict[str, Any] = {}
    scarce = too_few_rows(labels, names)
    if scarce is not None:  # every score would be an artefact of the sample: say so instead
        return {name: {"metric": name, "undefined": scarce} for name in metrics}
    for name, metric in metrics.items():
        result = metric(codes, labels, partition=partition, factor_names=names, seed=seed)
        if result is not None:
            out[name] = result.to_dict()
    return out


def _builtin(name: str) -> CodeMetricFunction:
    if name not in CODE_METRICS:
        raise ConfigError(f"no built-in code metric named {name!r}"
                          f"{did_you_mean(name, CODE_METRICS)}; built-in: {list(CODE_METRICS)}")
    return CODE_METRICS[name][0]


# below this many rows for some value of a factor that varies, the code metrics say nothing
# (8 rows gave MIG 0.08, DCI D 1.0 and FactorVAE 1.0; with one row per value FactorVAE scored
# 1.000 or 0.715 depending only on the order of the columns)
MIN_ROWS_PER_VALUE = 5


def too_few_rows(labels: np.ndarray, names: Sequence[str],
                 minimum: int = MIN_ROWS_PER_VALUE) -> str | None:
    """Why the code metrics are undefined on ``labels (N, A)`` (a value of a factor that varies
    has fewer than *minimum* rows), or None. Unknown labels (negative codes) are not counted."""
    for j, name in enumerate(names):
        column = labels[:, j]
        values, counts = np.unique(column[column >= 0], return_counts=True)
        if len(values) > 1 and counts.min() < minimum:
            value = values[counts.argmin()]
            return (f"attribute {name!r}: value code {int(value)} has {int(counts.min())} "
                    f"row(s) of {len(labels)}; the code metrics need at least {minimum} rows "
                    "per value of each attribute that varies")
    return None


def summary_line(results: dict[str, Any]) -> str:
    """One line, e.g. ``MIG 0.05, block-MIG 0.81, DCI D 0.62 (floor 0.12) C 0.31 I 0.97, ...``."""

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    parts = []
    undefined = {r.get("undefined") for r in results.values()} - {None}
    if undefined:
        return f"code metrics undefined ({sorted(undefined)[0]})"
    for name, result in results.items():
        if name == "dci":
            parts.append(f"DCI D {num(result['disentanglement'])} (floor "
                         f"{num(result['null_disentanglement'])}) C {num(result['completeness'])}"
                         f" (floor {num(result['null_completeness'])}) "
                         f"I {num(result['informativeness'])}")
        else:
            label = {"mig": "MIG", "block_mig": "block-MIG", "factorvae": "FactorVAE",
                     "sap": "SAP"}.get(name, name)
            parts.append(f"{label} {num(result.get(name))}")
    return ", ".join(parts)
