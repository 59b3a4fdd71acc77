"""``groupsup reproduce fonts``: the paper's Fonts experiments at CPU scale, one report.

Three stages, then one report (``OUT/report.md`` and a self-contained ``OUT/report.html``):

1. **compare** (groupsup-baselines' :func:`~groupsup_baselines.compare.compare`): GZS-Net
   (recon + swap + cover), its ablations without the swap and without the cover term, and the
   baselines AE+DS and beta-VAE (evaluated through a searched partition), the five configs of
   ``examples/fonts/compare`` built here from the demo's Fonts-mini config (8 groups per step,
   a constant rate: :func:`comparison_base`) with the paper's
   held-out protocol split (``dataset.split = "protocol"``: per letter range, training never
   sees some sizes, font colours, backgrounds or fonts; every value stays in training). Each
   trains for the same ``--budget-per-config`` seconds and is evaluated by
   :func:`groupsup.evaluate_run`: held-out MSE / PSNR / SSIM against the rendered truth, swap
   accuracy and leakage read by the independent judge, co-prediction.
2. **augmentation** (:mod:`groupsup_fonts.augmentation`) with the GZS-Net run as the generator.
3. **report**: the GZS-Net synthesis sheet (providers, synthesis, truth per row, like the
   paper's figure), its co-prediction matrix and leakage, the comparison table, the
   augmentation table, the command, the machine and the wall time of every stage.

The default budget fits in an hour on 2 CPU cores (:data:`BUDGET_PER_CONFIG`): 5 configs x
600 s of training = 3,000 s, plus 5 evaluations (each judge capped at
:data:`CLASSIFIER_BUDGET` s; beta-VAE adds its partition search) and the augmentation's three
classifiers; measured end to end on an idle 2-core machine: 3,110 s (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import torch

import groupsup as gs
from groupsup.fileio import atomic_write_text
from groupsup.machine import FEATURES, cpu_info
from groupsup_fonts import augmentation
from groupsup_fonts.demo import demo_config
from groupsup_fonts.reproduce_report import write_report

BUDGET_PER_CONFIG = 600.0
CLASSIFIER_BUDGET = 90.0
CLASSIFIER_STEPS = 1500
MARKER = "reproduce.json"

# GZS-Net and what it is compared with: changes to the demo config (the same changes as
# examples/fonts/compare/*.toml, which a test derives from the demo config too)
RECIPES = {"gzsnet": "gsl", "no-swap": "gsl-no-swap", "no-cover": "gsl-no-cover",
           "ae-ds": "ae-ds", "beta-vae": "beta-vae"}
# --quick: a Fonts of 270 images of 16 px (5 letters, the fewest the protocol split takes),
# a tiny network, a tiny judge: the whole pipeline in seconds, numbers meaningless
QUICK = ["dataset.options.image_size=16", "dataset.options.letters=A-E",
         'dataset.options.fonts=["cmr10","dejavusans"]',
         'dataset.options.font_colors=["red","yellow","green","blue"]',
         'dataset.options.back_colors=["red","green","blue"]',
         "model.options.width=8", "model.options.max_width=16", "train.groups_per_step=2",
         "train.log_every=100", "train.sample_every=100000", "train.checkpoint_every=100000"]
QUICK_BUDGET = 2.0
QUICK_CLASSIFIER_STEPS = 10


# the fonts the comparison was measured with (docs/results.md): the six matplotlib faces the demo
# had until 2026-12-07, when it added cmb10 and cmss10 so as never to read the system's fonts
COMPARISON_FONTS = ("cmr10", "cmtt10", "dejavusans", "dejavusansmono", "dejavuserifbold",
                    "stixgeneralitalic")


def comparison_base() -> dict[str, Any]:
    """The demo config with the training settings and data the comparison was measured with
    (and examples/fonts/compare/*.toml keep): 8 groups per step, a constant rate, no time
    budget of its own (each config trains for the same ``--budget-per-config``), the six fonts
    of :data:`COMPARISON_FONTS`, a decoder the code does not modulate. The demo itself has
    since moved to 4 groups, the ``wsd`` rate, a modulated decoder (docs/model.md) and eight
    fonts."""
    base = demo_config()
    # (matplotlib's faces come first in discovery, so these six are the same files whether or
    # not the system's fonts are read; the option is left as the comparison had it)
    options = {k: v for k, v in base["dataset"]["options"].items() if k != "system_fonts"}
    base["dataset"]["options"] = {**options, "fonts": list(COMPARISON_FONTS)}
    base["train"] = {**base["train"], "groups_per_step": 8, "time_budget": None}
    base["optim"] = {**base["optim"], "schedule": "constant", "schedule_by": "steps"}
    base["model"] = {**base["model"], "options": {
        k: v for k, v in base["model"]["options"].items() if k != "modulation"}}
    return base


def variant_configs(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{run name: config dict}``: GZS-Net, the ablations and the baselines from *base*."""
    configs = {}
    for name, recipe in RECIPES.items():
        config = json.loads(json.dumps(base))
        config["name"] = f"fonts-{name}"
        config["loss"]["recipe"] = recipe
        if name == "beta-vae":  # its KL weight was set against l1 reconstruction
            config["loss"]["distance"] = "l1"
            config["model"] = {**config["model"], "backbone": "vae",
                               "options": {"inner": base["model"]["backbone"],
                                           "inner_options": base["model"]["options"]}}
        configs[name] = config
    return configs


def machine() -> dict[str, Any]:
    """What the wall times depend on: CPUs (model and flags), torch threads, versions, load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    model, flags = cpu_info()
    return {"platform": platform.platform(), "processor": model,
            "cpu_features": [f for f in FEATURES if f in flags],
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            "groupsup": gs.__version__,
            "load_average_1min": None if load is None else round(load[0], 2)}


def canonical_command(args: argparse.Namespace, budget: float) -> str:
    """The command line that repeats this reproduction, every default spelled out."""
    words = ["groupsup", "reproduce", args.experiment, *(["--quick"] if args.quick else []),
             "--budget-per-config", f"{budget:g}", "--threads", str(args.threads),
             "--seed", str(args.seed), "--out", str(args.out)]
    for override in args.overrides:
        words += ["--set", override]
    return " ".join(shlex.quote(w) for w in words)


def prepare_out(out: Path, overwrite: bool) -> None:
    """Refuse to replace a report unless *overwrite*; never remove a folder this command did
    not write (it would hold ``reproduce.json``)."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise gs.ConfigError(f"--out {out}: the folder holds files not written by "
                                 "`groupsup reproduce`; choose an empty or new folder")
        if not overwrite:
            raise gs.ConfigError(f"--out {out} already holds a reproduction "
                                 f"({out / MARKER}); pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", choices=["fonts"],
                        help="fonts: the paper's Fonts experiments at CPU scale")
    parser.add_argument("--budget-per-config", type=float, default=None, metavar="SECONDS",
                        help=f"training seconds per config (default {BUDGET_PER_CONFIG:g}: "
                        f"52 min in all measured on 2 cores; {QUICK_BUDGET:g} with --quick)")
    parser.add_argument("--out", default="runs/reproduce",
                        help="output folder (default runs/reproduce)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier reproduction in --out")
    parser.add_argument("--quick", action="store_true",
                        help="16 px, 5 letters, 2 fonts, a tiny judge: checks the pipeline in "
                        "seconds; its numbers mean nothing")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch CPU threads (default: the CPU count)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation and augmentation seed")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key in every config")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.threads < 1:
        raise gs.ConfigError(f"--threads must be at least 1, got {args.threads}")
    try:
        from groupsup_baselines.compare import compare
    except ImportError as err:
        raise gs.PluginError("groupsup reproduce fonts needs the groupsup-baselines plugin "
                             "(pip install -e plugins/groupsup-baselines)") from err
    budget = args.budget_per_config or (QUICK_BUDGET if args.quick else BUDGET_PER_CONFIG)
    if budget <= 0:
        raise gs.ConfigError(f"--budget-per-config must be positive seconds, got {budget:g}")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    command = canonical_command(args, budget)
    base = gs.load_config(comparison_base(), [
        "dataset.split=protocol", "train.progress=false", f"train.threads={args.threads}",
        *(QUICK if args.quick else []), *args.overrides]).to_dict()
    configs = variant_configs(base)
    for config in configs.values():  # every config valid before anything is removed
        gs.load_config(config)
    prepare_out(out, args.overwrite)
    document: dict[str, Any] = {
        "status": "running", "command": command, "quick": args.quick,
        "budget_per_config": budget, "machine": machine(), "stages": {}}
    atomic_write_text(out / MARKER, json.dumps(document, indent=2))
    paths = []
    for name, config in configs.items():
        paths.append(out / "configs" / f"{name}.json")
        atomic_write_text(paths[-1], json.dumps(config, indent=2))

    stage = time.perf_counter()
    options = (gs.EvalOptions(classifier_steps=QUICK_CLASSIFIER_STEPS, max_examples=24,
                              leakage_examples=16, coprediction_examples=200, code_metrics=(),
                              sheet_rows=6, seed=args.seed) if args.quick else
               gs.EvalOptions(classifier_steps=CLASSIFIER_STEPS,
                              classifier_budget=CLASSIFIER_BUDGET, seed=args.seed))
    print(f"groupsup reproduce fonts: {len(paths)} configs x {budget:g} s of training, "
          f"protocol split, into {out}", flush=True)
    compared = compare(paths, budget=budget, out=out / "compare", options=options,
                       progress=True, command=command)
    document["stages"]["compare"] = round(time.perf_counter() - stage, 1)

    stage = time.perf_counter()
    steps = QUICK_CLASSIFIER_STEPS if args.quick else CLASSIFIER_STEPS
    print("augmentation: classifiers on real, standard-augmented and GSL-balanced sets",
          flush=True)
    augmented = augmentation.run_experiment(augmentation.parse_args([
        "--checkpoint", str(out / "compare" / "gzsnet"), "--classifier-steps", str(steps),
        "--seed", str(args.seed), "--threads", str(args.threads),
        "--out", str(out / "augmentation")]))
    document["stages"]["augmentation"] = round(time.perf_counter() - stage, 1)

    document["stages"]["total"] = round(time.perf_counter() - started, 1)
    document.update(status="done", compare=compared["rows"], augmentation=augmented["results"],
                    machine_at_end=machine())
    write_report(out, document, compared, augmented)
    atomic_write_text(out / MARKER, json.dumps(document, indent=2))
    gs.write_html(out / "report.md")
    print(f"done in {document['stages']['total']:.0f} s: see {out / 'report.md'} or "
          f"{out / 'report.html'}")
    return 0


COMMAND = gs.Command(
    help="the paper's Fonts experiments at CPU scale (52 min measured on 2 cores): GZS-Net "
    "against ablations and baselines, augmentation, one report",
    configure=configure, run=run,
    description="Train GZS-Net, its no-swap and no-cover ablations, AE+DS and beta-VAE on "
    "Fonts-mini with our held-out protocol split for --budget-per-config seconds each, "
    "evaluate each (held-out MSE/PSNR/SSIM, swap accuracy, leakage, co-prediction), run the "
    "augmentation experiment with the GZS-Net run, and write OUT/report.md and report.html. "
    "See docs/results.md.")
