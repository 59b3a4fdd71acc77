"""The built-in loss terms of group-supervised learning (docs/method.md §2).

Each term reads positions from the step's :class:`~groupsup.GroupBatch`, gathers rows of the
code matrix ``z`` with index tensors (no loop over samples) and yields its decode requests;
every term's value is a mean over its images (or code entries).

Where the schema declares an unlabelled block, every decode whose target is image X takes that
block from X's own code: the swap exchanges one attribute's block and leaves it in place, the
cover assembles it from the target (:meth:`StepContext.own_free`), the cycle's return decode
takes the originals'. Variation no label names then has a home, and no provider must guess it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from pydantic import Field

from groupsup.losses.base import Decode, Encode, LossRun, LossTerm, StepContext, TermConfig
from groupsup.losses.distances import (
    code_distance,
    shift_tolerant_distance,
    variance_scaled_distance,
)
from groupsup.losses.scatter import scatter_by_value
from groupsup.losses.unlabelled import (
    Bottleneck,
    FreeAdversary,
    FreeCycle,
    FreeMixConfig,
    Independence,
    mix_free,
)

if TYPE_CHECKING:
    from groupsup.partition import LatentPartition


def _labelled_width(partition: LatentPartition) -> int:
    """z's columns before the unlabelled block (all of them without one)."""
    return partition.starts[len(partition.labelled)] if partition.free else partition.size


