"""Ada-GVAE (Locatello et al., 2020, "Weakly-Supervised Disentanglement Without Compromises").

A VAE (the ``vae`` backbone) trained on pairs of images that share some attributes, without
being told which: per pair and latent dimension i, ``delta_i = KL(q(z_i|x1) || q(z_i|x2))``;
the dimensions with ``delta_i < (max delta + min delta) / 2`` (the midpoint of the pair's range,
the paper's adaptive threshold) are inferred shared, and on those both posteriors are replaced
by their GVAE average (Hosoya, 2019, as in the paper's reference code, disentanglement_lib
``weak_vae``): mean of the means and mean of the *variances*,
``N((mu1 + mu2) / 2, (s1^2 + s2^2) / 2)``. The other dimensions keep their own posterior. Both
images are decoded from samples of their (partly averaged) posteriors.

The pairs are the ``swap`` relation of the step's GroupBatch: any strategy that draws pairs
sharing at least one attribute from the multigraph (``edge``, ``centre-cover``). The recipe
``ada-gvae`` is ``ada-gvae-recon + 0.1 x ada-gvae-kl``, the weight of the ``beta-vae`` recipe;
the model has no trained partition, so ``groupsup compare`` evaluates it through a searched one,
like beta-VAE.
"""

from __future__ import annotations

from collections.abc import Generator

import torch

import groupsup as gs
from groupsup_baselines.vae import kl_divergence, vae_backbone


def pair_kl(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor,
            logvar2: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu1, e^logvar1) || N(mu2, e^logvar2))`` per dimension in nats; all ``(E, Z)``."""
    return 0.5 * ((logvar1 - logvar2).exp() + (mu2 - mu1).pow(2) / logvar2.exp() - 1
                  + logvar2 - logvar1)


def shared_dimensions(kl: torch.Tensor) -> torch.Tensor:
    """``(E, Z)`` per-dimension divergences -> ``(E, Z)`` bool: below the midpoint of the row's
    minimum and maximum (a row whose divergences are all equal shares nothing)."""
    threshold = 0.5 * (kl.amax(dim=1, keepdim=True) + kl.amin(dim=1, keepdim=True))
    return kl < threshold


def adaptive_average(mu1: torch.Tensor, logvar1: torch.Tensor, mu2: torch.Tensor,
                     logvar2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ada-GVAE posteriors of the pairs ``(x1, x2)``; inputs ``(E, Z)`` each.

    Returns ``(mu, logvar, shared)``: ``mu``, ``logvar`` ``(2E, Z)`` (the E first images, then
    the E second ones) with the shared dimensions averaged, ``shared`` ``(E, Z)`` bool.
    """
    shared = shared_dimensions(pair_kl(mu1, logvar1, mu2, logvar2).detach())
    mean = 0.5 * (mu1 + mu2)
    logvar = torch.log(0.5 * (logvar1.exp() + logvar2.exp()))
    mu = torch.cat([torch.where(shared, mean, mu1), torch.where(shared, mean, mu2)])
    logvar = torch.cat([torch.where(shared, logvar, logvar1),
                        torch.where(shared, logvar, logvar2)])
    return mu, logvar, shared


def paired_posteriors(step: gs.StepContext, term: str
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rows (2E,), mu (2E, Z), logvar (2E, Z))`` of the step's ``swap`` pairs: the rows of
    the first images then of the second, and their adaptively averaged posteriors."""
    backbone = vae_backbone(step, term)
    pairs = step.relation("swap")["pairs"]
    mu, logvar = backbone.posterior(step.images)
    a, b = pairs[:, 0], pairs[:, 1]
    averaged_mu, averaged_logvar, _ = adaptive_average(mu[a], logvar[a], mu[b], logvar[b])
    return torch.cat([a, b]), averaged_mu, averaged_logvar


class AdaGVAERecon(gs.LossTerm):
    """Ada-GVAE reconstruction: both images of every ``swap`` pair decoded from a sample of
    their adaptively averaged posteriors (the mean in eval mode)."""

    name = "ada-gvae-recon"
    requires = frozenset({"swap"})

    def run(self, step: gs.StepContext) -> Generator[gs.Decode, torch.Tensor, torch.Tensor]:
        rows, mu, logvar = paired_posteriors(step, self.name)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if step.model.training else mu
        raw = yield gs.Decode(z)
        return self.compare(step, raw, step.images[rows])


class AdaGVAEKL(gs.LossTerm):
    """KL of the adaptively averaged posteriors of every ``swap`` pair from N(0, I), nats per
    latent dimension."""

    name = "ada-gvae-kl"
    requires = frozenset({"swap"})
    compares = "codes"

    def run(self, step: gs.StepContext) -> torch.Tensor:
        _, mu, logvar = paired_posteriors(step, self.name)
        return kl_divergence(mu, logvar)
