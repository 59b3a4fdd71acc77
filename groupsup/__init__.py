"""groupsup: group-supervised learning (GZS-Net) as a framework.

The public API is what this module exports (``__all__``), plus the public submodules
:mod:`groupsup.evaluate` (the metrics) and :mod:`groupsup.fileio` (atomic writes), each through
its own ``__all__``; everything else may change between versions (docs/architecture.md).
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from groupsup.backbones import Backbone, BackboneConfig
from groupsup.cli import Command
from groupsup.data import (
    IMAGE_SUFFIXES,
    DatasetSpec,
    Download,
    GroupDataset,
    ImageScan,
    scan_images,
)
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
from groupsup.model import load_model as _load_model
from groupsup.partition import LatentPartition
from groupsup.plugins import get_host
from groupsup.registry import Registries, RegistrySet
from groupsup.runs.context import EvalContext
from groupsup.runs.during import EvaluateDuringTraining
from groupsup.runs.evaluate import evaluate_run, fit_shared_judge
from groupsup.runs.options import EvalOptions
from groupsup.runs.report import write_html, write_report
from groupsup.runs.step import CodeMetric, EvaluationStep, SynthesisMeasure
from groupsup.runs.zeroshot import synthesize
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


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
               registries: Registries | None = None) -> SwapAutoencoder:
    """The :class:`SwapAutoencoder` saved at *path* (a model folder, a checkpoint directory or
    a run directory: its latest checkpoint) with its weights on *map_location*; its backbone
    looked up in *registries*, by default the plugin host's (:func:`get_host`)."""
    return _load_model(path, map_location,
                       registries=get_host() if registries is None else registries)


def save_pretrained(model: SwapAutoencoder | str | os.PathLike, folder: str | os.PathLike, *,
                    overwrite: bool = False, registries: Registries | None = None) -> Path:
    """Write a model folder anyone can load (Hugging Face Hub layout: ``model.safetensors``,
    ``config.json``, a generated model card ``README.md``; :mod:`groupsup.pretrained`).
    *model* is a :class:`SwapAutoencoder`, or a run directory (its latest checkpoint, with the
    run's recipe, data and latest evaluation in the card) or checkpoint directory."""
    from groupsup.pretrained import is_run_dir
    from groupsup.pretrained import save_pretrained as _save

    if isinstance(model, SwapAutoencoder):
        return _save(model, folder, overwrite=overwrite)
    return _save(load_model(model, registries=registries), folder,
                 run=model if is_run_dir(model) else None, overwrite=overwrite)


def from_pretrained(folder: str | os.PathLike, map_location: str | torch.device = "cpu", *,
                    registries: Registries | None = None) -> SwapAutoencoder:
    """The model of a folder written by :func:`save_pretrained` (or any saved model, checkpoint
    or run directory), its backbone looked up in *registries* (default: the plugin host's)."""
    return load_model(folder, map_location, registries=registries)


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
    "CodeMetric",
    "Command",
    "ConfigError",
    "DataError",
    "DatasetSpec",
    "Decode",
    "Download",
    "Encode",
    "EvalContext",
    "EvalOptions",
    "EvaluateDuringTraining",
    "EvaluationStep",
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
    "SynthesisMeasure",
    "TermConfig",
    "Trainer",
    "__version__",
    "build_dataset",
    "build_model",
    "build_recipe",
    "evaluate_run",
    "fit_shared_judge",
    "from_pretrained",
    "get_host",
    "held_out_split",
    "hookimpl",
    "load_config",
    "load_model",
    "random_combinations",
    "resolve",
    "rule_split",
    "save_pretrained",
    "scan_images",
    "synthesize",
    "train",
    "write_html",
    "write_report",
]