def _swapped_pairs(step: StepContext, part: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows ``(a, b)`` of the pairs of *part* and their codes with the pair's block exchanged.

    Returns ``(rows, codes, attribute)``: ``rows`` ``(2P,)`` = a then b; ``codes`` ``(2P, Z)``
    = a's code with b's block, then b's code with a's block; ``attribute`` ``(P,)``.
    """
    relation = step.relation(part)
    pairs, attribute = relation["pairs"], relation["attribute"]
    a, b = pairs[:, 0], pairs[:, 1]
    z_a, z_b = step.partition.swap(step.z[a], step.z[b], attribute)
    return torch.cat([a, b]), torch.cat([z_a, z_b]), attribute


class Recon(LossTerm):
    """Self reconstruction: ``d(D(E(x)), x)`` for every image of the step."""

    name = "recon"

    def run(self, step: StepContext) -> LossRun:
        raw = yield Decode(step.z)
        return self.compare(step, raw, step.images)


class Swap(LossTerm):
    """One-overlap swap: on each swap pair (sharing attribute j), exchange block j and decode
    both codes; each must still reproduce its own image, since block j carries the same value.
    """

    name = "swap"
    requires = frozenset({"swap"})
    Config = FreeMixConfig

    def run(self, step: StepContext) -> LossRun:
        rows, codes, _ = _swapped_pairs(step, "swap")
        codes = mix_free(step, codes, rows, self.config.free_mix)  # type: ignore[attr-defined]
        raw = yield Decode(codes)
        return self.compare(step, raw, step.images[rows])


class CoverConfig(FreeMixConfig):
    """Options of the ``cover`` term."""

    detach_free: bool = Field(
        False, description="with an unlabelled block: the target's block enters the "
        "assembled code as a constant, so the cover term never teaches the encoder to put in "
        "that block what the providers' blocks should say (the shortcut); it learns what no "
        "label names from the other terms")

    shift_tolerance: int = Field(
        0, ge=0, le=8, description="pixels each way the target may be moved to match the "
        "assembled image (per image the best shift; 0: exact). For data whose images of one "
        "combination differ in position, which no provider's block can say")


class Cover(LossTerm):
    """Cover reconstruction: assemble each target's code block by block from its providers
    (provider j shares attribute j with the target) and decode; must reproduce the target
    (up to ``shift_tolerance`` pixels of position, :func:`shift_tolerant_distance`).
    """

    name = "cover"
    requires = frozenset({"cover"})
    Config = CoverConfig

    def run(self, step: StepContext) -> LossRun:
        cover = step.relation("cover")
        z, free = step.z, step.partition.free
        if self.config.detach_free and free:  # type: ignore[attr-defined]
            z = step.partition.with_block(z, free, z[:, step.partition.slice(free)].detach())
        codes = step.partition.assemble(z, cover["providers"],
                                        free=step.own_free(cover["target"]))
        codes = mix_free(step, codes, cover["target"],
                          self.config.free_mix)  # type: ignore[attr-defined]
        raw = yield Decode(codes)
        target = step.images[cover["target"]]
        reach = self.config.shift_tolerance
        if reach:
            return shift_tolerant_distance(self.distance, raw, target, step.model.output, reach)
        return self.compare(step, raw, target)


class Cycle(LossTerm):
    """Cycle swap (paper): on pairs sharing no attribute, swap block j and decode (no ground
    truth exists), re-encode both outputs, swap block j back and decode again; the result must
    reproduce the originals. Gradients flow through both passes.
    """

    name = "cycle"
    requires = frozenset({"cycle"})

    def run(self, step: StepContext) -> LossRun:
        rows, codes, attribute = _swapped_pairs(step, "cycle")
        raw = yield Decode(codes)
        again = yield Encode(step.to_image(raw))
        z_a, z_b = again.chunk(2)
        back_a, back_b = step.partition.swap(z_a, z_b, attribute)
        back = step.with_own_free(torch.cat([back_a, back_b]), rows)
        raw_back = yield Decode(back)
        return self.compare(step, raw_back, step.images[rows])


class LatentConfig(TermConfig):
    """Options of the ``latent`` term."""

    detach_target: bool = Field(
        True, description="compare with the source codes as constants (no gradient into the "
        "encoder through the target side)")
    scale: Literal["none", "variance"] = Field(
        "none", description="'none': the distance of the raw codes (its size follows the "
        "codes' scale, which no image term fixes); 'variance': each squared difference "
        "divided by that dimension's variance over the step (detached), so the value is "
        "scale-free and comparable with the image terms' at weight 1 (takes no distance)")
    labelled_only: bool = Field(
        False, description="compare the attributes' blocks only, not the unlabelled block")


class Latent(LossTerm):
    """Latent consistency: decode the new combinations of the cycle pairs (block j exchanged
    between images that share nothing), re-encode them, and compare the re-encoded codes with
    the codes they were made of, every block against its source block.
    """

    name = "latent"
    requires = frozenset({"cycle"})
    compares = "codes"
    Config = LatentConfig

    def run(self, step: StepContext) -> LossRun:
        _, codes, _ = _swapped_pairs(step, "cycle")
        raw = yield Decode(codes)
        again = yield Encode(step.to_image(raw))
        config = self.config
        target = codes.detach() if config.detach_target else codes  # type: ignore[attr-defined]
        labelled_only = config.labelled_only  # type: ignore[attr-defined]
        width = _labelled_width(step.partition) if labelled_only else codes.shape[1]
        again, target = again[:, :width], target[:, :width]
        if config.scale == "variance":  # type: ignore[attr-defined]
            return variance_scaled_distance(again, target, step.z[:, :width])
        return code_distance(self.distance, again, target)


class InvarianceConfig(TermConfig):
    """Options of the ``invariance`` term."""

    blocks: list[str] | None = Field(
        None, description="the blocks held to their attribute (default: every block); leave out "
        "a block that must also carry what no attribute names, e.g. instance detail")
    per: Literal["direction", "dimension", "block"] = Field(
        "dimension", description="'dimension': the unexplained share of every latent dimension, "
        "averaged over the block's dimensions (a dimension of small variance counts as much as "
        "a large one, as it does for a probe on standardised codes); 'direction': the same "
        "over every direction of the block's space, trace((S_total + ridge)^-1 S_within) / "
        "width, so a leak hidden in a mix of dimensions counts too; 'block': the block's "
        "unexplained variance over its total variance")
    ridge: float = Field(
        1e-3, gt=0, le=1, description="per = 'direction': added to the total scatter, as this "
        "share of its mean variance, so that directions of (almost) no variance count as 0")


class Invariance(LossTerm):
    """Block invariance: block j may vary only with attribute j. For every dimension of block j,
    the share of its variance over the step's images that attribute j's value does not explain
    (within-value scatter over total scatter, ``1 - R^2``), averaged over the block's
    dimensions and then over the blocks (``per = "block"``: one share per block;
    ``per = "direction"``: every direction of the block's space).

    The swap and cover terms make block j *sufficient* for attribute j, but nothing stops it
    from also carrying other attributes that the decoder learns to ignore (the co-prediction
    off-diagonal). This term removes them. It reads the step's labels (rows whose value of
    attribute j is unknown are left out of block j's sums), needs no relation and no network
    call, and is scale-free: shrinking the codes does not lower it. The distance does not apply.
    An unlabelled block is not this term's (see ``independence``).
    """

    name = "invariance"
    compares = "codes"
    Config = InvarianceConfig

    def run(self, step: StepContext) -> torch.Tensor:
        partition = step.partition
        labelled = len(partition.labelled)
        z = step.z[:, :_labelled_width(partition)]
        blocks = self.config.blocks  # type: ignore[attr-defined]
        # a clear error for a block not in z
        chosen = (torch.ones(len(partition), dtype=torch.bool) if blocks is None
                  else partition.block_mask(blocks)).to(z.device)[:labelled]
        # every latent dimension d is grouped by the value of its own block's attribute
        block_of = partition.block_ids.to(z.device)[:z.shape[1]]
        scatter = scatter_by_value(z, step.labels[:, block_of])
        # a block counts only where its attribute has two values in the step and some value
        # has two images (dimension 0 of each block stands for the block)
        first = torch.tensor(partition.starts[:labelled], device=z.device)
        present = scatter.values[first]
        active = chosen & (present >= 2) & (present < scatter.known[first])
        if not bool(active.any()):
            return z.sum() * 0.0
        within, total = scatter.within, scatter.total
        per = self.config.per  # type: ignore[attr-defined]
        if per == "dimension":
            shares = z.new_zeros(labelled).index_add_(0, block_of,
                                                      within / total.clamp_min(1e-12))
            ratio = shares / torch.tensor(partition.sizes[:labelled], dtype=z.dtype,
                                          device=z.device)
        elif per == "block":
            sums_of = z.new_zeros(2, labelled).index_add_(1, block_of,
                                                          torch.stack([within, total]))
            ratio = sums_of[0] / sums_of[1].clamp_min(1e-12)
        else:
            ratio = torch.stack([
                self._direction_share(scatter.residual[:, partition.slice(name)],
                                      scatter.centred[:, partition.slice(name)])
                if bool(active[j]) else z.new_zeros(())
                for j, name in enumerate(partition.labelled)])
        return ratio[active].mean()

    def _direction_share(self, residual: torch.Tensor, centred: torch.Tensor) -> torch.Tensor:
        """``trace((S_total + ridge I)^-1 S_within) / width`` of one block's ``(M, width)``
        residuals (from their value's mean) and centred codes."""
        scatter = centred.T @ centred
        width = scatter.shape[0]
        share = self.config.ridge  # type: ignore[attr-defined]
        ridge = (share * scatter.diagonal().sum() / width).clamp_min(1e-12)
        eye = torch.eye(width, dtype=scatter.dtype, device=scatter.device)
        solved = torch.linalg.solve(scatter + ridge * eye, residual.T @ residual)
        return solved.diagonal().sum() / width


BUILTIN_TERMS: tuple[type[LossTerm], ...] = (Recon, Swap, Cover, Cycle, Latent, Invariance,
                                              Independence, FreeCycle, Bottleneck,
                                              FreeAdversary)
