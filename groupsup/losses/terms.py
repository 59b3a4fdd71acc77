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

from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import Field

from groupsup.errors import ConfigError
from groupsup.losses.base import Decode, Encode, LossRun, LossTerm, StepContext, TermConfig
from groupsup.losses.distances import code_distance, shift_tolerant_distance


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


def mixed_rows(rows: torch.Tensor, count: int, share: float) -> torch.Tensor:
    """*rows* ``(K,)`` with a random *share* of them replaced by another row of ``0..count-1``
    (drawn from torch's global generator, which the trainer seeds)."""
    device = rows.device
    swap = torch.rand(len(rows), device=device) < share
    other = (rows + torch.randint(1, max(count, 2), rows.shape, device=device)) % count
    return torch.where(swap, other, rows)


class Recon(LossTerm):
    """Self reconstruction: ``d(D(E(x)), x)`` for every image of the step."""

    name = "recon"

    def run(self, step: StepContext) -> LossRun:
        raw = yield Decode(step.z)
        return self.compare(step, raw, step.images)


class FreeMixConfig(TermConfig):
    """The ``free_mix`` option shared by the terms that decode a target with its own
    unlabelled block."""

    free_mix: float = Field(
        0.0, ge=0, le=1, description="with an unlabelled block: the share of targets whose "
        "unlabelled block comes from another image of the step instead of their own, so that "
        "the decoder cannot read an attribute from that block (it would draw the other "
        "image's) and takes each attribute from its own block")


def _mix_free(step: StepContext, codes: torch.Tensor, targets: torch.Tensor, share: float
              ) -> torch.Tensor:
    """*codes* ``(K, Z)``, decoded against the step's rows *targets* ``(K,)`` with their own
    unlabelled block, with a random *share* of them given another step image's instead
    (unchanged without an unlabelled block, or at share 0)."""
    free = step.partition.free
    if free is None or share <= 0:
        return codes
    block = step.partition.slice(free)
    source = mixed_rows(targets, len(step.z), share)
    return torch.cat([codes[:, :block.start], step.z[source][:, block]], dim=1)


class Swap(LossTerm):
    """One-overlap swap: on each swap pair (sharing attribute j), exchange block j and decode
    both codes; each must still reproduce its own image, since block j carries the same value.
    """

    name = "swap"
    requires = frozenset({"swap"})
    Config = FreeMixConfig

    def run(self, step: StepContext) -> LossRun:
        rows, codes, _ = _swapped_pairs(step, "swap")
        codes = _mix_free(step, codes, rows, self.config.free_mix)  # type: ignore[attr-defined]
        raw = yield Decode(codes)
        return self.compare(step, raw, step.images[rows])


class CoverConfig(FreeMixConfig):
    """Options of the ``cover`` term."""

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
        codes = step.partition.assemble(step.z, cover["providers"],
                                        free=step.own_free(cover["target"]))
        codes = _mix_free(step, codes, cover["target"],
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
        target = codes.detach() if self.config.detach_target else codes  # type: ignore[attr-defined]
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


@dataclass(frozen=True)
class _Scatter:
    """Per column of a code matrix grouped by a value per entry (see :func:`_scatter`)."""

    within: torch.Tensor  # (D,) squared distance of each known entry from its value's mean
    total: torch.Tensor  # (D,) squared distance of each known entry from the column's mean
    residual: torch.Tensor  # (M, D) entry minus its value's mean (0 where unknown)
    centred: torch.Tensor  # (M, D) entry minus the column's mean (0 where unknown)
    values: torch.Tensor  # (D,) distinct known values per column
    known: torch.Tensor  # (D,) rows whose value is known, per column


def _scatter(z: torch.Tensor, values: torch.Tensor) -> _Scatter:
    """Group every column d of ``z`` ``(M, D)`` by ``values[:, d]`` (``(M, D)`` int codes;
    unknown values, -1, are left out): one scatter over (value, column) gives each value's
    sum per column, no loop over values or columns."""
    known = values >= 0
    spare = int(values.max()) + 1 if values.numel() else 0
    slot = torch.where(known, values, spare)  # unknown rows go to a spare row no sum reads
    weight = known.to(z.dtype)
    sums = z.new_zeros(spare + 1, z.shape[1]).scatter_add_(0, slot, z * weight)
    counts = z.new_zeros(spare + 1, z.shape[1]).scatter_add_(0, slot, weight)
    n = weight.sum(0)
    residual = (z - (sums / counts.clamp_min(1.0)).gather(0, slot)) * weight
    centred = (z - sums.sum(0) / n.clamp_min(1.0)) * weight
    return _Scatter(residual.square().sum(0), centred.square().sum(0), residual, centred,
                    (counts[:spare] > 0).sum(0), n)


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
        z = step.z[:, :partition.starts[labelled]] if partition.free else step.z
        blocks = self.config.blocks  # type: ignore[attr-defined]
        # a clear error for a block not in z
        chosen = (torch.ones(len(partition), dtype=torch.bool) if blocks is None
                  else partition.block_mask(blocks)).to(z.device)[:labelled]
        # every latent dimension d is grouped by the value of its own block's attribute
        block_of = partition.block_ids.to(z.device)[:z.shape[1]]
        scatter = _scatter(z, step.labels[:, block_of])
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
        free = step.z[:, partition.slice(partition.free)]  # (M, F)
        labels = step.labels  # (M, A)
        attributes, width = labels.shape[1], free.shape[1]
        # one column per (attribute, free dimension), grouped by that attribute's value
        scatter = _scatter(free.repeat(1, attributes), labels.repeat_interleave(width, dim=1))
        explained = (scatter.total - scatter.within).clamp_min(0)
        share = (explained / scatter.total.clamp_min(1e-12)).view(attributes, width).mean(1)
        present, known = scatter.values[::width], scatter.known[::width]
        active = (present >= 2) & (present < known)
        if not bool(active.any()):
            return free.sum() * 0.0
        return share[active].mean()


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
        free = partition.slice(partition.free)
        mixed = torch.cat([a[:, :free.start], b[:, free]], dim=1)
        raw = yield Decode(mixed)
        again = yield Encode(step.to_image(raw))
        scale = step.z.detach().var(0).clamp_min(1e-8)
        return ((again - mixed.detach()).square() / scale).mean()


BUILTIN_TERMS: tuple[type[LossTerm], ...] = (Recon, Swap, Cover, Cycle, Latent, Invariance,
                                              Independence, FreeCycle)
