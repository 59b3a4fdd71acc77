"""The built-in loss terms of group-supervised learning (docs/method.md §2).

Each term reads positions from the step's :class:`~groupsup.GroupBatch`, gathers rows of the
code matrix ``z`` with index tensors (no loop over samples) and yields its decode requests;
every term's value is a mean over its images (or code entries).
"""

from __future__ import annotations

import torch
from pydantic import Field

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

    def run(self, step: StepContext) -> LossRun:
        rows, codes, _ = _swapped_pairs(step, "swap")
        raw = yield Decode(codes)
        return self.compare(step, raw, step.images[rows])


class CoverConfig(TermConfig):
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
        codes = step.partition.assemble(step.z, cover["providers"])
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
        raw_back = yield Decode(torch.cat([back_a, back_b]))
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


BUILTIN_TERMS: tuple[type[LossTerm], ...] = (Recon, Swap, Cover, Cycle, Latent)
