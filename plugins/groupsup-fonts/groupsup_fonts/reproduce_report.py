"""The report of ``groupsup reproduce fonts``: ``OUT/report.md`` (the HTML follows from it).

It reads what the stages wrote: ``OUT/compare/<run>/eval/metrics.json`` (one per config),
``OUT/compare/gzsnet/split.json`` and the augmentation document; the GZS-Net evaluation's
sheets are copied beside the report so that both files stand alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import groupsup as gs
from groupsup.fileio import atomic_write_text

SHEETS = ("synthesis.png", "coprediction.png", "leakage.png", "reconstructions.png")


def _evaluation(out: Path, run: str) -> dict[str, Any]:
    return json.loads((out / "compare" / run / "eval" / "metrics.json").read_text())


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _comparison(rows: list[dict[str, Any]], out: Path) -> list[str]:
    lines = ["| run | loss | steps | train s | eval s | held-out MSE | PSNR (dB) | SSIM | "
             "best provider PSNR | swap accuracy | all five right | leakage | "
             "co-prediction diag. | off-diag. | recon PSNR |",
             "|" + "---|" * 15]
    for r in rows:
        metrics = _evaluation(out, r["name"])
        name = r["name"] + (" (searched partition)" if r["searched_partition"] else "")
        lines.append(
            f"| {name} | {r['loss']} | {r['steps']} | {r['train_seconds']:.0f} | "
            f"{metrics['timing']['seconds']:.0f} | {_num(r['mse'], 4)} | {_num(r['psnr'], 2)} | "
            f"{_num(r['ssim'])} | {_num(r['best_provider_psnr'], 2)} | "
            f"{_num(r['swap_accuracy'])} | {_num(r['swap_all_correct'])} | "
            f"{_num(r['leakage'])} | {_num(r['coprediction_diagonal'])} | "
            f"{_num(r['coprediction_off_diagonal'])} | {_num(r['reconstruction_psnr'], 2)} |")
    return lines


def _attributes(metrics: dict[str, Any]) -> list[str]:
    swap, judge = metrics["swap_accuracy"], metrics["classifier"]
    lines = ["| attribute | swap accuracy | judge on real images | chance | reliable |",
             "|---|---|---|---|---|"]
    for k, name in enumerate(swap["attributes"]):
        lines.append(f"| {name} | {_num(swap['accuracy'][k])} | {_num(judge['accuracy'][k])} | "
                     f"{_num(judge['chance'][k])} | "
                     f"{'no' if name in judge['unreliable'] else 'yes'} |")
    return lines


def _dataset(out: Path, metrics: dict[str, Any]) -> str:
    split = gs.Split.from_dict(json.loads((out / "compare" / "gzsnet" / "split.json")
                                          .read_text()))
    options = metrics["config"]["dataset"]["options"]
    data = metrics["dataset"]
    return (f"Fonts-mini: {data['examples']} images of {options['image_size']} px (letters "
            f"{options['letters']}, 3 sizes, font colours {', '.join(options['font_colors'])}, "
            f"backgrounds {', '.join(options['back_colors'])}, fonts "
            f"{', '.join(options['fonts'])}). Split: {split.description}; {len(split.train)} "
            f"training images, {len(split.test)} held-out images of {len(split.held_out)} "
            "attribute combinations never seen in training, every single value seen.")


def write_report(out: Path, document: dict[str, Any], compared: dict[str, Any],
                 augmented: dict[str, Any]) -> Path:
    """Write ``out/report.md`` from the reproduction *document* (command, machine, stage
    times), ``compare``'s *compared* document and the augmentation's *augmented* one."""
    eval_dir = out / "compare" / "gzsnet" / "eval"
    for sheet in SHEETS:
        shutil.copyfile(eval_dir / sheet, out / sheet)
    gzsnet = _evaluation(out, "gzsnet")
    timings = [f"| {r['name']}: training, evaluation | {r['train_seconds']:.0f}, "
               f"{_evaluation(out, r['name'])['timing']['seconds']:.0f} |"
               for r in compared["rows"]]
    missing = len(augmented["missing_combinations"])
    m, stages = document["machine"], document["stages"]
    co = gzsnet["coprediction"]
    generator = augmented["generator"]
    saw = generator.get("saw_missing_combinations")
    quick = ("\n**--quick**: a pipeline check on a tiny Fonts with a tiny judge; these numbers "
             "mean nothing.\n" if document["quick"] else "")
    text = "\n".join([
        "# The paper's Fonts experiments at CPU scale", quick,
        f"Command: `{document['command']}`", "",
        f"Machine: {m['platform']} ({m['processor']}), {m['cpu_count']} CPUs, "
        f"{m['torch_threads']} torch threads; Python {m['python']}, torch {m['torch']}, "
        f"groupsup {m['groupsup']}. One-minute load average {_num(m['load_average_1min'], 2)} "
        f"at the start, {_num(document['machine_at_end']['load_average_1min'], 2)} at the end.",
        "", _dataset(out, gzsnet), "",
        "| stage | wall time (s) |", "|---|---|",
        *timings,
        f"| compare in all (set-up and rendering included) | {stages['compare']:.0f} |",
        f"| augmentation | {stages['augmentation']:.0f} |",
        f"| total | {stages['total']:.0f} |", "",
        f"Every config trained for {document['budget_per_config']:g} s.", "",
        "## Zero-shot synthesis of held-out combinations (GZS-Net)", "",
        "![synthesis: providers, synthesis, truth](synthesis.png)", "",
        "Each row: the five training images that provide the letter, size, font colour, "
        "background colour and font blocks, the synthesised image, and the rendered ground "
        "truth of that combination, which training never saw.", "",
        "## GZS-Net against its ablations and the baselines", "",
        *_comparison(compared["rows"], out), "",
        "Held-out MSE (images in [-1, 1]), PSNR and SSIM: synthesis of the held-out "
        "combinations against their ground truth; best provider PSNR: simply copying the best "
        "of the five provider images. Swap accuracy: the independent judge (trained on real "
        "images) recognises the requested values (mean over attributes). Leakage: how often "
        "swapping one block moves another attribute (off-diagonal mean; 0 is ideal). "
        "Co-prediction: held-out probe accuracy of each latent block for its own attribute "
        "(diagonal) and the others (off-diagonal). beta-VAE has no trained partition: its "
        "dimensions are assigned to attributes by a search on its training codes.", "",
        "## Swap accuracy by attribute and leakage (GZS-Net)", "",
        *_attributes(gzsnet), "",
        f"All five attributes right at once: {_num(gzsnet['swap_accuracy']['all_correct'])}. "
        "An attribute the judge reads below 0.9 on real images (or within 0.1 of chance) is "
        "marked unreliable.", "",
        "![leakage](leakage.png)", "",
        "## Co-prediction (GZS-Net)", "",
        "![co-prediction](coprediction.png)", "",
        f"Diagonal mean {_num(co['diagonal_mean'])}, off-diagonal mean "
        f"{_num(co['off_diagonal_mean'])}.", "",
        "## Data augmentation", "",
        "Classifiers of letter and font colour trained on an unbalanced real set "
        f"({missing} letter x font-colour combinations missing), on it plus standard "
        "augmentation, and on it plus GZS-Net syntheses of the missing combinations; tested "
        "on a balanced set.",
        "", augmented["table"], "",
        "The generator is the GZS-Net run above; its training split "
        + ("contained" if saw else "did not contain")
        + " images of the combinations missing here"
        + (" (so it had seen them: a weaker test than the paper's)." if saw else "."), "",
        "## Files", "",
        "`reproduce.json` (command, machine, stage times, every row), `compare/compare.md` and "
        "`compare/compare.json` (full configs), `compare/<run>/eval/report.html` (each run's "
        "evaluation), `augmentation/augmentation.json`, `configs/` (the five configs).", ""])
    return atomic_write_text(out / "report.md", text)
