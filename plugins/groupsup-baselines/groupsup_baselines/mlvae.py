"""ML-VAE (Bouchacourt, Tomioka, Nowozin, 2018, "Multi-Level Variational Autoencoder: Learning
Disentangled Representations from Grouped Observations"), adapted to groups of many attributes.

The paper's grouped observations share one *content* latent, whose posterior is the product of
the members' Gaussian posteriors (*evidence accumulation*: precision = sum of the members'
precisions, mean = their precision-weighted mean), while each member keeps its own *style*
latent. Here a step's images are grouped once per attribute: for every labelled block j, the
images of the step that share attribute j's value form a group, and block j's posterior of each
of them is replaced by the product of that group's posteriors of block j. A row whose value of
j is unknown (-1) keeps its own block j; the unlabelled block (``gs.Free``), the style, keeps
every image's own posterior. Without an unlabelled block the model is group-level content only.

Every latent column is grouped by a *slot* per row (:func:`value_slots`): the row's value of
the column's attribute, or, for a row that shares the column with nobody (unknown value, the
unlabelled block), a slot of its own. One scatter over (slot, column) then accumulates every
group of every attribute at once (:func:`accumulate`); a group of one is the row's own
posterior, exactly. A sample draws one noise per group, so the members of a group decode one
shared content sample, as in the paper.

The model is the ``vae`` backbone (:class:`~groupsup_baselines.vae.VAE`); unlike beta-VAE it
has a trained partition (block j is what the images of one value of j share), so synthesis
and evaluation swap its blocks like GZS-Net's.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import torch

import groupsup as gs
from groupsup_baselines.vae import vae_backbone


def value_slots(labels: torch.Tensor, partition: gs.LatentPartition) -> torch.Tensor:
    """``(M, Z)`` int64: the group of every row in every latent column.

    *labels* ``(M, A)`` (``A = len(partition.labelled)``, -1 unknown). A column of attribute j's
    block takes the row's value of j; an unknown value and every column of the unlabelled block
    take ``V + row`` (``V`` = the largest value + 1), a slot no other row shares.
    """
    rows, width = labels.shape[0], partition.size
    labelled = partition.starts[len(partition.labelled)] if partition.free else width
    block_of = partition.block_ids.to(labels.device)[:labelled]
    values = torch.full((rows, width), -1, dtype=torch.int64, device=labels.device)
    values[:, :labelled] = labels[:, block_of]
    spare = int(labels.max()) + 1 if labels.numel() else 0
    own = spare + torch.arange(rows, device=labels.device).unsqueeze(1)
    return torch.where(values >= 0, values, own)


@dataclass(frozen=True)
class Accumulated:
    """Posteriors after evidence accumulation, and who shares them.

    ``mu``, ``logvar`` ``(M, Z)``: every row's posterior (the group's product where it shares
    one); ``slot`` ``(M, Z)``: the group of each entry (:func:`value_slots`); ``size``
    ``(M, Z)``: the number of rows in that group (1 for an entry of its own).
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    slot: torch.Tensor
    size: torch.Tensor

    def sample(self) -> torch.Tensor:
        """``(M, Z)``: ``mu + sigma * eps`` with one ``eps`` per group, shared by its rows."""
        slots = int(self.slot.max()) + 1
        eps = torch.randn(slots, self.mu.shape[1], dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + torch.exp(0.5 * self.logvar) * eps.gather(0, self.slot)


def accumulate(mu: torch.Tensor, logvar: torch.Tensor, slot: torch.Tensor) -> Accumulated:
    """The product of the Gaussian posteriors ``(M, Z)`` of the rows sharing a slot, per column.

    Per group g and column: precision ``sum_i exp(-logvar_i)``, mean ``sum_i mu_i exp(-logvar_i)
    / precision``. The precisions are scaled by the group's largest first (a shift of the
    log-precisions that cancels), so no sum overflows.
    """
    slots = int(slot.max()) + 1 if slot.numel() else 0
    table = (slots, mu.shape[1])
    precision_log = -logvar
    top = precision_log.new_full(table, float("-inf")).scatter_reduce(
        0, slot, precision_log.detach(), reduce="amax")
    shift = top.gather(0, slot)
    weight = torch.exp(precision_log - shift)  # (M, Z), in (0, 1]
    total = mu.new_zeros(table).scatter_add(0, slot, weight)
    moment = mu.new_zeros(table).scatter_add(0, slot, weight * mu)
    count = mu.new_zeros(table).scatter_add(0, slot, torch.ones_like(mu))
    total_rows = total.gather(0, slot)
    return Accumulated(mu=moment.gather(0, slot) / total_rows,
                       logvar=-(shift + torch.log(total_rows)),
                       slot=slot, size=count.gather(0, slot))


def grouped_kl(accumulated: Accumulated) -> torch.Tensor:
    """``KL(q || N(0, I))`` of every group counted once, in nats per image and latent dim.

    The sum over columns of the KL of every group's accumulated posterior (each (attribute,
    value) group once on its block's columns; an entry of its own, i.e. an unknown value or the
    unlabelled block of an image, once per image), divided by ``M * Z``. It equals the ``kl``
    term's value when every group holds one image.
    """
    mu, logvar = accumulated.mu, accumulated.logvar
    per_entry = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)  # (M, Z); equal within a group
    return (per_entry / accumulated.size).sum() / per_entry.numel()


def step_posterior(step: gs.StepContext, term: str) -> Accumulated:
    """The step's accumulated posteriors (``(M, Z)`` each) from the ``vae`` backbone's own and
    the step's labels ``(M, A)``."""
    backbone = vae_backbone(step, term)
    mu, logvar = backbone.posterior(step.images)
    return accumulate(mu, logvar, value_slots(step.labels, step.partition))


class MLVAERecon(gs.LossTerm):
    """ML-VAE reconstruction: every image decoded from a sample of its accumulated posterior
    (one content sample per group, its own style; the mean in eval mode)."""

    name = "ml-vae-recon"

    def run(self, step: gs.StepContext) -> Generator[gs.Decode, torch.Tensor, torch.Tensor]:
        accumulated = step_posterior(step, self.name)
        z = accumulated.sample() if step.model.training else accumulated.mu
        raw = yield gs.Decode(z)
        return self.compare(step, raw, step.images)


class MLVAEKL(gs.LossTerm):
    """ML-VAE KL from N(0, I): each (attribute, value) group's content once, style per image;
    nats per image and latent dimension."""

    name = "ml-vae-kl"
    compares = "codes"

    def run(self, step: gs.StepContext) -> torch.Tensor:
        return grouped_kl(step_posterior(step, self.name))
