"""``groupsup demo``: Fonts-mini, zero-shot held-out combinations, GZS-Net on a CPU budget.

1. renders Fonts-mini (composition in ``demo.toml`` beside this file: eight faces that ship
   with matplotlib, pinned in constraints.txt, and never the system's fonts, so the data is
   byte-identical on every machine; its fingerprint is printed, stored and compared with the
   README's run, :data:`README_FINGERPRINT`);
2. holds out attribute combinations (``dataset.split`` of ``demo.toml``: a random 10% of the
   combinations; ``protocol`` is the harder rule-based split) while every value stays in
   training;
3. trains a CPU-sized swap autoencoder with the GSL losses (recon + swap + cover) within the
   time budget;
4. evaluates: zero-shot synthesis of the held-out combinations against their rendered ground
   truth (MSE / PSNR / SSIM), swap accuracy judged by an independent classifier trained on
   real images, co-prediction of attributes from latent blocks;
5. writes ``runs/demo/report.md`` linking every sheet and number, and ``report.html`` with
   the images inlined (one self-contained file).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import groupsup as gs
from groupsup.machine import describe
from groupsup_fonts.discovery import discover_fonts
from groupsup_fonts.fingerprint import dataset_fingerprint

# seconds the evaluation after training needs on 2 CPU cores (judge of 1,500 steps included:
# 19 s measured on the AVX-512 machine of 2026-12-01, 37 s on the AVX2 machine of 2026-12-02,
# each from the end of training to the report on a fresh clone), plus a margin; the training
# budget is what is left of the total
EVAL_RESERVE = 45.0
# the judge trains for a fixed number of steps (no time budget), so the demo's numbers do not
# depend on the machine's speed
CLASSIFIER_STEPS = 1500
# A budget from SMOKE_BUDGET up to EVAL_RESERVE + 30 s is a smoke run: it checks that the demo
# runs end to end (the install check, tools/check_install.sh, runs `--budget 60`), and its
# numbers mean nothing. Its judge trains SMOKE_CLASSIFIER_STEPS steps, so the evaluation needs
# at most about SMOKE_EVAL_RESERVE s (on the AVX-512 machine of 2026-12-07: 6 s idle, 27-37 s
# while other work loaded its 2 cores), and training gets what is left (at least 10 s).
SMOKE_BUDGET = 60.0
SMOKE_CLASSIFIER_STEPS = 300
SMOKE_EVAL_RESERVE = 30.0
# the fingerprint (groupsup_fonts.fingerprint) of the data the README's table was measured on;
# tests/test_demo_fingerprint.py renders demo.toml's dataset and checks it
README_FINGERPRINT = "f271e57758166fed"


def demo_config() -> dict[str, Any]:
    """The CPU demo's experiment config (``groupsup_fonts/demo.toml``) as a dict, defaults
    filled in."""
    with resources.as_file(resources.files("groupsup_fonts") / "demo.toml") as path:
        return gs.load_config(path).to_dict()


def add_system_fonts(config: gs.ExperimentConfig, extra: int) -> gs.ExperimentConfig:
    """*config* with up to *extra* of the system's font families added to its fonts (the
    most different first), as ``groupsup demo --extra-fonts`` does; unchanged for 0. The
    data then depends on the machine's fonts (the fingerprint says so)."""
    if extra > 0:
        chosen = list(config.dataset.options["fonts"])
        added = [face.name for face in discover_fonts().diverse_order()
                 if face.source == "system" and face.name not in chosen][:extra]
        config.dataset.options = {**config.dataset.options, "fonts": chosen + added,
                                  "system_fonts": True}
    return config


def fingerprint_line(fingerprint: dict[str, Any]) -> str:
    """The console's line about the data: its fingerprint, and whether it is the README's."""
    if fingerprint["id"] is None:
        return f"no dataset fingerprint ({fingerprint.get('why_none')})"
    if fingerprint["id"] == README_FINGERPRINT:
        return (f"dataset fingerprint {fingerprint['id']}: the same data as the README's run")
    return (f"dataset fingerprint {fingerprint['id']} differs from the README's run "
            f"({README_FINGERPRINT}): other fonts or another renderer, so its numbers do not "
            "compare with the README's table")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", type=float, default=600.0,
                        help="total wall-clock budget in seconds (default 600); training gets "
                        f"what the evaluation (~{EVAL_RESERVE:.0f} s) leaves; "
                        f"{SMOKE_BUDGET:.0f} to {EVAL_RESERVE + 30:.0f} s is a smoke run that "
                        "checks the demo runs (its numbers mean nothing)")
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--extra-fonts", type=int, default=0, metavar="K",
                        help="add up to K of the system's font families to demo.toml's eight "
                        "matplotlib faces (default 0: the data is then the same on every "
                        "machine; K > 0 makes it depend on the machine's fonts)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a key of the demo config")


