"""LossRecipe: the weighted terms a run optimises, computed with batched network calls.

    recipe = gs.build_recipe(["recon", "swap", {"term": "cover", "weight": 2.0}], distance="l1")
    modules = recipe.build(model)                   # parameters owned by terms (optimise them too)
    out = recipe.compute(model, images, batch, labels)  # out.total (grad), out.terms (detached)

``reduction="mean"`` (default) adds ``weight * mean`` per term (the paper's formula);
``reduction="per-decode"`` multiplies each term's mean by its decodes per group (the rows of its
last decode divided by ``batch.groups``), i.e. the GZS-Net reference code's sum of one mean per
decode: 6 recon : 10 swap : 1 cover on Fonts groups, 4 : 6 : 1 on three-attribute groups
(docs/method.md, section 4).

``compute`` encodes all ``M`` images once, then runs every term in lock step: each round's
decode requests (all terms' first-stage codes) go through the decoder in one call and its
encode requests (e.g. the cycle's re-encodes) through the encoder in one call.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from groupsup.errors import ConfigError
from groupsup.groups import GroupBatch
from groupsup.losses.base import Decode, Encode, LossRun, LossTerm, Request, StepContext
from groupsup.losses.distances import CODE_DISTANCES, DISTANCES
from groupsup.registry import Registries
from groupsup.validation import validate

if TYPE_CHECKING:
    from groupsup.model import SwapAutoencoder


class LossSpec(BaseModel):
    """One entry of a recipe: a registered term, its weight, distance and options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: str = Field(description="registry name of the loss term")
    weight: float = Field(1.0, ge=0, description="multiplier in the total (0: report only)")
    distance: Literal["l1", "l2", "bce"] | None = Field(
        None, description="None: the recipe's default (for image terms)")
    options: dict[str, Any] = Field(default_factory=dict, description="the term's own options")


Reduction = Literal["mean", "per-decode"]
REDUCTIONS: tuple[str, ...] = ("mean", "per-decode")


def registered_parts(registered: Any, name: str) -> tuple[Any, str | None, Reduction | None]:
    """``(specs, distance, reduction)`` of a registered recipe: a list of specs (distance and
    reduction ``None``: the caller's), a :class:`LossRecipe`, or a mapping ``{"terms": [...],
    "distance": ..., "reduction": ...}`` (a plugin's way to register a non-default reduction
    without building terms at registration time)."""
    if isinstance(registered, LossRecipe):
        return registered.specs, registered.distance, registered.reduction
    if isinstance(registered, Mapping):
        unknown = sorted(set(registered) - {"terms", "distance", "reduction"})
        if unknown or "terms" not in registered:
            raise ConfigError(f"recipe {name!r}: a registered mapping needs 'terms' and may have "
                              f"'distance' and 'reduction'; got keys {sorted(registered)}")
        return registered["terms"], registered.get("distance"), registered.get("reduction")
    return registered, None, None


