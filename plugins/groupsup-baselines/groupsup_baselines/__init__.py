"""groupsup-baselines: the paper's baselines as a groupsup plugin (docs/method.md §4).

The entry point (group ``groupsup``) is :mod:`groupsup_baselines.plugin`. It registers the loss
terms ``block-classifier`` (AE+DS), ``kl``, ``tc-kl`` (beta-TCVAE), ``ada-gvae-recon``,
``ada-gvae-kl``, ``ml-vae-recon``, ``ml-vae-kl``, ``stargan`` and ``elegant-adversarial``, the
backbones ``vae``, ``stargan`` and ``elegant``, the recipes ``ae-ds``, ``beta-vae``,
``beta-tcvae``, ``ada-gvae``, ``ml-vae``, ``stargan`` and ``elegant``, and the command
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
from groupsup_baselines.mlvae import (
    MLVAEKL,
    Accumulated,
    MLVAERecon,
    accumulate,
    grouped_kl,
    value_slots,
)
from groupsup_baselines.search import (
    PartitionSearch,
    ReorderedBackbone,
    SearchedPartition,
    assign_dimensions,
    best_assignment,
    block_information,
    search_partition,
)
from groupsup_baselines.supervision import BlockClassifier
from groupsup_baselines.tcvae import TCKL, TCDecomposition, tc_decomposition
from groupsup_baselines.vae import KL, VAE, VAEConfig, kl_divergence

__version__ = "0.1.0"

__all__ = [
    "KL",
    "MLVAEKL",
    "TCKL",
    "VAE",
    "Accumulated",
    "AdaGVAEKL",
    "AdaGVAERecon",
    "BlockClassifier",
    "MLVAERecon",
    "PartitionSearch",
    "ReorderedBackbone",
    "SearchedPartition",
    "TCDecomposition",
    "VAEConfig",
    "__version__",
    "accumulate",
    "adaptive_average",
    "assign_dimensions",
    "best_assignment",
    "block_information",
    "compare",
    "grouped_kl",
    "kl_divergence",
    "pair_kl",
    "search_partition",
    "shared_dimensions",
    "tc_decomposition",
    "value_slots",
]
