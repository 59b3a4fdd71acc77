"""``resolve(config)``: one step from an experiment config to validated, typed components.

Every name a config holds (dataset, backbone, strategy, loss terms or recipe, callbacks) is
looked up in one :class:`~groupsup.registry.Registries` object, every option section is
validated against its component's pydantic model, and every component is built, before
anything trains::

    resolved = resolve(config)                        # the plugin host's registries
    resolved = resolve(config, registries=my_set)     # any other (tests, two configs at once)
    resolved.model, resolved.recipe, resolved.strategy, resolved.provenance

With ``registries=None`` the process-wide plugin host is used, rebuilt first when it does not
yet disable the config's ``disable_plugins`` (:func:`groupsup.plugins.configure_host`).
``provenance`` records, for each component taken from a registry, its kind, name, plugin,
distribution and version; checkpoints store it (``plugins``).

:func:`resolve_data` is the first half (dataset, split, training subset, graph), used alone by
``groupsup graph`` and ``evaluate_run``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from groupsup.data import DatasetSpec, GroupDataset
from groupsup.errors import ConfigError, DataError, SchemaError
from groupsup.graph import MultiGraph, Strategy
from groupsup.graph.splits import Split, build_split
from groupsup.losses import LossRecipe
from groupsup.losses.recipe import registered_parts
from groupsup.model import SwapAutoencoder
from groupsup.plugins import configure_host
from groupsup.registry import Registries, Registry
from groupsup.schema import Schema
from groupsup.train.callbacks import Callback
from groupsup.train.config import ExperimentConfig, OptimConfig
from groupsup.train.config_schema import check_config
from groupsup.validation import validate

Provenance = list[dict[str, str]]


def host_registries(registries: Registries | None, disable: Iterable[str] = ()) -> Registries:
    """*registries*, or the process-wide plugin host's (rebuilt first when it does not yet
    disable every name of *disable*).

    The one place below the public facade that defaults to the host: the training layer's
    entry points (``resolve``, ``resolve_data``, ``build_dataset``, ``load_model``, and
    ``Trainer`` through ``resolve``) are the facade's own functions, called from the top
    without registries. Everything they build below takes the registries as an argument.
    """
    return registries if registries is not None else configure_host(disable=disable)


def registries_for(config: ExperimentConfig, registries: Registries | None = None
                   ) -> Registries:
    """*registries*, or the plugin host's with the config's ``disable_plugins`` applied."""
    return host_registries(registries, config.disable_plugins)


def use(provenance: Provenance, kind: str, registry: Registry[Any], name: str) -> Any:
    """The object registered as *name*, recording where it came from in *provenance*."""
    entry = registry.entry(name)
    provenance.append({"kind": kind, "name": entry.name, "plugin": entry.plugin,
                       "distribution": entry.distribution, "version": entry.version})
    return entry.obj


def build_dataset(config: ExperimentConfig, registries: Registries | None = None,
                  provenance: Provenance | None = None) -> GroupDataset:
    """The full dataset (before any split) that *config* names, with its options validated
    against the dataset's options model (by :func:`check_config`, unless *config* is one it
    returned)."""
    registries = registries_for(config, registries)
    spec = use([] if provenance is None else provenance, "dataset", registries.datasets,
               config.dataset.name)
    options = config.dataset.options
    if not isinstance(options, spec.options_model):
        options = check_config(config, registries, config.origin, ("dataset",)).dataset.options
    return spec.load(options)


@dataclass
class ResolvedData:
    """The data half of a resolved config."""

    config: ExperimentConfig
    registries: Registries
    dataset: GroupDataset  # the full dataset, before the split
    spec: DatasetSpec | None  # its registry entry (None for a dataset given in Python)
    split: Split | None
    train_dataset: GroupDataset  # the split's training side (the full dataset without one)
    graph: MultiGraph  # of train_dataset
    graph_seconds: float  # building the graph took
    provenance: Provenance = field(default_factory=list)


@dataclass
class Resolved(ResolvedData):
    """Every component a training run needs, built and validated.

    ``checked`` is :func:`check_config`'s result: ``config`` with the options of each
    pluggable section (dataset, model, strategy, loss terms) as its component's options model.
    """

    checked: ExperimentConfig | None = None
    schema: type[Schema] = Schema  # train_dataset's, with the config's latent overrides
    strategy: Strategy | None = None
    model: SwapAutoencoder | None = None
    recipe: LossRecipe | None = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    callbacks: list[Callback] = field(default_factory=list)


def resolve_data(config: ExperimentConfig, registries: Registries | None = None, *,
                 dataset: GroupDataset | None = None, split: Split | None = None,
                 check: Callable[[GroupDataset], Any] | None = None,
                 keys: tuple[str, str] = ("dataset.split", "dataset.split_options"),
                 checked: ExperimentConfig | None = None) -> ResolvedData:
    """Dataset (*dataset*, else the registered one the config names), split (*split*, else
    the config's), training subset and its graph. *check* runs on the full dataset before the
    rest is built (the image pre-flight check); *keys* name the split's keys in errors;
    *checked* is *config* as :func:`check_config` returned it (its dataset options are then
    not validated again)."""
    registries = registries_for(config, registries)
    provenance: Provenance = []
    if dataset is None:
        dataset = build_dataset(checked or config, registries, provenance)
    if check is not None:
        check(dataset)
    d = config.dataset
    spec = registries.datasets.get(d.name) if d.name in registries.datasets else None
    if split is None:
        split = build_split(dataset, d.split, seed=config.seed, options=d.split_options,
                              held_out=d.held_out, dataset_options=d.options,
                              named=getattr(spec, "splits", {}) or {}, dataset_name=d.name,
                              keys=keys)
    train = dataset if split is None else dataset.subset(split.train, name="train")
    started = time.perf_counter()
    graph = MultiGraph(train)
    return ResolvedData(config, registries, dataset, spec, split, train, graph,
                        time.perf_counter() - started, provenance)


def resolve(config: ExperimentConfig, registries: Registries | None = None, *,
            dataset: GroupDataset | None = None, model: SwapAutoencoder | None = None,
            split: Split | None = None, check: Callable[[GroupDataset], Any] | None = None
            ) -> Resolved:
    """Every component *config* names, built against *registries* (default: the plugin
    host's). *dataset*, *model* and *split* replace the config's (objects built in Python);
    *check* runs on the full dataset first. Seeds torch with ``config.seed`` before building
    the model, so the same config gives the same initial weights.

    Every name is looked up and every option validated first, once, by :func:`check_config`
    (errors prefixed with ``config.origin``, the file it was read from); the components are
    built from its typed result."""
    registries = registries_for(config, registries)
    sections = [name for name, given in (("dataset", dataset), ("model", model))
                if given is None]
    checked = check_config(config, registries, config.origin, [*sections, "strategy", "loss"])
    data = resolve_data(config, registries, dataset=dataset, split=split, check=check,
                        checked=checked)
    provenance = data.provenance
    strategy_cls = use(provenance, "strategy", registries.strategies, config.strategy.name)
    strategy = strategy_cls(data.graph, checked.strategy.options)
    torch.manual_seed(config.seed)
    schema = schema_of(config, data.train_dataset.schema)
    if model is None:
        use(provenance, "backbone", registries.backbones, config.model.backbone)
        model = _build_model(checked, data, schema)
    recipe = _build_recipe(checked, registries, provenance)
    recipe.check(set(strategy.provides))
    callbacks = build_callbacks(config.train.callbacks, registries, provenance)
    return Resolved(**data.__dict__, checked=checked, schema=schema, strategy=strategy,
                    model=model, recipe=recipe, optim=config.optim, callbacks=callbacks)


def schema_of(config: ExperimentConfig, schema: type[Schema]) -> type[Schema]:
    """The dataset's *schema* with the config's ``[schema]`` section applied: latent widths,
    then the unlabelled block (``free``: its width; 0 removes one the schema declares)."""
    section = config.schema_
    if section.free is not None:
        try:
            schema = schema.with_free(section.free, name=section.free_name)
        except SchemaError as err:
            raise ConfigError(f"schema.free: {err}") from None
    if section.latent:
        schema = schema.with_latent(**section.latent)
    return schema


def _build_model(config: ExperimentConfig, data: ResolvedData, schema: type[Schema]
                 ) -> SwapAutoencoder:
    try:
        return SwapAutoencoder(config.model.backbone, schema, data.train_dataset.image_shape,
                               config.model.options, registries=data.registries,
                               free_warp=config.model.free_warp)
    except ConfigError:  # e.g. "sides must be powers of two": from mixed image sizes?
        mismatch = getattr(data.dataset.source, "size_mismatch", None)
        if mismatch is not None and (message := mismatch()):
            raise DataError(message) from None
        raise


def _build_recipe(config: ExperimentConfig, registries: Registries,
                  provenance: Provenance) -> LossRecipe:
    loss = config.loss
    if loss.terms is not None:
        recipe = LossRecipe(loss.terms, distance=loss.distance or "l1", registries=registries,
                            reduction=loss.reduction or "mean")
    elif loss.recipe is None:
        raise ConfigError("loss: give a recipe name or a list of terms")
    else:
        specs, distance, reduction = registered_parts(
            use(provenance, "recipe", registries.recipes, loss.recipe), loss.recipe)
        recipe = LossRecipe(specs, distance=loss.distance or distance or "l1",
                            registries=registries,
                            reduction=loss.reduction or reduction or "mean")
    for spec in recipe.specs:
        use(provenance, "loss", registries.losses, spec.term)
    return recipe


def build_callbacks(items: list[dict[str, Any]], registries: Registries,
                      provenance: Provenance | None = None) -> list[Callback]:
    """``train.callbacks`` entries (``{"name": ..., **options}``) built from the callback
    registry, each with its options validated against the class's ``Config``."""
    callbacks = []
    for i, item in enumerate(items):
        options = dict(item)
        name = options.pop("name", None)
        if not isinstance(name, str):
            raise ConfigError(f"train.callbacks[{i}]: give the callback's name, e.g. "
                              f"{{name = 'evaluate', every = 500}}; got {item!r}")
        cls = use([] if provenance is None else provenance, "callback", registries.callbacks,
                  name)
        callbacks.append(cls(validate(cls.Config, options, f"train.callbacks[{i}] ({name})",
                                      noun="option")))
    return callbacks
