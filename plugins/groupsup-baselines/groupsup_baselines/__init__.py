"""groupsup-baselines: the paper's baselines as a groupsup plugin (docs/method.md §4).

The entry point (group ``groupsup``) is :mod:`groupsup_baselines.plugin`. It registers the loss
terms ``block-classifier`` (AE+DS) and ``kl``, the backbone wrapper ``vae``, the recipes
``ae-ds`` and ``beta-vae``, and the command ``groupsup compare``. Uses only groupsup's public
API (plus :mod:`groupsup.evaluate` for the metrics and the evaluation runner).
"""

from groupsup_baselines.compare import compare
from groupsup_baselines.search import (
    PartitionSearch,
    ReorderedBackbone,
    SearchedPartition,
    assign_dimensions,
    search_partition,
)
from groupsup_baselines.supervision import BlockClassifier
from groupsup_baselines.vae import KL, VAE, VAEConfig, kl_divergence

__version__ = "0.1.0"

__all__ = [
    "KL",
    "VAE",
    "BlockClassifier",
    "PartitionSearch",
    "ReorderedBackbone",
    "SearchedPartition",
    "VAEConfig",
    "__version__",
    "assign_dimensions",
    "compare",
    "kl_divergence",
    "search_partition",
]
