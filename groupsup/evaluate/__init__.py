"""Evaluation metrics: pure functions on fixed arrays, each returning a result with ``to_dict()``.

- image quality: :func:`mse`, :func:`psnr`, :func:`ssim`, :func:`synthesis_quality`
- latent structure: :func:`coprediction` (block x attribute probes), :func:`dci`, :func:`mig`,
  :func:`block_mig`, :func:`factorvae`, :func:`sap`; :func:`disentanglement_metrics` runs
  several code metrics on one set of codes (:data:`DEFAULT_CODE_METRICS`)
- swaps judged by an independent classifier: :class:`AttributeClassifier`,
  :func:`train_classifier`, :func:`swap_accuracy`; the evaluation's judge with its real-image
  accuracy: :func:`fit_judge` -> :class:`Judge`

Everything random takes an explicit ``seed`` (an int or a numpy ``Generator``). See
docs/evaluation.md for definitions and the choices made.
"""

from groupsup.evaluate.arrays import chance_level
from groupsup.evaluate.classifier import AttributeClassifier, ClassifierFit, train_classifier
from groupsup.evaluate.coprediction import CoPrediction, coprediction
from groupsup.evaluate.dci import DCIScores, dci
from groupsup.evaluate.factorvae import FactorVAEScores, factorvae
from groupsup.evaluate.image_quality import ImageScores, mse, psnr, ssim
from groupsup.evaluate.judge import Judge, fit_judge
from groupsup.evaluate.latent import (
    DEFAULT_CODE_METRICS,
    CodeMetricFunction,
    disentanglement_metrics,
)
from groupsup.evaluate.mig import BlockMIGScores, MIGScores, block_mig, mig
from groupsup.evaluate.sap import SAPScores, sap
from groupsup.evaluate.swap import SwapAccuracy, swap_accuracy
from groupsup.evaluate.synthesis import SynthesisQuality, synthesis_quality

__all__ = [
    "DEFAULT_CODE_METRICS",
    "AttributeClassifier",
    "BlockMIGScores",
    "ClassifierFit",
    "CoPrediction",
    "CodeMetricFunction",
    "DCIScores",
    "FactorVAEScores",
    "ImageScores",
    "Judge",
    "MIGScores",
    "SAPScores",
    "SwapAccuracy",
    "SynthesisQuality",
    "block_mig",
    "chance_level",
    "coprediction",
    "dci",
    "disentanglement_metrics",
    "factorvae",
    "fit_judge",
    "mig",
    "mse",
    "psnr",
    "sap",
    "ssim",
    "swap_accuracy",
    "synthesis_quality",
    "train_classifier",
]
