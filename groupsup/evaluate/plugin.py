"""Registers the built-in metrics through the same hook third-party plugins use."""

from __future__ import annotations

from groupsup.evaluate.coprediction import coprediction
from groupsup.evaluate.dci import dci
from groupsup.evaluate.factorvae import factorvae
from groupsup.evaluate.image_quality import mse, psnr, ssim
from groupsup.evaluate.mig import block_mig, mig
from groupsup.evaluate.sap import sap
from groupsup.evaluate.swap import swap_accuracy
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.hookspecs import Register, hookimpl


@hookimpl
def register_metrics(register: Register) -> None:
    register("mse", mse, description="mean squared error per image (images (N, C, H, W))")
    register("psnr", psnr, description="peak signal-to-noise ratio in dB; needs data_range")
    register("ssim", ssim, description="Gaussian-window SSIM (11x11, sigma 1.5); needs data_range")
    register("synthesis_quality", synthesis_quality,
             description="MSE/PSNR/SSIM of synthesised images, overall and per combination")
    register("coprediction", coprediction,
             description="held-out probe accuracy of every latent block for every attribute")
    register("dci", dci, description="DCI disentanglement, completeness, informativeness")
    register("mig", mig, description="mutual information gap (histogram-discretised codes)")
    register("block_mig", block_mig,
             description="MIG between factors and latent blocks (k-means-discretised blocks)")
    register("factorvae", factorvae,
             description="FactorVAE score: majority vote on the dimension of least variance")
    register("sap", sap, description="SAP: gap between the two dimensions best predicting a factor")
    register("swap_accuracy", swap_accuracy,
             description="share of synthesised images whose requested values a classifier sees")
