"""The experiment config typed by what is registered: one model for validation and JSON Schema.

:class:`~groupsup.train.config.ExperimentConfig` keeps the pluggable sections' options as
plain mappings, since which options exist depends on the plugins installed. This module builds,
at run time from the current registries, a subclass of it in which each of them is a
discriminated union of the registered components' own option models:

- ``[dataset] options`` by ``name`` (``DatasetSpec.options_model``);
- ``[model] options`` by ``backbone`` (``Backbone.Config``);
- ``[strategy] options`` by ``name`` (``Strategy.Config``);
- each ``[[loss.terms]]`` ``options`` by ``term`` (``LossTerm.Config``); ``[loss] recipe`` is
  one of the registered recipe names.

:func:`check_config` validates a config against it, so every pluggable option is checked up
front with the one error format of :mod:`groupsup.validation`: the one validation of component
options, which :func:`~groupsup.resolve` runs before building the components from its result;
:func:`config_json_schema` is its JSON Schema (``oneOf`` plus a ``discriminator`` mapping per
section), which an editor can use, plugin components included.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, create_model

from groupsup.losses.recipe import LossSpec
from groupsup.registry import Registries, Registry
from groupsup.train.config import (
    DatasetConfig,
    ExperimentConfig,
    LossConfig,
    ModelConfig,
    StrategyConfig,
)
from groupsup.validation import validate

# kind -> the attribute of a registered object that holds its options model
OPTION_MODELS = {"dataset": "options_model", "backbone": "Config", "strategy": "Config",
                 "loss": "Config"}


def options_model(kind: str, obj: Any) -> type[BaseModel] | None:
    """The pydantic options model of a registered *obj* of *kind* (``"dataset"``,
    ``"backbone"``, ``"strategy"``, ``"loss"``), or ``None`` when it declares none."""
    model = getattr(obj, OPTION_MODELS[kind], None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _class_name(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^0-9A-Za-z]+', '_', name)}"


def _variants(section: type[BaseModel], key: str, kind: str, registry: Registry[Any],
              default: str | None) -> list[type[BaseModel]]:
    """One subclass of *section* per name of *registry*: *key* the name (a Literal),
    ``options`` its options model (a free mapping when it declares none). The variant named
    *default* keeps *key* optional, as the section's default does. A name two plugins claim
    has one variant per name it is reachable by (``"<plugin>:<name>"`` for the second)."""
    variants = []
    for name in registry.names():
        entry = registry.entry(name)
        model = options_model(kind, entry.obj)
        options: Any = (model, Field(default_factory=model, description=entry.description
                                     or f"the options of {kind} {name!r}"))
        if model is None:
            options = (dict[str, Any], Field(default_factory=dict))
        tag = (Literal[name], name if name == default else ...)
        variants.append(create_model(_class_name(section.__name__, name),
                                     __base__=section, __module__=__name__,
                                     **{key: tag, "options": options}))
    return variants


def _union(variants: list[type[BaseModel]], key: str) -> Any:
    if not variants:  # nothing registered: the plain section (every name fails its lookup)
        return None
    return Annotated[Union[tuple(variants)], Field(discriminator=key)]  # noqa: UP007


# one union per pluggable section, built once per registries object
_cache: weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, Any]]] = weakref.WeakKeyDictionary()


def _sections(registries: Registries) -> dict[str, tuple[Any, Any]]:
    """``{section: (annotation, default)}`` for the typed pluggable sections of *registries*."""
    try:
        return _cache[registries]
    except (KeyError, TypeError):
        pass
    model_default = ModelConfig.model_fields["backbone"].default
    strategy_default = StrategyConfig.model_fields["name"].default
    dataset = _union(_variants(DatasetConfig, "name", "dataset", registries.datasets, None),
                     "name")
    model = _union(_variants(ModelConfig, "backbone", "backbone", registries.backbones,
                             model_default), "backbone")
    strategy = _union(_variants(StrategyConfig, "name", "strategy", registries.strategies,
                                strategy_default), "name")
    term = _union(_variants(LossSpec, "term", "loss", registries.losses, None), "term")
    sections: dict[str, tuple[Any, Any]] = {}
    if dataset is not None:
        sections["dataset"] = (dataset, ...)
    if model is not None and model_default in registries.backbones:
        sections["model"] = (model, Field(default_factory=ModelConfig))
    if strategy is not None and strategy_default in registries.strategies:
        sections["strategy"] = (strategy, Field(default_factory=StrategyConfig))
    recipes = tuple(registries.recipes.names())
    recipe = LossConfig.model_fields["recipe"]
    terms = LossConfig.model_fields["terms"]
    loss = create_model(
        "LossConfig_typed", __base__=LossConfig, __module__=__name__,
        recipe=(Literal[recipes] | None if recipes else str | None,  # type: ignore[valid-type]
                Field(recipe.default, description=recipe.description)),
        terms=(list[term] | None if term is not None else list[dict[str, Any]] | None,
               Field(None, description=terms.description)))
    sections["loss"] = (loss, Field(default_factory=LossConfig))
    with contextlib.suppress(TypeError):  # registries without weak references: not cached
        _cache[registries] = sections
    return sections


def typed_config_model(registries: Registries, sections: Iterable[str] | None = None
                       ) -> type[ExperimentConfig]:
    """:class:`ExperimentConfig` with each pluggable section (or those of *sections*:
    ``"dataset"``, ``"model"``, ``"strategy"``, ``"loss"``) a discriminated union of the
    components in *registries*."""
    typed = _sections(registries)
    if sections is not None:
        typed = {k: v for k, v in typed.items() if k in set(sections)}
    return create_model("ExperimentConfig", __base__=ExperimentConfig, __module__=__name__,
                        __doc__=ExperimentConfig.__doc__, **typed)


def config_json_schema(registries: Registries) -> dict[str, Any]:
    """The JSON Schema of an experiment config, every registered component's options in it."""
    return typed_config_model(registries).model_json_schema(by_alias=True)


def check_config(config: ExperimentConfig | Mapping[str, Any], registries: Registries,
                 where: str = "config", sections: Iterable[str] | None = None
                 ) -> ExperimentConfig:
    """*config* validated against :func:`typed_config_model`: every registered name and every
    option of the pluggable sections (or of those in *sections*) checked; the result holds the
    pluggable ``options`` as the components' option models.

    An unknown dataset, backbone, strategy, recipe or term is a
    :class:`~groupsup.errors.RegistryError` with a did-you-mean (and the plugins that failed to
    load); an unknown or invalid option a :class:`~groupsup.errors.ConfigError` prefixed with
    *where* (the config file) that names the full key, e.g. ``unknown key
    'model.options.widht' (did you mean 'model.options.width'?)``.
    """
    chosen = set(sections) if sections is not None else {"dataset", "model", "strategy", "loss"}
    if not isinstance(config, ExperimentConfig):
        config = validate(ExperimentConfig, dict(config), where)
    # names first: a registry's error lists what is registered and the plugins that failed
    if "dataset" in chosen:
        registries.datasets.entry(config.dataset.name)
    if "model" in chosen:
        registries.backbones.entry(config.model.backbone)
    if "strategy" in chosen:
        registries.strategies.entry(config.strategy.name)
    if "loss" in chosen:
        if config.loss.terms is None and config.loss.recipe is not None:
            registries.recipes.entry(config.loss.recipe)
        for item in config.loss.terms or []:
            if isinstance(item.get("term"), str):
                registries.losses.entry(item["term"])
    return validate(typed_config_model(registries, chosen), config.to_dict(), where)
