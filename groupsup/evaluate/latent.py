"""The standard disentanglement metrics of one set of codes, as ``groupsup evaluate`` reports them.

:func:`disentanglement_metrics` runs MIG, block-level MIG (when the partition has at least two
blocks), DCI (logistic importances with the permuted-code floor), the FactorVAE score and SAP
(discrete factors) on the same codes and labels, each with its defaults and one seed, and returns
their ``to_dict()`` results under their registered names. :func:`summary_line` condenses them
into one console line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from groupsup.evaluate.dci import dci
from groupsup.evaluate.factorvae import factorvae
from groupsup.evaluate.mig import block_mig, mig
from groupsup.evaluate.sap import sap
from groupsup.partition import LatentPartition


def disentanglement_metrics(codes: np.ndarray, labels: np.ndarray, partition: LatentPartition,
                            names: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """MIG, block-MIG, DCI, FactorVAE and SAP of ``codes (N, Z)`` for ``labels (N, A)`` named
    *names*: ``{metric name: to_dict()}`` (block-MIG only for partitions of 2 blocks or more)."""
    names = list(names)
    out: dict[str, Any] = {"mig": mig(codes, labels, factor_names=names).to_dict()}
    if len(partition) >= 2:
        out["block_mig"] = block_mig(codes, labels, partition, seed=seed,
                                     factor_names=names).to_dict()
    out["dci"] = dci(codes, labels, seed=seed, factor_names=names).to_dict()
    out["factorvae"] = factorvae(codes, labels, seed=seed, factor_names=names).to_dict()
    out["sap"] = sap(codes, labels, seed=seed, factor_names=names).to_dict()
    return out


def summary_line(results: dict[str, Any]) -> str:
    """One line, e.g. ``MIG 0.05, block-MIG 0.81, DCI D 0.62 (floor 0.12) C 0.31 I 0.97, ...``."""

    def num(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    d = results["dci"]
    parts = [f"MIG {num(results['mig']['mig'])}"]
    if "block_mig" in results:
        parts.append(f"block-MIG {num(results['block_mig']['block_mig'])}")
    parts += [f"DCI D {num(d['disentanglement'])} (floor {num(d['null_disentanglement'])}) "
              f"C {num(d['completeness'])} (floor {num(d['null_completeness'])}) "
              f"I {num(d['informativeness'])}",
              f"FactorVAE {num(results['factorvae']['factorvae'])}",
              f"SAP {num(results['sap']['sap'])}"]
    return ", ".join(parts)
