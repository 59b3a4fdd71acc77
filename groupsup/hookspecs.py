"""The hooks a groupsup plugin can implement.

Every hook receives a ``register`` callback and calls it once per thing it contributes::

    import groupsup

    @groupsup.hookimpl
    def register_backbones(register):
        register("my-net", MyBackbone, description="a 64 px ResNet backbone")

``register(name, obj, *, description="")`` records *obj* under *name* in that hook's registry,
together with the plugin (and distribution) that registered it. The host decides conflicts:
a second registration of a name is reported, and stays reachable as ``"<plugin>:<name>"``.
docs/plugins.md documents each hook; a test keeps those signatures in sync with this file.
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

PROJECT = "groupsup"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback every ``register_*`` hook receives."""

    def __call__(self, name: str, obj: Any, *, description: str = "") -> None: ...


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets: ``register(name, DatasetSpec(...))``.

    A :class:`groupsup.DatasetSpec` carries the schema class, a loader that builds a
    :class:`groupsup.GroupDataset` from options, and where it expects its data.
    """


@hookspec
def register_backbones(register: Register) -> None:
    """Register encoder/decoder backbones: ``register(name, BackboneClass)``.

    A backbone class has a pydantic ``Config`` and is built as
    ``BackboneClass(image_shape, latent_size, config)``; see :class:`groupsup.Backbone`.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register swap-loss terms: ``register(name, LossTermClass)``.

    See :class:`groupsup.LossTerm`.
    """


@hookspec
def register_recipes(register: Register) -> None:
    """Register named loss recipes: ``register(name, [LossSpec or dict, ...])``.

    A recipe is the list of loss terms with weights and distances a run optimises, e.g. the
    GZS-Net reference recipe (recon + swap + cover, L1, weight 1).
    """


@hookspec
def register_strategies(register: Register) -> None:
    """Register group strategies: ``register(name, StrategyClass)``.

    See :class:`groupsup.Strategy`.
    """


@hookspec
def register_callbacks(register: Register) -> None:
    """Register training callbacks: ``register(name, CallbackClass)``.

    A callback class has a pydantic ``Config`` and is built as ``CallbackClass(config)`` for
    each ``[[train.callbacks]]`` entry naming it; see :class:`groupsup.Callback`.
    """


@hookspec
def register_evaluations(register: Register) -> None:
    """Register what ``groupsup evaluate`` measures: ``register(name, step)``.

    *step* is a :class:`groupsup.EvaluationStep` (``run(ctx) -> dict`` of ``metrics.json``
    entries, at its ``order``), a :class:`groupsup.SynthesisMeasure` (a measure of the
    zero-shot syntheses, under ``synthesis.<name>``) or a :class:`groupsup.CodeMetric` (a
    metric of latent codes, run when ``EvalOptions.code_metrics`` names it, under
    ``"disentanglement"``). The built-in steps and code metrics register here too.
    """


@hookspec
def register_commands(register: Register) -> None:
    """Register CLI subcommands: ``register(name, Command(...))``.

    See :class:`groupsup.Command`.
    """
