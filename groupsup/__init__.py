"""groupsup: group-supervised learning (GZS-Net) as a framework.

The public API is what this module exports (``__all__``), plus the public submodules
:mod:`groupsup.evaluate` (the metrics) and :mod:`groupsup.fileio` (atomic writes), each through
its own ``__all__``; everything else may change between versions (docs/architecture.md).
"""

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
from groupsup.model import SwapAutoencoder, load_model
from groupsup.partition import LatentPartition
from groupsup.plugins import get_host
from groupsup.registry import Registries, RegistrySet
from groupsup.runs.context import EvalContext
from groupsup.runs.during import EvaluateDuringTraining
from groupsup.runs.evaluate import evaluate_run, fit_shared_judge
from groupsup.runs.options import EvalOptions
from groupsup.runs.report import write_html, write_report
from groupsup.runs.step import CodeMetric, EvaluationStep, SynthesisMeasure
from groupsup.runs.zeroshot import synthesise
from groupsup.schema import UNKNOWN, Attribute, Free, Schema
from groupsup.train import (
    Callback,
    ExperimentConfig,
    Loop,
    Resolved,
    RunResult,
    Trainer,
    load_config,
    load_dataset,
    resolve,
    train,
)
from groupsup.train.loader import GroupLoader
from groupsup.version import __version__

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
    "evaluate_run",
    "fit_shared_judge",
    "get_host",
    "held_out_split",
    "hookimpl",
    "load_config",
    "load_dataset",
    "load_model",
    "random_combinations",
    "resolve",
    "rule_split",
    "scan_images",
    "synthesise",
    "train",
    "write_html",
    "write_report",
]
