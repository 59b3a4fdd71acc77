"""The built-in evaluation steps and code metrics, registered through ``register_evaluations``
like any plugin's (docs/evaluation.md defines every number).

The steps draw from the context's one generator in their order, so an evaluation without some
step (a model without an unlabelled block) draws the same examples for every other step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from groupsup.data import to_uint8
from groupsup.errors import ConfigError
from groupsup.evaluate.arrays import json_array
from groupsup.evaluate.coprediction import coprediction
from groupsup.evaluate.image_quality import psnr
from groupsup.evaluate.judge import fit_judge
from groupsup.evaluate.latent import CODE_METRICS, disentanglement_metrics, summary_line
from groupsup.evaluate.swap import swap_accuracy
from groupsup.evaluate.synthesis import synthesis_quality
from groupsup.hookspecs import Register, hookimpl
from groupsup.imaging import image_grid, save_png
from groupsup.runs import unlabelled
from groupsup.runs.context import EvalContext, Syntheses
from groupsup.runs.step import CodeMetric, EvaluationStep, code_metrics
from groupsup.runs.zeroshot import (
    draw_providers,
    encode_all,
    instance_reference,
    leakage_swaps,
    novel_values,
    synthesize,
)


class Reconstruction(EvaluationStep):
    """Reconstructions of training examples: a reference point for the synthesis numbers."""

    order = 10.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        truth = ctx.dataset.load(ctx.draw(ctx.train, ctx.options.max_examples))
        with torch.no_grad():
            recon = torch.cat([ctx.model.reconstruct(truth[i:i + 256].to(ctx.device)).cpu()
                               for i in range(0, len(truth), 256)])
        result = synthesis_quality(recon, truth, data_range=2.0).to_dict()["overall"]
        save_png(image_grid([to_uint8(truth[:12]), to_uint8(recon[:12])], ["original", "recon"]),
                 ctx.out / "reconstructions.png")
        ctx.say(f"reconstruction PSNR {result['psnr']:.2f} dB")
        return {"reconstruction": result}


class JudgeStep(EvaluationStep):
    """The judge: an attribute classifier trained on real labelled images, scored on real
    images it did not train on. Its seed is drawn even when a fitted judge is given, so that
    every later draw is the same either way."""

    order = 20.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        o = ctx.options
        ctx.judge_seed = int(ctx.rng.integers(2**62))
        if ctx.judge is None:
            ctx.judge = fit_judge(ctx.dataset, train=ctx.train, test=ctx.test,
                                  judge_data=o.judge_data, judge_set=ctx.judge_set,
                                  folds=o.judge_folds, holdout=o.judge_holdout,
                                  steps=o.classifier_steps, time_budget=o.classifier_budget,
                                  seed=ctx.judge_seed, device=o.device)
            ctx.timing["judge_seconds"] = round(ctx.judge.seconds, 1)
        elif ctx.judge.attributes != tuple(ctx.names):
            raise ConfigError(f"the judge given reads attributes {list(ctx.judge.attributes)}, "
                              f"the run's model has {ctx.names}")
        self._report(ctx)
        return {"classifier": ctx.judge.to_dict()}

    @staticmethod
    def _report(ctx: EvalContext) -> None:
        judge, names = ctx.judge, ctx.names
        assert judge is not None
        ctx.say("judge accuracy on real images it did not train on "
                f"{judge.mean_accuracy:.3f} ("
                + ", ".join(f"{a} {v:.2f}" for a, v in zip(names, judge.accuracy)) + ")")
        if judge.config["budget_hit"]:
            ctx.say(f"warning: the judge's training hit --classifier-budget "
                    f"{ctx.options.classifier_budget} s before --classifier-steps; its numbers "
                    "depend on the machine's speed")
        for a in judge.unreliable:
            k = names.index(a)
            ctx.say(f"warning: UNRELIABLE judge for {a!r}: real-image accuracy "
                    f"{judge.accuracy[k]:.3f} (chance {judge.chance[k]:.3f}); its swap "
                    "accuracy and leakage say little")


class Synthesis(EvaluationStep):
    """Zero-shot synthesis of held-out combinations (of training examples without a split).

    A split holding out whole values (e.g. RaFD's novel identities) takes their providers
    from other test images of that value, and the report says so. The unlabelled block's
    provider (the base) is drawn after the others, so that a model without one draws exactly
    what it always did."""

    order = 30.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        data, names, test = ctx.dataset, ctx.names, ctx.test
        targets = ctx.draw(test if test is not None and len(test) else ctx.train,
                           ctx.options.max_examples)
        novel = novel_values(data.labels, ctx.train, data.labels[targets], names)
        providers = draw_providers(data.labels, ctx.train, data.labels[targets], ctx.rng,
                                   spare=test if novel else None, target_ids=targets)
        if novel:
            ctx.say("values never seen in training (providers from other test images): "
                    + ", ".join(f"{a} in {k} targets" for a, k in novel.items()))
        free = None if ctx.free is None else ctx.rng.choice(ctx.train, size=len(targets))
        synth = Syntheses(targets, providers, free,
                          synthesize(ctx.model, data, providers, ctx.device, free=free),
                          data.load(targets), data.labels[targets])
        ctx.syntheses = synth
        quality = synthesis_quality(synth.images, synth.truth, synth.combos, data_range=2.0,
                                    attributes=names).to_dict()
        copy_best = np.stack([psnr(data.load(providers[:, j]), synth.truth,
                                   data_range=2.0).per_image
                              for j in range(len(names))]).max(0)
        result = {"held_out": test is not None, "n": len(targets), "novel_values": novel,
                  **quality["overall"],
                  "baseline_best_provider_psnr": float(copy_best[np.isfinite(copy_best)].mean()),
                  **instance_reference(data, targets, synth.truth, ctx.rng),
                  "per_combination": quality["per_combination"]}
        if ctx.free is not None:
            result["free_provider"] = unlabelled.FREE_PROVIDER.format(ctx.free)
        self._sheet(ctx, synth)
        return {"synthesis": result}

    @staticmethod
    def _sheet(ctx: EvalContext, synth: Syntheses) -> None:
        """``synthesis.png``: per row the providers, the synthesis and the truth."""
        sheet = (synth.providers if synth.free is None
                 else np.concatenate([synth.providers, synth.free[:, None]], axis=1))
        rows = [to_uint8(torch.cat([ctx.dataset.load(sheet[i]), synth.images[i:i + 1],
                                    synth.truth[i:i + 1]]))
                for i in range(min(ctx.options.sheet_rows, len(synth.targets)))]
        labels = [n[:9] for n in ctx.names] + ([] if ctx.free is None else [ctx.free[:9]])
        save_png(image_grid(rows, column_labels=[*labels, "synth", "truth"]),
                 ctx.out / "synthesis.png")


class UnnamedAttributes(EvaluationStep):
    """Attributes the evaluation's dataset labels and the model was trained without, read on
    the syntheses (:func:`groupsup.runs.unlabelled.unnamed_attributes`)."""

    order = 35.0

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.full is not ctx.dataset and ctx.free is not None

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        synth = ctx.require(ctx.syntheses, "the syntheses", "synthesis")
        result = unlabelled.unnamed_attributes(
            ctx.full, ctx.model, synth.images, synth.free, synth.providers, ctx.train, ctx.test,
            steps=ctx.options.classifier_steps, seed=ctx.require(ctx.judge_seed, "a seed",
                                                                 "judge"),
            device=ctx.device)
        ctx.say(unlabelled.unnamed_line(result))
        return {"unnamed_attributes": result}


class SwapAccuracy(EvaluationStep):
    """The judge's reading of the syntheses, beside its accuracy on real images."""

    order = 40.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        synth = ctx.require(ctx.syntheses, "the syntheses", "synthesis")
        judge = ctx.require(ctx.judge, "the judge", "judge")
        swap = swap_accuracy(judge.classifier, synth.images, synth.combos).to_dict()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(swap["accuracy"]) / judge.accuracy
        swap.update({"judge_accuracy": json_array(judge.accuracy), "ratio": json_array(ratio),
                     "unreliable": judge.unreliable})
        return {"swap_accuracy": swap}


class LeakageStep(EvaluationStep):
    """One block swapped at a time, every attribute read by the judge."""

    order = 50.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        judge = ctx.require(ctx.judge, "the judge", "judge")
        ctx.leakage_bases = ctx.draw(ctx.train, ctx.options.leakage_examples)
        leak = leakage_swaps(ctx.model, ctx.dataset, judge, ctx.leakage_bases, ctx.train,
                             ctx.rng, ctx.device)
        leak.plot(ctx.out / "leakage.png",
                  title="leakage: attribute k follows block j's provider")
        ctx.leakage = leak
        return {"leakage": leak.to_dict()}


class CoPredictionStep(EvaluationStep):
    """Which block predicts which attribute, on codes of training examples (which the
    ``codes`` step scores too)."""

    order = 60.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        ids = ctx.draw(ctx.train, ctx.options.coprediction_examples)
        ctx.codes = encode_all(ctx.model, ctx.dataset, ids, ctx.device).numpy()
        ctx.code_labels = ctx.dataset.labels[ids]
        co = coprediction(ctx.codes, ctx.code_labels, ctx.model.partition,
                          attributes=ctx.names, seed=ctx.options.seed)
        co.plot(ctx.out / "coprediction.png", title="co-prediction (held-out probe accuracy)")
        ctx.coprediction = co
        return {"coprediction": co.to_dict()}


class FreeBlock(EvaluationStep):
    """The unlabelled block's rows of the leakage and co-prediction matrices, and its sweep
    sheet ``free_sweep.png``."""

    order = 65.0

    def applies(self, ctx: EvalContext) -> bool:
        return ctx.free is not None

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        leak = ctx.require(ctx.leakage, "the leakage matrix", "leakage")
        co = ctx.require(ctx.coprediction, "the co-prediction matrix", "coprediction")
        rows = unlabelled.free_rows(leak, co, ctx.names)
        ctx.say(unlabelled.free_line(rows["free_leakage"]))
        bases = ctx.require(ctx.leakage_bases, "the leakage bases", "leakage")
        unlabelled.free_sweep(ctx.model, ctx.dataset, bases[:6], ctx.draw(ctx.train, 8),
                              ctx.device, ctx.out / "free_sweep.png")
        return rows


class Codes(EvaluationStep):
    """The code metrics ``EvalOptions.code_metrics`` names (registered :class:`CodeMetric`\\ s)
    on the co-prediction step's training codes, under ``"disentanglement"``."""

    order = 70.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        metrics = code_metrics(ctx.options.code_metrics, ctx.registries.evaluations)
        codes = ctx.require(ctx.codes, "the training codes", "coprediction")
        result = disentanglement_metrics(codes, ctx.code_labels, ctx.model.partition, ctx.names,
                                         seed=ctx.options.seed, metrics=metrics)
        ctx.say(summary_line(result))
        return {"disentanglement": result}


class Headline(EvaluationStep):
    """The one-line summary: swap accuracy, leakage and SSIM first, then PSNR."""

    order = 90.0

    def run(self, ctx: EvalContext) -> dict[str, Any]:
        m, judge = ctx.metrics, ctx.require(ctx.judge, "the judge", "judge")
        swap, leak, synth = m["swap_accuracy"], m["leakage"], m["synthesis"]
        text = (f"swap accuracy {swap['mean']:.3f} (judge on real images "
                f"{judge.mean_accuracy:.3f}), leakage {_fmt(leak['off_diagonal_mean'])}, "
                f"SSIM {synth['ssim']:.3f}, PSNR {synth['psnr']:.2f} dB")
        if judge.unreliable:
            text += f"; UNRELIABLE judge for {', '.join(judge.unreliable)}"
        ctx.say(text)
        return {"headline": {"swap_accuracy": swap["mean"],
                             "judge_accuracy": judge.mean_accuracy,
                             "leakage": leak["off_diagonal_mean"], "ssim": synth["ssim"],
                             "psnr": synth["psnr"], "unreliable": judge.unreliable,
                             "text": text}}


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


STEPS: dict[str, tuple[EvaluationStep, str]] = {
    "reconstruction": (Reconstruction(), "PSNR/SSIM of reconstructed training examples"),
    "judge": (JudgeStep(), "the attribute classifier and its real-image accuracy"),
    "synthesis": (Synthesis(), "zero-shot synthesis of held-out combinations"),
    "unnamed_attributes": (UnnamedAttributes(), "attributes the model does not name, read on "
                           "the syntheses"),
    "swap_accuracy": (SwapAccuracy(), "the judge's reading of the syntheses"),
    "leakage": (LeakageStep(), "attribute k follows block j's provider"),
    "coprediction": (CoPredictionStep(), "which block predicts which attribute"),
    "free_block": (FreeBlock(), "the unlabelled block's leakage and co-prediction rows"),
    "codes": (Codes(), "the code metrics of EvalOptions.code_metrics"),
    "headline": (Headline(), "the one-line summary"),
}


@hookimpl
def register_evaluations(register: Register) -> None:
    for name, (step, description) in STEPS.items():
        register(name, step, description=description)
    for name, (metric, description) in CODE_METRICS.items():
        register(name, CodeMetric(metric), description=description)