def budget_plan(budget: float) -> tuple[bool, float, int]:
    """``(smoke, evaluation reserve in s, judge steps)`` for a total *budget* in seconds; a
    :class:`~groupsup.errors.ConfigError` under :data:`SMOKE_BUDGET`."""
    if budget < SMOKE_BUDGET:
        raise gs.ConfigError(f"--budget {budget:g}: the demo needs at least "
                             f"{EVAL_RESERVE + 30:.0f} s (evaluation takes ~{EVAL_RESERVE:.0f}); "
                             f"{SMOKE_BUDGET:.0f} s is the least for a smoke run whose numbers "
                             "mean nothing")
    if budget < EVAL_RESERVE + 30:
        return True, SMOKE_EVAL_RESERVE, SMOKE_CLASSIFIER_STEPS
    return False, EVAL_RESERVE, CLASSIFIER_STEPS


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    smoke, reserve, judge_steps = budget_plan(args.budget)
    out = Path(args.out)
    overrides = [f"train.out={out / 'run'}", *args.overrides]
    config = add_system_fonts(gs.load_config(demo_config(), overrides), args.extra_fonts)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    print("groupsup demo: Fonts-mini, zero-shot synthesis of held-out combinations", flush=True)
    trainer = gs.Trainer(config)
    data, schema = trainer.resolved.dataset, trainer.resolved.dataset.schema
    split = trainer.resolved.split
    print(f"  dataset: {len(data)} images of {data.image_shape[1]} px; "
          + ", ".join(f"{a.name} {len(a.values)}" for a in schema.attributes))
    print(f"  fonts: {', '.join(schema['font'].values)}")
    try:
        fingerprint = dataset_fingerprint(config.dataset.options)
    except gs.DataError as err:  # e.g. --set dataset.options.root=TREE: nothing to hash
        fingerprint = {"id": None, "fonts": None, "plan": None, "store": None,
                       "why_none": str(err)}
    print(f"  {fingerprint_line(fingerprint)}")
    print(f"  split: {len(split.train)} training images, {len(split.test)} held-out images of "
          f"{len(split.held_out)} unseen combinations", flush=True)
    if smoke:
        print(f"  {SMOKE_NOTE.format(budget=args.budget)}", flush=True)
    setup = time.perf_counter() - started
    budget = args.budget - reserve - setup
    trainer.config.train.time_budget = max(10.0, budget)
    print(f"  training for up to {trainer.config.train.time_budget:.0f} s "
          f"(set-up took {setup:.0f} s)", flush=True)
    result = trainer.fit()
    print(f"  trained {result.step} steps in {result.wall_time:.0f} s "
          f"(final loss {result.last.get('loss', float('nan')):.4f})", flush=True)

    print("  evaluating ...", flush=True)
    metrics = gs.evaluate_run(result.run_dir, dataset=data, out=result.run_dir / "eval",
                              options=gs.EvalOptions(classifier_steps=judge_steps))
    total = time.perf_counter() - started
    summary = {**_summary(metrics, result, total, data, split),
               "dataset_fingerprint": fingerprint, "machine": metrics["training_machine"],
               "smoke": SMOKE_NOTE.format(budget=args.budget) if smoke else None}
    gs_write(out / "metrics.json", json.dumps({**summary, "details": metrics}, indent=2))
    gs_write(out / "report.md", _report(summary, result.run_dir, out))
    for name in ("synthesis.png", "reconstructions.png", "coprediction.png", "leakage.png"):
        shutil.copyfile(result.run_dir / "eval" / name, out / name)
    gs.write_html(out / "report.md")
    for line in _measures(summary):
        print(f"  {line}")
    print(f"done in {total:.0f} s: {summary['headline']}"
          + (" (a smoke run: its numbers mean nothing)" if smoke else ""))
    print(f"see {out / 'report.md'} or {out / 'report.html'} (sheet: {out / 'synthesis.png'})")
    print(f"explore it interactively: groupsup explore {result.run_dir}")
    return 0


SMOKE_NOTE = (f"smoke run: --budget {{budget:g}} is under {EVAL_RESERVE + 30:.0f} s, so training "
              f"is cut short and the judge trains {SMOKE_CLASSIFIER_STEPS} of its "
              f"{CLASSIFIER_STEPS} steps; this checks that the demo runs, its numbers mean "
              "nothing (default --budget 600)")


def gs_write(path: Path, text: str) -> None:
    from groupsup.fileio import atomic_write_text

    atomic_write_text(path, text)