@dataclass(frozen=True)
class LossOutput:
    """``total``: weighted sum (scalar, with grad); ``terms``: unweighted values, detached."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]


def _spec(item: LossSpec | Mapping[str, Any] | str, position: int) -> LossSpec:
    if isinstance(item, LossSpec):
        return item
    if isinstance(item, str):
        return LossSpec(term=item)
    if not isinstance(item, Mapping):
        raise ConfigError(f"loss #{position}: expected a term name, a mapping or a LossSpec, "
                          f"got {type(item).__name__}")
    return validate(LossSpec, dict(item), f"loss {item.get('term', f'#{position}')!r}")


class LossRecipe:
    """A list of :class:`LossSpec`; *distance* is the default for image-comparing terms.

    Terms (and, for :meth:`named`, recipes) are looked up in *registries*
    (:func:`groupsup.build_recipe` takes the plugin host's by default). *reduction*:
    ``"mean"`` or ``"per-decode"`` (see the module docstring).
    """

    def __init__(self, specs: Sequence[LossSpec | Mapping[str, Any] | str],
                 distance: str = "l1", name: str | None = None, *,
                 registries: Registries, reduction: str = "mean") -> None:
        if distance not in DISTANCES:
            raise ConfigError(f"recipe distance {distance!r} is not one of {list(DISTANCES)}")
        if reduction not in REDUCTIONS:
            raise ConfigError(f"recipe reduction {reduction!r} is not one of {list(REDUCTIONS)}")
        self.reduction: Reduction = reduction  # type: ignore[assignment]
        if isinstance(specs, (str, Mapping)) or not specs:
            raise ConfigError("a loss recipe needs a non-empty list of terms")
        self.name = name
        self.distance = distance
        resolved: list[LossSpec] = []
        self.terms: list[LossTerm] = []
        registry = registries.losses
        for i, item in enumerate(specs):
            spec = _spec(item, i)
            if any(s.term == spec.term for s in resolved):
                raise ConfigError(f"loss term {spec.term!r} appears twice in the recipe")
            term_class: type[LossTerm] = registry.get(spec.term)
            if term_class.compares == "codes":
                chosen = spec.distance or "l1"
                if chosen not in CODE_DISTANCES:
                    raise ConfigError(f"loss term {spec.term!r} compares latent codes: distance "
                                      f"{chosen!r} does not apply; use {list(CODE_DISTANCES)}")
            else:
                chosen = spec.distance or distance
            spec = spec.model_copy(update={"distance": chosen})
            self.terms.append(term_class(spec.options, distance=chosen))
            resolved.append(spec)
        self.specs: tuple[LossSpec, ...] = tuple(resolved)
        self.modules: nn.ModuleDict | None = None

    @classmethod
    def named(cls, name: str, *, registries: Registries) -> LossRecipe:
        """A recipe registered through ``register_recipes`` (e.g. ``"gsl"``): a list of specs
        (default distance ``l1``) or a :class:`LossRecipe`."""
        specs, distance, reduction = registered_parts(registries.recipes.get(name), name)
        return cls(specs, distance=distance or "l1", name=name, registries=registries,
                   reduction=reduction or "mean")

    # ------------------------------------------------------------------ description
    @property
    def requires(self) -> frozenset[str]:
        """GroupBatch parts the terms need (union of ``LossTerm.requires``)."""
        return frozenset().union(*(type(t).requires for t in self.terms))

    def check(self, strategy_provides: set[str] | frozenset[str]) -> None:
        """Raise :class:`~groupsup.errors.ConfigError` if a term needs a part not provided."""
        for spec, term in zip(self.specs, self.terms):
            lacking = sorted(type(term).requires - set(strategy_provides))
            if lacking:
                raise ConfigError(
                    f"loss term {spec.term!r} needs {lacking} in each GroupBatch, but the "
                    f"strategy provides only {sorted(strategy_provides)}; choose a strategy "
                    f"that samples them or drop the term")

    def to_list(self) -> list[dict[str, Any]]:
        """The resolved specs (distances filled in) as JSON-able dicts."""
        return [s.model_dump(mode="json") for s in self.specs]

    def __repr__(self) -> str:
        terms = ", ".join(f"{s.term}*{s.weight:g}[{s.distance}]" for s in self.specs)
        per = "; per-decode" if self.reduction == "per-decode" else ""
        return f"LossRecipe({self.name or ''}{': ' if self.name else ''}{terms}{per})"

    # ------------------------------------------------------------------ computation
    def build(self, model: SwapAutoencoder) -> nn.ModuleDict:
        """Build the parameters the terms own for *model* (:meth:`LossTerm.build`), once.

        Returns ``{term name: module}`` (empty when no term owns parameters); the caller
        optimises these with the model. Calling it again returns the same modules.
        """
        if self.modules is None:
            built = {s.term: t.build(model) for s, t in zip(self.specs, self.terms)}
            self.modules = nn.ModuleDict({k: m for k, m in built.items() if m is not None})
        return self.modules

    def compute(self, model: SwapAutoencoder, images: torch.Tensor, batch: GroupBatch,
                labels: np.ndarray | torch.Tensor | None = None) -> LossOutput:
        """Weighted total and per-term values for one step.

        *images* ``(M, C, H, W)`` in ``[-1, 1]`` are the images of ``batch.examples`` in order;
        *labels* ``(M, A)`` their integer attribute codes, for terms that read
        :attr:`StepContext.labels`. Terms that own parameters need :meth:`build` first.
        """
        if self.modules is None and any(type(t).build is not LossTerm.build for t in self.terms):
            raise ConfigError("a term of this recipe owns parameters: call recipe.build(model) "
                              "before compute (and optimise the modules it returns)")
        attributes = len(model.partition.labelled)
        if labels is not None and tuple(labels.shape) != (len(batch.examples), attributes):
            raise ConfigError(f"labels must be (M, A) = ({len(batch.examples)}, "
                              f"{attributes}), got {tuple(labels.shape)}")
        if images.ndim != 4 or images.shape[0] != len(batch.examples):
            raise ConfigError(f"images must be (M, C, H, W) with M = {len(batch.examples)} "
                              f"examples of the batch, got {tuple(images.shape)}")
        batch.validate(attributes)
        for spec, term in zip(self.specs, self.terms):
            for kind in sorted(type(term).requires):
                if not batch.has(kind):
                    raise ConfigError(f"loss term {spec.term!r} needs the relation {kind!r} in "
                                      f"the GroupBatch, which holds {sorted(batch.relations)}")
        if self.reduction == "per-decode" and batch.groups <= 0:
            raise ConfigError("recipe reduction 'per-decode' needs the number of groups in the "
                              f"batch; this GroupBatch says groups={batch.groups}")
        encoded = z = model.encode(images)
        for term in self.terms:
            z = term.perturb(z, model)
        step = StepContext(model, images, z, batch, labels,
                           encoded=None if z is encoded else encoded)
        values, decoded = _run_lockstep(model, [term.run(step) for term in self.terms],
                                        [s.term for s in self.specs])
        # per-decode: one mean per decoded image and group; a term without decodes (e.g. a
        # regulariser) stays one mean
        scale = ([rows / batch.groups if rows else 1.0 for rows in decoded]
                 if self.reduction == "per-decode" else [1.0] * len(values))
        total = sum(s.weight * k * v for s, k, v in zip(self.specs, scale, values))
        return LossOutput(total,  # type: ignore[arg-type]
                          {s.term: v.detach() for s, v in zip(self.specs, values)})


def _run_lockstep(model: SwapAutoencoder, runs: list[LossRun | torch.Tensor], names: list[str]
                  ) -> tuple[list[torch.Tensor], list[int]]:
    """Drive the term generators round by round, batching each round's requests; a term that
    returned its value directly (no generator) is done at once.

    Returns the values and, per term, the rows of its last decode (the images it compares;
    0 for a term that decodes nothing)."""
    values: dict[int, torch.Tensor] = {}
    decoded: dict[int, int] = {}
    pending: dict[int, Request] = {}

    def finish(i: int, value: Any) -> None:
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise ConfigError(f"loss term {names[i]!r} must return a scalar tensor, got "
                              f"{value!r}")
        values[i] = value

    def advance(i: int, answer: torch.Tensor | None) -> None:
        run = runs[i]
        if not isinstance(run, Generator):
            finish(i, run)
            return
        try:
            request = next(run) if answer is None else run.send(answer)
        except StopIteration as stop:
            returned = stop.value
        else:
            if not isinstance(request, (Decode, Encode)):
                raise ConfigError(f"loss term {names[i]!r} yielded {type(request).__name__}; "
                                  "a term yields Decode(codes) or Encode(images)")
            pending[i] = request
            return
        finish(i, returned)

    for i in range(len(runs)):
        advance(i, None)
    while pending:
        asked, answers = dict(pending), {}
        pending.clear()
        for kind, network in ((Decode, model.decode), (Encode, model.encode)):
            group = [(i, r.tensor) for i, r in asked.items() if isinstance(r, kind)]
            if not group:
                continue
            if kind is Decode:
                decoded.update((i, len(t)) for i, t in group)
            tensors = [t for _, t in group]
            out = network(tensors[0] if len(tensors) == 1 else torch.cat(tensors))
            answers.update(zip((i for i, _ in group), out.split([len(t) for t in tensors])))
        for i in sorted(answers):
            advance(i, answers[i])
    return [values[i] for i in range(len(runs))], [decoded.get(i, 0) for i in range(len(runs))]
