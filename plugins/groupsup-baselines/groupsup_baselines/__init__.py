"""groupsup-baselines: the paper's baselines as a groupsup plugin (docs/method.md §4).

The entry point (group ``groupsup``) is :mod:`groupsup_baselines.plugin`. It registers the loss
terms ``block-classifier`` (AE+DS), ``kl``, ``ada-gvae-recon`` and ``ada-gvae-kl``, the backbone
wrapper ``vae``, the recipes ``ae-ds``, ``beta-vae`` and ``ada-gvae``, and the command
``groupsup compare``. Uses only groupsup's public
API (plus :mod:`groupsup.evaluate` for the metrics and the evaluation runner).
"""

from groupsup_baselines.adagvae import (
    AdaGVAEKL,
    AdaGVAERecon,
    adaptive_average,
    pair_kl,
    shared_dimensions,
)
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
    "AdaGVAEKL",
    "AdaGVAERecon",
    "BlockClassifier",
    "PartitionSearch",
    "ReorderedBackbone",
    "SearchedPartition",
    "VAEConfig",
    "__version__",
    "adaptive_average",
    "assign_dimensions",
    "compare",
    "kl_divergence",
    "pair_kl",
    "search_partition",
    "shared_dimensions",
]
