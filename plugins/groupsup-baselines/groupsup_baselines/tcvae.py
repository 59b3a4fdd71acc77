"""beta-TCVAE (Chen, Li, Grosse, Duvenaud, 2018, "Isolating Sources of Disentanglement in VAEs").

The ``vae`` backbone trained with the KL term of the ELBO decomposed into the index-code mutual
information, the total correlation (TC) of the aggregate posterior and the dimension-wise KL,
``alpha * MI + beta * TC + gamma * DWKL``, each estimated on the step's batch by *minibatch-
weighted sampling* (the paper's MWS estimator): with ``z_i ~ q(z|x_i)`` the step's samples,
``M`` the batch size and ``N`` the training set's size,

    log q(z_i)   ~ logsumexp_j log q(z_i | x_j) - log(N M)
    log q(z_id)  ~ logsumexp_j log q(z_id | x_j) - log(N M)      (one latent dimension d)
    MI   = mean_i [log q(z_i | x_i) - log q(z_i)]
    TC   = mean_i [log q(z_i) - sum_d log q(z_id)]
    DWKL = mean_i [sum_d log q(z_id) - log p(z_i)]

(MI + TC + DWKL is the usual single-sample KL estimate). ``N`` enters only through additive
constants, so the gradients do not depend on it: a term without ``dataset_size`` drops the
``log(N M)`` constants, as disentanglement_lib does (its reported values shift by constants,
its training does not change). The paper's weights are ``alpha = gamma = 1`` and ``beta`` its
one knob (6 here by default).

Units: the sum over latent dimensions (nats per image, as in the paper's per-image ELBO)
divided by the number of pixel values ``C x H x W``, since groupsup's reconstruction terms are
means over pixel values; so the recipe ``beta-tcvae`` (``recon + tc-kl``, weight 1) is the
paper's objective scaled by ``1 / (C H W)``, with the recipe's reconstruction distance (L1 in
``examples/fonts/compare/beta-tcvae.toml``) in place of a Gaussian log-likelihood. The model
has no trained partition: ``groupsup compare`` assigns its dimensions to attributes after
training (:mod:`groupsup_baselines.search`, ``search = "exhaustive"`` in the backbone options).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from pydantic import Field

import groupsup as gs
from groupsup_baselines.vae import vae_backbone

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
                         ) -> torch.Tensor:
    """``log N(z; mu, exp(logvar))`` per dimension, broadcasting the three inputs."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


@dataclass(frozen=True)
class TCDecomposition:
    """The three parts of the KL estimate, nats per image (scalars)."""

    mutual_information: torch.Tensor
    total_correlation: torch.Tensor
    dimension_wise_kl: torch.Tensor


def tc_decomposition(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                     dataset_size: int | None = None) -> TCDecomposition:
    """MWS estimates of MI, TC and dimension-wise KL from a batch: samples ``z`` ``(M, Z)`` of
    the posteriors ``N(mu, exp(logvar))`` ``(M, Z)`` of the same rows; the prior is N(0, I).

    *dataset_size* ``N`` fixes the ``log(N M)`` constants; ``None`` drops them (values shift by
    constants, gradients are the same).
    """
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise gs.ConfigError(f"z, mu and logvar must be (M, Z) of one shape, got "
                             f"{tuple(z.shape)}, {tuple(mu.shape)} and {tuple(logvar.shape)}")
    m = z.shape[0]
    constant = 0.0 if dataset_size is None else math.log(dataset_size * m)
    # (M, M, Z): log q(z_i,d | x_j,d) for every sample i and posterior j
    pairwise = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])
    log_qz_given_x = gaussian_log_density(z, mu, logvar).sum(dim=1)
    log_qz = torch.logsumexp(pairwise.sum(dim=2), dim=1) - constant
    log_qz_marginals = (torch.logsumexp(pairwise, dim=1) - constant).sum(dim=1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(dim=1)
    return TCDecomposition((log_qz_given_x - log_qz).mean(), (log_qz - log_qz_marginals).mean(),
                           (log_qz_marginals - log_pz).mean())


class TCKLConfig(gs.TermConfig):
    """Options of ``tc-kl``."""

    alpha: float = Field(1.0, ge=0, description="weight of the index-code mutual information")
    beta: float = Field(6.0, ge=0, description="weight of the total correlation")
    gamma: float = Field(1.0, ge=0, description="weight of the dimension-wise KL")
    dataset_size: int | None = Field(None, gt=0, description="training examples N of the MWS "
                                     "estimator (None: its constants are dropped)")


class TCKL(gs.LossTerm):
    """beta-TCVAE's KL: alpha MI + beta TC + gamma dimension-wise KL of the ``vae`` backbone's
    posterior (minibatch-weighted sampling), nats per image divided by C x H x W."""

    name = "tc-kl"
    compares = "codes"
    Config = TCKLConfig

    def run(self, step: gs.StepContext) -> torch.Tensor:
        backbone = vae_backbone(step, "tc-kl")
        if len(step.images) < 2:
            raise gs.ConfigError("loss term 'tc-kl' estimates the aggregate posterior from the "
                                 "step's batch: it needs at least 2 images per step")
        cfg: TCKLConfig = self.config  # type: ignore[assignment]
        mu, logvar = backbone.posterior(step.images)
        parts = tc_decomposition(step.clean, mu, logvar, cfg.dataset_size)
        total = (cfg.alpha * parts.mutual_information + cfg.beta * parts.total_correlation
                 + cfg.gamma * parts.dimension_wise_kl)
        return total / math.prod(step.images.shape[1:])