def _summary(metrics: dict[str, Any], result: gs.RunResult, total: float,
             data: gs.GroupDataset, split: gs.Split) -> dict[str, Any]:
    swap = metrics["swap_accuracy"]
    classifier = metrics["classifier"]
    artefacts = metrics["synthesis"].get("artefacts")
    return {
        "images": len(data), "image_size": data.image_shape[1],
        "vocabularies": {a.name: list(a.values) for a in data.schema.attributes},
        "train_images": len(split.train), "held_out_images": len(split.test),
        "held_out_combinations": len(split.held_out), "split": split.description,
        "steps": result.step,
        "train_seconds": round(result.wall_time, 1), "total_seconds": round(total, 1),
        "final_loss": result.last.get("loss"),
        "zero_shot_mse": metrics["synthesis"]["mse"],
        "zero_shot_psnr": metrics["synthesis"]["psnr"],
        "zero_shot_ssim": metrics["synthesis"]["ssim"],
        "best_provider_psnr": metrics["synthesis"]["baseline_best_provider_psnr"],
        "reconstruction_psnr": metrics["reconstruction"]["psnr"],
        "swap_accuracy": dict(zip(swap["attributes"], swap["accuracy"])),
        "swap_all_correct": swap["all_correct"],
        "classifier_accuracy_real": dict(zip(classifier["attributes"],
                                             classifier["accuracy"])),
        "classifier_chance": dict(zip(classifier["attributes"], classifier["chance"])),
        "judge_unreliable": classifier["unreliable"],
        "leakage": metrics["leakage"]["off_diagonal_mean"],
        "leakage_matrix": {k: metrics["leakage"][k]
                           for k in ("blocks", "attributes", "matrix", "counts")},
        "artefacts": artefacts,
        "artefact_rate": None if artefacts is None else artefacts["rate"],
        "headline": metrics["headline"]["text"],
        "coprediction_diagonal": metrics["coprediction"]["diagonal_mean"],
        "coprediction_off_diagonal": metrics["coprediction"]["off_diagonal_mean"],
        "coprediction_off_diagonal_chance": metrics["coprediction"]["off_diagonal_chance"],
        "coprediction_off_diagonal_excess_max":
            metrics["coprediction"]["off_diagonal_excess_max"],
    }


def _measures(s: dict[str, Any]) -> list[str]:
    """The demo's measures on the held-out combinations, one line each (the console)."""
    leak = s["leakage_matrix"]
    width = max(len(b) for b in leak["blocks"])
    lines = ["swap accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in s["swap_accuracy"].items())
             + f"; all five right at once {s['swap_all_correct']:.3f}",
             f"zero-shot SSIM {s['zero_shot_ssim']:.3f}, PSNR {s['zero_shot_psnr']:.2f} dB "
             f"(best single provider {s['best_provider_psnr']:.2f} dB)",
             "leakage (row: block swapped in; column: attribute that followed it):",
             " " * (width + 2) + " ".join(f"{a[:10]:>10}" for a in leak["attributes"])]
    lines += [f"  {b:<{width}} " + " ".join("       n/a" if v is None else f"{v:10.3f}"
                                           for v in row)
              for b, row in zip(leak["blocks"], leak["matrix"])]
    if s["artefacts"] is not None:
        a = s["artefacts"]
        lines.append(f"colour artefacts {a['percent']:.3f}% of pixels; "
                     f"{a['images_with_clusters']} of {a['n']} images with >= "
                     f"{a['config']['cluster']} connected")
    lines.append(f"co-prediction off-diagonal {s['coprediction_off_diagonal']:.3f} against "
                 f"chance {s['coprediction_off_diagonal_chance']:.3f} (largest entry above its "
                 f"chance by {s['coprediction_off_diagonal_excess_max']:.3f}; diagonal "
                 f"{s['coprediction_diagonal']:.3f})")
    return lines


def _fingerprint_text(fingerprint: dict[str, Any]) -> str:
    """The report's record of the data: each font file's SHA-256 and the store's."""
    if fingerprint["id"] is None:
        return f"Data: no fingerprint ({fingerprint.get('why_none')})."
    fonts = ", ".join(f"{f['name']} (`{f['file']}`, `{f['sha256'][:12]}`)"
                      for f in fingerprint["fonts"] or [])
    return (f"Data: fonts {fonts or 'from a given store'}; image and label arrays SHA-256 "
            f"`{fingerprint['store'][:16]}`; fingerprint `{fingerprint['id']}`.")


