"""The loss terms and options of the unlabelled block (``gs.Free``, ``[schema] free = N``).

- ``free_mix`` (an option of ``swap`` and ``cover``): a share of the decodes takes another
  image's unlabelled block instead of the target's own;
- ``independence``: the unlabelled block varies with no attribute (no class mean in it);
- ``free-cycle``: an image given another's unlabelled block must re-encode to its own
  attributes' blocks;
- ``bottleneck``: noise on the unlabelled block of every decoded code, its rate priced;
- ``free-adversary``: classifiers read every attribute from the unlabelled block, the
  encoder is asked to leave them at a uniform guess.

docs/model.md, "The unlabelled block", records what each does on which data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from groupsup.errors import ConfigError
from groupsup.losses.base import Decode, Encode, LossRun, LossTerm, StepContext, TermConfig
from groupsup.losses.distances import variance_scaled_distance
from groupsup.losses.scatter import scatter_by_value

if TYPE_CHECKING:
    from groupsup.model import SwapAutoencoder


def mixed_rows(rows: torch.Tensor, count: int, share: float) -> torch.Tensor:
    """*rows* ``(K,)`` with a random *share* of them replaced by another row of ``0..count-1``
    (drawn from torch's global generator, which the trainer seeds)."""
    device = rows.device
    swap = torch.rand(len(rows), device=device) < share
    other = (rows + torch.randint(1, max(count, 2), rows.shape, device=device)) % count
    return torch.where(swap, other, rows)


class FreeMixConfig(TermConfig):
    """The ``free_mix`` option shared by the terms that decode a target with its own
    unlabelled block."""

    free_mix: float = Field(
        0.0, ge=0, le=1, description="with an unlabelled block: the share of targets whose "
        "unlabelled block comes from another image of the step instead of their own, so that "
        "the decoder cannot read an attribute from that block (it would draw the other "
        "image's) and takes each attribute from its own block")


def mix_free(step: StepContext, codes: torch.Tensor, targets: torch.Tensor, share: float
              ) -> torch.Tensor:
    """*codes* ``(K, Z)``, decoded against the step's rows *targets* ``(K,)`` with their own
    unlabelled block, with a random *share* of them given another step image's instead
    (unchanged without an unlabelled block, or at share 0)."""
    free = step.partition.free
    if free is None or share <= 0:
        return codes
    source = mixed_rows(targets, len(step.z), share)
    return step.partition.with_block(codes, free, step.z[source][:, step.partition.slice(free)])


class Independence(LossTerm):
    """The unlabelled block varies with no attribute: for every attribute j and every dimension
    of the unlabelled block, the share of its variance over the step's images that attribute
    j's value explains (between-value scatter over total scatter, ``R^2``), averaged over the
    block's dimensions and then over the attributes.

    The unlabelled block is decoded with its own image in every group term, so anything in it
    reaches the decoder for free: an attribute it carries is one the decoder may take from it
    instead of that attribute's block, and swapping the block then stops working. This term
    keeps the attributes' class means out of it (a linear probe on it reads chance), while it
    may still carry what varies *within* a value (a writer's slant, a shift). Reads the labels
    (unknown values are left out of that attribute's sums), no network call, scale-free, and
    0 for a block that carries nothing. Needs a schema with an unlabelled block.
    """

    name = "independence"
    compares = "codes"

    def run(self, step: StepContext) -> torch.Tensor:
        partition = step.partition
        if partition.free is None:
            raise ConfigError("loss term 'independence' holds the unlabelled block to no "
                              "attribute, but the schema declares none: set schema.free = N "
                              "(or gs.Free in the schema class), or drop the term")
        free = step.clean[:, partition.slice(partition.free)]  # (M, F)
        labels = step.labels  # (M, A)
        attributes, width = labels.shape[1], free.shape[1]
        # one column per (attribute, free dimension), grouped by that attribute's value
        scatter = scatter_by_value(free.repeat(1, attributes),
                                   labels.repeat_interleave(width, dim=1))
        explained = (scatter.total - scatter.within).clamp_min(0)
        share = (explained / scatter.total.clamp_min(1e-12)).view(attributes, width).mean(1)
        present, known = scatter.values[::width], scatter.known[::width]
        active = (present >= 2) & (present < known)
        if not bool(active.any()):
            return free.sum() * 0.0
        return share[active].mean()


class BottleneckConfig(TermConfig):
    """Options of the ``bottleneck`` term."""

    sigma: float = Field(1.0, gt=0, description="standard deviation of the Gaussian noise "
                         "added to the unlabelled block of every code the step decodes")


class Bottleneck(LossTerm):
    """A noise bottleneck on the unlabelled block: in training, every code the step decodes
    gets Gaussian noise of standard deviation ``sigma`` on that block, and the term's value is
    ``mean(mu^2) / (2 sigma^2)`` over the block's dimensions (``mu``: the encoder's output),
    the KL divergence in nats per dimension of ``N(mu, sigma^2)`` from ``N(0, sigma^2)``.

    The block can then carry only a few bits per dimension, and the weight prices them: what
    the attributes' blocks already say (the digit, the font) is not worth its rate, what no
    provider can say (a shift, a slant) is. Evaluation and synthesis use ``mu``.
    """

    name = "bottleneck"
    compares = "codes"
    Config = BottleneckConfig

    def perturb(self, z: torch.Tensor, model: SwapAutoencoder) -> torch.Tensor:
        free = model.partition.free
        if free is None:
            raise ConfigError("loss term 'bottleneck' limits the unlabelled block, but the "
                              "schema declares none: set schema.free = N, or drop the term")
        if not model.training:
            return z
        block = z[:, model.partition.slice(free)]
        sigma = self.config.sigma  # type: ignore[attr-defined]
        return model.partition.with_block(z, free, block + torch.randn_like(block) * sigma)

    def run(self, step: StepContext) -> torch.Tensor:
        mu = step.clean[:, step.partition.slice(step.partition.free)]  # type: ignore[arg-type]
        sigma = self.config.sigma  # type: ignore[attr-defined]
        return mu.square().mean() / (2 * sigma * sigma)


class FreeCycleConfig(TermConfig):
    """Options of the ``free-cycle`` term."""

    pairs: float = Field(0.5, gt=0, le=0.5, description="pairs per step, as a share of its "
                         "images: row i takes the unlabelled block of row i + M/2 (another "
                         "group's image)")


class FreeCycle(LossTerm):
    """Unlabelled-block cycle: give image a the unlabelled block of image b (from another
    group), decode (no ground truth exists), re-encode; the attributes' blocks of the result
    must be a's and its unlabelled block b's. Each squared difference is divided by that
    dimension's variance over the step (detached), so shrinking the codes does not lower it.

    The group terms only ever decode an image with its own unlabelled block, so nothing there
    tells the decoder that an attribute read from that block is wrong: on a's attributes with
    b's block, a decoder that draws b's digit from it makes an image whose re-encoded digit
    block is b's, and this term charges for it.
    """

    name = "free-cycle"
    compares = "codes"
    Config = FreeCycleConfig

    def run(self, step: StepContext) -> LossRun:
        partition = step.partition
        if partition.free is None:
            raise ConfigError("loss term 'free-cycle' swaps the unlabelled block, but the "
                              "schema declares none: set schema.free = N, or drop the term")
        m = step.z.shape[0]
        count = max(1, int(m * self.config.pairs))  # type: ignore[attr-defined]
        a, b = step.z[:count], step.z[m - count:]
        mixed = partition.with_block(a, partition.free, b[:, partition.slice(partition.free)])
        raw = yield Decode(mixed)
        again = yield Encode(step.to_image(raw))
        return variance_scaled_distance(again, mixed.detach(), step.z)


class FreeAdversaryConfig(TermConfig):
    """Options of the ``free-adversary`` term."""

    hidden: int = Field(64, ge=0, description="hidden units of each attribute's classifier "
                        "(0: linear)")


class FreeAdversary(LossTerm):
    """An adversary on the unlabelled block (after Mathieu et al. 2016): one classifier per
    attribute reads it (trained on the block as a constant, cross-entropy on the labels), and
    the encoder is asked to leave their predictions uniform (cross-entropy of the classifiers,
    taken as constants, against the uniform distribution). The value is the sum of both means.

    Where ``independence`` removes what a linear probe reads, a hidden layer reads nonlinear
    codes of an attribute too. Rows whose value is unknown are left out of that attribute.
    """

    name = "free-adversary"
    compares = "codes"
    Config = FreeAdversaryConfig

    def __init__(self, options=None, distance: str = "l1") -> None:
        super().__init__(options, distance)
        self.heads: nn.ModuleList | None = None

    def build(self, model: SwapAutoencoder) -> nn.ModuleList:
        """One classifier ``(F,) -> (K_j,)`` per attribute, F the unlabelled block's width."""
        free = model.partition.free
        if free is None:
            raise ConfigError("loss term 'free-adversary' reads the unlabelled block, but the "
                              "schema declares none: set schema.free = N, or drop the term")
        width, hidden = model.partition.sizes[-1], self.config.hidden  # type: ignore[attr-defined]
        self.heads = nn.ModuleList(
            nn.Linear(width, k) if hidden == 0 else
            nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, k))
            for k in model.schema.cardinalities)
        return self.heads

    def run(self, step: StepContext) -> torch.Tensor:
        if self.heads is None:
            raise ConfigError("loss term 'free-adversary' has no classifiers yet: call "
                              "recipe.build(model) first")
        free = step.clean[:, step.partition.slice(step.partition.free)]  # type: ignore[arg-type]
        labels = step.labels
        losses = []
        for j, head in enumerate(self.heads):
            known = labels[:, j] >= 0
            if not bool(known.any()):
                continue
            fit = F.cross_entropy(head(free[known].detach()), labels[known, j])
            fooled = -F.log_softmax(_constant_forward(head, free[known]), dim=1).mean()
            losses.append(fit + fooled)
        return torch.stack(losses).mean() if losses else free.sum() * 0.0


def _constant_forward(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """*head* applied to *x* with its parameters taken as constants (gradients reach *x*
    only)."""
    params = {name: p.detach() for name, p in head.named_parameters()}
    return torch.func.functional_call(head, params, (x,))
