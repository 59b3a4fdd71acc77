"""groupsup: group-supervised learning (GZS-Net) as a framework.

The public API is what this module exports (``__all__``), plus the public submodules
:mod:`groupsup.evaluate` (the metrics) and :mod:`groupsup.fileio` (atomic writes), each through
its own ``__all__``; everything else may change between versions (docs/architecture.md).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from groupsup.backbones import Backbone, BackboneConfig
from groupsup.cli import Command
from groupsup.data import IMAGE_SUFFIXES, DatasetSpec, GroupDataset, ImageScan, scan_images
from groupsup.errors import (
    ConfigError,
    DataError,
    GroupsupError,
    LabelError,
    PartitionError,
    PluginError,
    RegistryError,
    SchemaError,
    StorageError,
)
from groupsup.evaluate.during import EvaluateDuringTraining
from groupsup.evaluate.report import write_html, write_report
from groupsup.evaluate.run import EvalOptions, evaluate_run, fit_shared_judge, synthesize
from groupsup.graph import MultiGraph, Rule, Split, Strategy
from groupsup.graph.splits import held_out_split, random_combinations, rule_split
from groupsup.groups import GroupBatch, Relation
from groupsup.hookspecs import hookimpl
from groupsup.losses import (
    Decode,
    Encode,
    LossOutput,
    LossRecipe,
    LossSpec,
    LossTerm,
    StepContext,
    TermConfig,
)
from groupsup.model import SwapAutoencoder
from groupsup.partition import LatentPartition
from groupsup.plugins import get_host
from groupsup.registry import Registries, RegistrySet
from groupsup.schema import UNKNOWN, Attribute, Free, Schema
from groupsup.train import (
    Callback,
    ExperimentConfig,
    Loop,
    Resolved,
    RunResult,
    Trainer,
    build_dataset,
    load_config,
    load_model,
    resolve,
    train,
)
from groupsup.train.loader import GroupLoader
from groupsup.version import __version__


def build_model(backbone: str | Backbone, schema: type[Schema],
                image_shape: tuple[int, int, int],
                backbone_config: Mapping[str, Any] | BaseModel | None = None, *,
                registries: Registries | None = None, micro_batch: int | None = None,
                free_warp: str | None = None) -> SwapAutoencoder:
    """A :class:`SwapAutoencoder` whose backbone (a registry name, or an instance) is looked up
    in *registries*, by default the plugin host's (:func:`get_host`)::

        model = gs.build_model("conv-small", schema=Shapes, image_shape=(3, 32, 32))
    """
    return SwapAutoencoder(backbone, schema, image_shape, backbone_config,
                           registries=get_host() if registries is None else registries,
                           micro_batch=micro_batch, free_warp=free_warp)


def build_recipe(recipe: LossRecipe | str | Sequence[LossSpec | Mapping[str, Any] | str],
                 distance: str = "l1", *, registries: Registries | None = None,
                 reduction: str = "mean") -> LossRecipe:
    """A :class:`LossRecipe` from a registered recipe's name (``"gsl"``; *distance* and
    *reduction* are then the recipe's own) or a list of terms, looked up in *registries*, by
    default the plugin host's (:func:`get_host`); a recipe is returned as it is::

        recipe = gs.build_recipe(["recon", "swap", {"term": "cover", "weight": 2.0}])
    """
    registries = get_host() if registries is None else registries
    if isinstance(recipe, LossRecipe):
        return recipe
    if isinstance(recipe, str):
        return LossRecipe.named(recipe, registries=registries)
    return LossRecipe(recipe, distance=distance, registries=registries, reduction=reduction)


__all__ = [
    "IMAGE_SUFFIXES",
    "UNKNOWN",
    "Attribute",
    "Backbone",
    "BackboneConfig",
    "Callback",
    "Command",
    "ConfigError",
    "DataError",
    "DatasetSpec",
    "Decode",
    "Encode",
    "EvalOptions",
    "EvaluateDuringTraining",
    "ExperimentConfig",
    "Free",
    "GroupBatch",
    "GroupDataset",
    "GroupLoader",
    "GroupsupError",
    "ImageScan",
    "LabelError",
    "LatentPartition",
    "Loop",
    "LossOutput",
    "LossRecipe",
    "LossSpec",
    "LossTerm",
    "MultiGraph",
    "PartitionError",
    "PluginError",
    "Registries",
    "RegistryError",
    "RegistrySet",
    "Relation",
    "Resolved",
    "Rule",
    "RunResult",
    "Schema",
    "SchemaError",
    "Split",
    "StepContext",
    "StorageError",
    "Strategy",
    "SwapAutoencoder",
    "TermConfig",
    "Trainer",
    "__version__",
    "build_dataset",
    "build_model",
    "build_recipe",
    "evaluate_run",
    "fit_shared_judge",
    "get_host",
    "held_out_split",
    "hookimpl",
    "load_config",
    "load_model",
    "random_combinations",
    "resolve",
    "rule_split",
    "scan_images",
    "synthesize",
    "train",
    "write_html",
    "write_report",
]