def _report(s: dict[str, Any], run_dir: Path, out: Path) -> str:
    vocab = "\n".join(f"| {k} | {len(v)} | {', '.join(map(str, v))} |"
                      for k, v in s["vocabularies"].items())
    attrs = list(s["swap_accuracy"])
    rows = "\n".join(
        f"| {a} | {s['swap_accuracy'][a]:.3f} | {s['classifier_accuracy_real'][a]:.3f} | "
        f"{s['classifier_chance'][a]:.3f} | {'no' if a in s['judge_unreliable'] else 'yes'} |"
        for a in attrs)
    leak = "n/a" if s["leakage"] is None else f"{s['leakage']:.3f}"
    matrix = s["leakage_matrix"]
    leak_table = "\n".join(
        ["| block | " + " | ".join(matrix["attributes"]) + " |",
         "|---|" + "---|" * len(matrix["attributes"])]
        + [f"| {b} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in row) + " |"
           for b, row in zip(matrix["blocks"], matrix["matrix"])])
    a = s["artefacts"]
    artefacts = "" if a is None else (
        f"| colour artefacts: pixels off the font/background colour segment by > "
        f"{a['config']['threshold']:g}, outside the glyph's edge band | {a['percent']:.3f}% |\n"
        f"| images with >= {a['config']['cluster']} connected artefact pixels | "
        f"{a['images_with_clusters']} of {a['n']} |")
    samples = sorted((run_dir / "samples").glob("*.png"))
    last_sample = samples[-1].relative_to(out) if samples else None
    return f"""# groupsup demo: zero-shot synthesis on Fonts-mini

{f"**{s['smoke'][0].upper()}{s['smoke'][1:]}.**{chr(10) * 2}" if s['smoke'] else ''}\
{s['images']} images of {s['image_size']} px (dataset fingerprint
`{s['dataset_fingerprint']['id']}`{'' if s['dataset_fingerprint']['id'] == README_FINGERPRINT
else f", not the README's `{README_FINGERPRINT}`"}); {s['train_images']} for training,
{s['held_out_images']} held out ({s['held_out_combinations']} attribute combinations never seen
in training; split: {s['split']}). Trained {s['steps']} steps in
{s['train_seconds']:.0f} s on {describe(s['machine']) if s['machine'] else 'an unrecorded machine'};
the whole demo took {s['total_seconds']:.0f} s.

**Headline**: {s['headline']}.

| attribute | values | vocabulary |
|---|---|---|
{vocab}

{_fingerprint_text(s['dataset_fingerprint'])}

## Zero-shot synthesis of held-out combinations

![synthesis](synthesis.png)

Each row: the five images that provide the letter, size, font colour, background colour and
font blocks (all from the training split), the synthesised image, and the rendered ground truth
of that unseen combination.

| metric | value |
|---|---|
| PSNR, synthesis vs ground truth | {s['zero_shot_psnr']:.2f} dB |
| SSIM | {s['zero_shot_ssim']:.3f} |
| MSE (images in [-1, 1]) | {s['zero_shot_mse']:.4f} |
| baseline: best of the five provider images, PSNR | {s['best_provider_psnr']:.2f} dB |
| reconstruction PSNR (training images) | {s['reconstruction_psnr']:.2f} dB |
{artefacts}

## Swap accuracy (independent classifier)

A small CNN (the judge) trained on real rendered images (held-out combinations included)
names each attribute of the synthesised images; accuracy is how often it sees the requested
value. Its own accuracy is measured on real images it did not train on; an attribute it reads
below 0.9 (or within 0.1 of chance) is marked unreliable.

| attribute | synthesised | judge on real images | chance | reliable |
|---|---|---|---|---|
{rows}

All five attributes right at once: {s['swap_all_correct']:.3f}.

## Leakage

![leakage](leakage.png)

Rate at which the attribute a column names follows the provider of the block a row names
(block swapped into a base image); off-diagonal mean {leak} (0 is ideal).

{leak_table}

## Co-prediction

![co-prediction](coprediction.png)

Held-out accuracy of a probe predicting each attribute (columns) from each latent block (rows):
diagonal mean {s['coprediction_diagonal']:.3f}, off-diagonal mean
{s['coprediction_off_diagonal']:.3f}.

## Reconstructions and training samples

![reconstructions](reconstructions.png)

{f'![last training sample sheet]({last_sample})' if last_sample else ''}

Files: `metrics.json` (every number, with the run's config), `run/` (checkpoints,
`metrics.jsonl`, sample sheets, `eval/`).
"""


COMMAND = gs.Command("the main job: train GZS-Net on Fonts-mini on the CPU and show zero-shot "
                     "synthesis", configure, run)


def main() -> int:  # pragma: no cover - `python -m groupsup_fonts.demo`
    parser = argparse.ArgumentParser(prog="groupsup demo")
    configure(parser)
    return run(parser.parse_args())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
