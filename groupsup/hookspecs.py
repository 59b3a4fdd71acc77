"""The hooks a groupsup plugin can implement.

Every hook receives a ``register`` callback and calls it once per thing it contributes::

    import groupsup

    @groupsup.hookimpl
    def register_backbones(register):
        register("my-net", MyBackbone, description="a 64 px ResNet backbone")

``register(name, obj, *, description="")`` records *obj* under *name* in that hook's registry,
together with the plugin (and distribution) that registered it. The host decides conflicts:
a second registration of a name is reported, and stays reachable as ``"<plugin>:<name>"``.

Every hook also receives ``registries``, the :class:`~groupsup.registry.Registries` being
filled (pluggy passes it only to implementations that name it as a parameter). A component that
builds other registered components (a backbone wrapping another backbone) keeps it and looks
them up when it is built, never while registering, and never in the process-wide host::

    @groupsup.hookimpl
    def register_backbones(register, registries):
        register("wrapper", Wrapper.using(registries))

docs/plugins.md documents each hook; a test keeps those signatures in sync with this file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from groupsup.registry import Registries

PROJECT = "groupsup"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback every ``register_*`` hook receives."""

    def __call__(self, name: str, obj: Any, *, description: str = "") -> None: ...


@hookspec
def register_datasets(register: Register, registries: Registries) -> None:
    """Register datasets: ``register(name, DatasetSpec(...))``.

    A :class:`groupsup.DatasetSpec` carries the schema class, a loader that builds a
    :class:`groupsup.GroupDataset` from options, and where it expects its data.
    """


@hookspec
def register_backbones(register: Register, registries: Registries) -> None:
    """Register encoder/decoder backbones: ``register(name, BackboneClass)``.

    A backbone class has a pydantic ``Config`` and is built as
    ``BackboneClass(image_shape, latent_size, config)``; see :class:`groupsup.Backbone`.
    """


@hookspec
def register_losses(register: Register, registries: Registries) -> None:
    """Register swap-loss terms: ``register(name, LossTermClass)``.

    See :class:`groupsup.LossTerm`.
    """


@hookspec
def register_recipes(register: Register, registries: Registries) -> None:
    """Register named loss recipes: ``register(name, [LossSpec or dict, ...])``.

    A recipe is the list of loss terms with weights and distances a run optimises, e.g. the
    GZS-Net reference recipe (recon + swap + cover, L1, weight 1).
    """


@hookspec
def register_strategies(register: Register, registries: Registries) -> None:
    """Register group strategies: ``register(name, StrategyClass)``.

    See :class:`groupsup.Strategy`.
    """


@hookspec
def register_callbacks(register: Register, registries: Registries) -> None:
    """Register training callbacks: ``register(name, CallbackClass)``.

    A callback class has a pydantic ``Config`` and is built as ``CallbackClass(config)`` for
    each ``[[train.callbacks]]`` entry naming it; see :class:`groupsup.Callback`.
    """


@hookspec
def register_evaluations(register: Register, registries: Registries) -> None:
    """Register what ``groupsup evaluate`` measures: ``register(name, step)``.

    *step* is a :class:`groupsup.EvaluationStep` (``run(ctx) -> dict`` of ``metrics.json``
    entries, at its ``order``), a :class:`groupsup.SynthesisMeasure` (a measure of the
    zero-shot syntheses, under ``synthesis.<name>``) or a :class:`groupsup.CodeMetric` (a
    metric of latent codes, run when ``EvalOptions.code_metrics`` names it, under
    ``"disentanglement"``). The built-in steps and code metrics register here too.
    """


@hookspec
def register_commands(register: Register, registries: Registries) -> None:
    """Register CLI subcommands: ``register(name, Command(...))``.

    See :class:`groupsup.Command`.
    """
