"""The ``LossTerm`` protocol: a term asks for decodes and encodes, then returns its value.

A term's :meth:`LossTerm.run` is a generator. It ``yield`` s a :class:`Decode` (codes to put
through the decoder) or an :class:`Encode` (images to put through the encoder) and receives
the result; its ``return`` value is the term's unweighted loss. The recipe runs every term of a
step in lock step and answers all requests of one round with ONE decoder call and ONE encoder
call over the concatenated tensors, so a recipe of five terms costs the same number of network
calls as its deepest term::

    class Recon(LossTerm):
        name = "recon"

        def run(self, step):
            raw = yield Decode(step.z)                   # (M, C, H, W)
            return self.compare(step, raw, step.images)

A term that needs no network call (e.g. a penalty on ``step.z``) may instead return its value
directly from a plain (non-generator) ``run``. A term that owns parameters (classifier heads,
say) builds them in :meth:`LossTerm.build`; whoever trains the recipe optimises them with the
model (the :class:`~groupsup.Trainer` does, and checkpoints them in ``training.pt``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from groupsup.errors import ConfigError
from groupsup.groups import GroupBatch
from groupsup.losses.distances import image_distance
from groupsup.partition import LatentPartition
from groupsup.validation import validate

if TYPE_CHECKING:
    from groupsup.model import SwapAutoencoder

@dataclass(frozen=True)
class Decode:
    """Request: decode ``codes`` ``(n, Z)``; the term receives raw output ``(n, C, H, W)``."""

    tensor: torch.Tensor


@dataclass(frozen=True)
class Encode:
    """Request: encode ``images`` ``(n, C, H, W)`` in ``[-1, 1]``; the term receives ``(n, Z)``."""

    tensor: torch.Tensor


Request = Decode | Encode


@dataclass
class StepContext:
    """What every term of one step sees.

    ``images`` ``(M, C, H, W)``: the step's images in ``[-1, 1]``; ``z`` ``(M, Z)``: their codes
    (one encoder call); ``batch``: the :class:`~groupsup.GroupBatch` whose positions index both;
    ``label_codes`` ``(M, A)``: the examples' integer attribute codes when the caller has them
    (the trainer always passes them), read through :attr:`labels`. ``encoded``: the encoder's
    output when a term reshaped the codes the others decode (:meth:`LossTerm.perturb`, e.g. a
    noise bottleneck); read :attr:`clean`.
    """

    model: SwapAutoencoder
    images: torch.Tensor
    z: torch.Tensor
    batch: GroupBatch
    label_codes: np.ndarray | torch.Tensor | None = None
    encoded: torch.Tensor | None = None
    _indices: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def clean(self) -> torch.Tensor:
        """``(M, Z)``: the encoder's output before any term's :meth:`LossTerm.perturb`."""
        return self.z if self.encoded is None else self.encoded

    @property
    def partition(self) -> LatentPartition:
        return self.model.partition

    @property
    def labels(self) -> torch.Tensor:
        """``(M, A)`` int64 attribute codes of ``batch.examples``, on z's device.

        Raises :class:`~groupsup.errors.ConfigError` when the step was computed without them.
        """
        if self.label_codes is None:
            raise ConfigError("this loss term reads the examples' labels, but the step has none: "
                              "pass labels=dataset.labels[batch.examples] to "
                              "LossRecipe.compute")
        if "labels" not in self._indices:
            codes = torch.as_tensor(self.label_codes, dtype=torch.int64)
            self._indices["labels"] = codes.to(self.z.device)
        return self._indices["labels"]

    def relation(self, kind: str) -> dict[str, torch.Tensor]:
        """The batch's relation of *kind* as ``{field: int64 tensor on z's device}``."""
        relation = self.batch.relation(kind)
        return {name: self._tensor(f"{kind}.{name}", relation[name]) for name in relation.fields}

    def _tensor(self, key: str, array: np.ndarray) -> torch.Tensor:
        if key not in self._indices:
            array = np.ascontiguousarray(array, dtype=np.int64)
            self._indices[key] = torch.from_numpy(array).to(self.z.device)
        return self._indices[key]

    def to_image(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw decoder output -> images in ``[-1, 1]``, ready to re-encode."""
        return self.model.to_image(raw)

    def own_free(self, targets: torch.Tensor) -> torch.Tensor | None:
        """The rows ``(K,)`` that supply the unlabelled block of decodes whose targets are
        *targets*: the targets themselves; ``None`` when the schema has no unlabelled block
        (for :meth:`LatentPartition.assemble`'s ``free``)."""
        return targets if self.partition.free is not None else None

    def with_own_free(self, codes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """*codes* ``(K, Z)`` whose unlabelled block is replaced by that of the target rows
        ``(K,)`` of ``z`` (unchanged without an unlabelled block): for a decode compared with
        those targets, built from codes other than theirs (e.g. re-encoded)."""
        if self.partition.free is None:
            return codes
        free = self.partition.free
        own = self.z[targets][:, self.partition.slice(free)]
        return self.partition.with_block(codes, free, own)


class TermConfig(BaseModel):
    """Base of every term's options; subclasses add fields. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


LossRun = Generator[Request, torch.Tensor, torch.Tensor]


class LossTerm:
    """One term of the objective. Subclass, set ``name`` and ``requires``, implement :meth:`run`.

    - ``requires``: the :class:`~groupsup.GroupBatch` relation kinds the term reads
      (``"swap"``, ``"cover"``, ``"cycle"``, or a plugin's own); a recipe checks that the
      strategy provides them, and each step that the batch holds them.
    - ``compares``: ``"images"`` (the recipe's distance applies) or ``"codes"`` (``l1``/``l2``
      only; the recipe's default distance does not apply, the term's default is ``l1``).
    - ``Config``: a pydantic model of the term's options (``LossSpec.options``).
    """

    name: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()
    compares: ClassVar[Literal["images", "codes"]] = "images"
    Config: ClassVar[type[TermConfig]] = TermConfig

    def __init__(self, options: Mapping[str, Any] | TermConfig | None = None,
                 distance: str = "l1") -> None:
        self.config = self.parse_options(options)
        self.distance = distance

    @classmethod
    def parse_options(cls, options: Mapping[str, Any] | TermConfig | None) -> TermConfig:
        """Validate *options* into ``cls.Config``; errors name the term and the key."""
        if isinstance(options, cls.Config):
            return options
        raw = dict(options.model_dump() if isinstance(options, BaseModel) else options or {})
        return validate(cls.Config, raw, f"loss term {cls.name!r}", noun="option")

    def build(self, model: SwapAutoencoder) -> nn.Module | None:
        """The parameters this term owns, built for *model* (``None``: it owns none).

        Called once by :meth:`LossRecipe.build` before training; a term that returns a module
        keeps it (e.g. as ``self.heads``) to use in :meth:`run`. The trainer moves it to the
        device, optimises it with the model and saves its state with the optimiser's.
        """
        return None

    def run(self, step: StepContext) -> LossRun | torch.Tensor:
        """Yield :class:`Decode` / :class:`Encode` requests; return the unweighted loss (scalar).

        A term without requests may be a plain method returning the scalar directly.
        """
        raise NotImplementedError

    def perturb(self, z: torch.Tensor, model: SwapAutoencoder) -> torch.Tensor:
        """The codes ``(M, Z)`` every term of the step decodes, given the encoder's (or the
        previous term's) *z*; unchanged by default. A term that reshapes them for all (a
        noise bottleneck) overrides it; terms then read the encoder's output as
        :attr:`StepContext.clean`."""
        return z

    def compare(self, step: StepContext, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The term's distance between raw decoder output and target images ``(n, C, H, W)``."""
        return image_distance(self.distance, raw, target, step.model.output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(distance={self.distance!r}, {self.config!r})"
