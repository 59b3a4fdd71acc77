"""The experiment report of an evaluated run: ``report.md`` and a self-contained ``report.html``.

:func:`write_report` is called by :func:`groupsup.evaluate_run`; it writes, beside
``metrics.json`` (one evaluation folder):

- ``training_curves.png``: the total loss and every term from ``RUN/metrics.jsonl``;
- ``report.md``: the config, the curves, the sample sheets and every metric of the evaluation,
  with images linked by relative path;
- ``report.html``: the same document with every image inlined as a base64 ``data:`` URI, so the
  file can be mailed or archived alone.

The HTML is rendered from the Markdown by :func:`markdown_to_html` with markdown-it-py
(CommonMark with pipe tables; raw HTML in the text is escaped), so any other Markdown report
(the Fonts demo's) can reuse it through :func:`write_html`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

from groupsup.evaluate.latent import summary_line
from groupsup.fileio import atomic_write_text
from groupsup.machine import describe, differences
from groupsup.train.curves import CURVES_FILE, plot_training_curves, read_log


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_num(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), base.resolve())).as_posix()


def build_markdown(run_dir: Path, metrics: dict[str, Any], out: Path) -> str:
    """The report of one evaluated run as Markdown (images linked relative to *out*)."""
    records = read_log(run_dir)
    curves = plot_training_curves(records, out / CURVES_FILE)
    parts = [*_summary(run_dir, metrics, records),
             "## Training curves",
             f"![training curves]({CURVES_FILE})" if curves else "No `metrics.jsonl` in the run.",
             *_synthesis_section(metrics), *_judge_section(metrics["classifier"]),
             *_swap_section(metrics), *_leakage_section(metrics), *_coprediction_section(metrics)]
    if "free_leakage" in metrics:
        parts += _free_section(metrics)
    if "disentanglement" in metrics:
        parts += ["## Disentanglement metrics",
                  "Standard scores of the training codes (definitions and floors in "
                  "docs/evaluation.md): " + summary_line(metrics["disentanglement"]) + "."]
    parts += _closing(run_dir, metrics, out)
    return "\n\n".join(parts) + "\n"


def _summary(run_dir: Path, metrics: dict[str, Any], records: list[dict[str, Any]]
             ) -> list[str]:
    """Title, headline, the judge's reliability, what was evaluated and where."""
    config, data, evaluation = metrics["config"], metrics["dataset"], metrics["evaluation"]
    flagged = metrics["classifier"]["unreliable"]
    last = records[-1] if records else {}
    loss = config["loss"]["recipe"] if config["loss"]["terms"] is None else "custom terms"
    return [
        f"# Evaluation report: {config.get('name', run_dir.name)}",
        f"**Headline**: {metrics['headline']['text']}.",
        ("**Warning: the judge is unreliable for " + ", ".join(f"`{a}`" for a in flagged)
         + "** (real-image accuracy below 0.9 or within 0.1 of chance): swap accuracy and "
         "leakage of these attributes say little." if flagged else
         "The judge reads every attribute of real images it did not train on reliably "
         "(accuracy at least 0.9 and more than 0.1 above chance)."),
        f"Run `{run_dir}`: dataset `{config['dataset']['name']}` ({data['examples']} examples, "
        f"{data['train']} for training, {data['test']} held out), backbone "
        f"`{config['model']['backbone']}`, loss `{loss}`, "
        f"{last.get('step', 'n/a')} steps logged. Evaluated partition: "
        + ", ".join(f"{k} {v}" for k, v in evaluation["partition"].items())
        + (f" (adapted by `{evaluation['adapt']}`)" if evaluation.get("adapt") else "") + ".",
        _machine_line(metrics)]


def _synthesis_section(metrics: dict[str, Any]) -> list[str]:
    synth, recon = metrics["synthesis"], metrics["reconstruction"]
    novel = synth.get("novel_values")
    return [
        "## Zero-shot synthesis",
        ("Held-out combinations" if synth["held_out"] else "Training examples (no split)")
        + f": {synth['n']} targets, each assembled block by block from training examples that "
        "show the wanted value of that block's attribute."
        + ("" if not novel else
           " Values never seen in training (" + ", ".join(
               f"{a}: {k} targets" for a, k in novel.items())
           + ") came from other *test* images of that value: those blocks measure transfer to "
           "unseen values, not zero-shot synthesis from training alone."),
        _table(["metric", "value"], [
            ["PSNR (dB)", synth["psnr"]], ["SSIM", synth["ssim"]], ["MSE", synth["mse"]],
            ["best single provider PSNR (dB)", synth["baseline_best_provider_psnr"]],
            ["another real image of the same combination, PSNR (dB)",
             synth.get("instance_reference_psnr")],
            ["another real image of the same combination, SSIM",
             synth.get("instance_reference_ssim")],
            ["reconstruction PSNR (dB), training images", recon["psnr"]],
            ["reconstruction SSIM", recon["ssim"]],
            # the measures of the syntheses plugins register (e.g. Fonts' colour artefacts)
            *([f"{name}: {key}", value]
              for name in metrics["evaluation"].get("synthesis_metrics", [])
              for key, value in synth[name].items() if isinstance(value, int | float))]),
        "![synthesis](synthesis.png)",
        "Each row: the attribute providers, the synthesis, the ground truth."]


def _judge_section(classifier: dict[str, Any]) -> list[str]:
    config, flagged = classifier["config"], classifier["unreliable"]
    held = classifier["held_out_accuracy"]
    return [
        "## Judge (independent attribute classifier)",
        f"Trained on {_judge_source(config)}; scored on {config['scored']} real images it did "
        "not train on"
        + (f" ({config['folds']}-fold cross-validation)" if config["folds"] > 1 else "") + "."
        + (" Its training hit the time budget before its step count: these numbers depend "
           "on the machine's speed." if config["budget_hit"] else ""),
        _table(["attribute", "real-image accuracy", "chance", "on held-out combinations",
                "reliable"],
               [[a, acc, ch, "n/a" if held is None else held[i],
                 "**no**" if a in flagged else "yes"]
                for i, (a, acc, ch) in enumerate(zip(classifier["attributes"],
                                                     classifier["accuracy"],
                                                     classifier["chance"]))])]


def _swap_section(metrics: dict[str, Any]) -> list[str]:
    swap, flagged = metrics["swap_accuracy"], metrics["classifier"]["unreliable"]
    return [
        "## Swap accuracy",
        _table(["attribute", "synthesised", "judge on real images", "ratio", "reliable"],
               [[a, s, c, r, "**no**" if a in flagged else "yes"]
                for a, s, c, r in zip(swap["attributes"], swap["accuracy"],
                                      swap["judge_accuracy"], swap["ratio"])]),
        f"Mean {_num(swap['mean'])}; all attributes right at once {_num(swap['all_correct'])}. "
        "The ratio divides by the judge's real-image accuracy (1: the syntheses read as well "
        "as real images)."]


def _leakage_section(metrics: dict[str, Any]) -> list[str]:
    leak, flagged = metrics["leakage"], metrics["classifier"]["unreliable"]
    return [
        "## Leakage",
        "Rows: the block swapped in from a provider (all other blocks from the base image); "
        "columns: the attribute the judge reads. Each entry is the rate at which the reading "
        "follows the provider instead of the base, over the pairs whose provider and base "
        "differ in that attribute. Diagonal: swap success (higher is better, mean "
        f"{_num(leak['diagonal_mean'])}); off-diagonal: leakage (lower is better, mean "
        f"{_num(leak['off_diagonal_mean'])})."
        + (" Columns marked * are read by an unreliable judge." if flagged else ""),
        _table(["block", *leak["attributes"]],
               [[b, *row] for b, row in zip(leak["blocks"], leak["matrix"])]),
        "![leakage](leakage.png)"]


def _coprediction_section(metrics: dict[str, Any]) -> list[str]:
    co = metrics["coprediction"]
    return [
        "## Co-prediction",
        "Held-out accuracy of a probe predicting each attribute (columns) from each latent "
        f"block (rows): diagonal mean {_num(co['diagonal_mean'])}, off-diagonal mean "
        f"{_num(co['off_diagonal_mean'])}; normalised (0 = chance, 1 = perfect) "
        f"{_num(co['normalized_diagonal_mean'])} and {_num(co['normalized_off_diagonal_mean'])}.",
        _table(["block", *co["attributes"]],
               [[b, *row] for b, row in zip(co["blocks"], co["matrix"])]
               + [["chance", *co["chance"]]]),
        "![co-prediction](coprediction.png)"]


def _closing(run_dir: Path, metrics: dict[str, Any], out: Path) -> list[str]:
    """Reconstructions, the last training sheet, synthesis per combination and the config."""
    parts = ["## Reconstructions and training samples", "![reconstructions](reconstructions.png)"]
    samples = sorted((run_dir / "samples").glob("*.png"))
    if samples:
        parts.append(f"![last training sample sheet]({_relative(samples[-1], out)})")
    per_combination = metrics["synthesis"]["per_combination"]
    names = per_combination[0]["combination"] if per_combination else {}
    rows = [[", ".join(str(v) for v in row["combination"].values()), row["count"], row["psnr"],
             row["ssim"], row["mse"]] for row in per_combination]
    return [
        *parts,
        "## Synthesis per combination",
        _table([" / ".join(names) or "combination", "n", "PSNR", "SSIM", "MSE"], rows),
        "## Config",
        "```json\n" + json.dumps(metrics["config"], indent=2) + "\n```",
        "Every number above is in `metrics.json`, with the evaluation's options."]


def _machine_line(metrics: dict[str, Any]) -> str:
    """Where the run was trained and evaluated (timed numbers compare only on one kind)."""
    trained, here = metrics.get("training_machine"), metrics.get("machine")
    if here is None:
        return "Machine: not recorded."
    if trained is None:
        return f"Evaluated on {describe(here)}; the training machine was not recorded."
    if not differences(trained, here):
        return f"Trained and evaluated on {describe(here)}."
    return f"Trained on {describe(trained)}; evaluated on {describe(here)}."


def _free_section(metrics: dict[str, Any]) -> list[str]:
    """The unlabelled block: its leakage and co-prediction rows, attributes the model does
    not name (docs/evaluation.md, "The unlabelled block")."""
    block = metrics["leakage"]["blocks"][-1]
    free, co = metrics["free_leakage"], metrics["free_coprediction"]
    parts = [
        "## The unlabelled block",
        f"Block `{block}` holds the variation no label names. The held-out syntheses took it "
        "from a random training image (the base), never from the target. Its rows above: "
        "how often each attribute follows its provider (`free_leakage`, ideally 0) and what "
        "a probe reads from it (ideally chance; largest excess "
        f"{_num(co['excess_max'])}).",
        _table(["", *free], [["free_leakage", *free.values()],
                             ["co-prediction", *co["accuracy"].values()],
                             ["chance", *co["chance"].values()]])]
    unnamed = metrics.get("unnamed_attributes")
    if unnamed:
        parts += [
            "Attributes the evaluation's dataset labels and the model was trained without, "
            "read on the syntheses by a judge fitted on every label:",
            _table(["attribute", "follows the unlabelled block's provider",
                    "follows an attribute's provider", "judge on real images", "chance"],
                   [[a, v["follows_free"], v["follows_providers"], v["judge_accuracy"],
                     v["chance"]] for a, v in unnamed["attributes"].items()])]
    return parts


def _judge_source(config: dict[str, Any]) -> str:
    data = config["data"]
    what = {"all": "every real labelled image of the dataset (held-out combinations included)",
            "train": "the real images of the training split only"}.get(data, data)
    return f"{what}, {config['pool']} images, {config['steps']} steps per training"


def write_report(run_dir: str | Path, metrics: dict[str, Any], out: str | Path | None = None
                 ) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` (and the curves) into *out* (default the
    evaluation folder recorded in *metrics*)."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else Path(metrics["out"])
    md = out / "report.md"
    atomic_write_text(md, build_markdown(run_dir, metrics, out))
    return md, write_html(md)


def write_html(markdown_path: str | Path, title: str | None = None) -> Path:
    """Render a Markdown report to a self-contained HTML file beside it (``.html``)."""
    path = Path(markdown_path)
    text = path.read_text()
    heading = next((line[2:] for line in text.splitlines() if line.startswith("# ")), path.stem)
    target = path.with_suffix(".html")
    atomic_write_text(target, markdown_to_html(text, path.parent, title or heading))
    return target


# ---------------------------------------------------------------------- Markdown -> HTML
_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;"
          "line-height:1.45}table{border-collapse:collapse;margin:1em 0}"
          "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
          "td:first-child,th:first-child{text-align:left}img{max-width:100%}"
          "pre{background:#f5f5f5;padding:1em;overflow:auto}figure{margin:1em 0}")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".svg": "image/svg+xml"}


def _figures(state: StateCore) -> None:
    """A paragraph that holds one image and nothing else becomes a ``<figure>``."""
    tokens = state.tokens
    for i in range(len(tokens) - 2):
        opening, inline, closing = tokens[i:i + 3]
        children = inline.children or []
        if (opening.type == "paragraph_open" and not opening.hidden and inline.type == "inline"
                and len(children) == 1 and children[0].type == "image"):
            opening.tag = closing.tag = "figure"
            children[0].meta["figure"] = True


def _inline_image(renderer: RendererHTML, tokens: Sequence[Token], idx: int,
                  options: OptionsDict, env: dict[str, Any]) -> str:
    """An image with a relative path (against ``env["base"]``) inlined as a base64 ``data:``
    URI, its alt text as the caption of a figure; a missing file says so in its place; an
    image with a scheme (``https:``, ``data:``) is left as it is."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if urlsplit(src).scheme:
        return renderer.image(tokens, idx, options, env)
    alt = html.escape(renderer.renderInlineAsText(token.children or [], options, env))
    file = Path(env["base"]) / unquote(src)
    if not file.is_file():
        return f"<em>missing image {html.escape(unquote(src))}</em>"
    mime = _MIME.get(file.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(file.read_bytes()).decode("ascii")
    caption = f"<figcaption>{alt}</figcaption>" if token.meta.get("figure") else ""
    return f'<img alt="{alt}" src="data:{mime};base64,{data}">{caption}'


_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_MARKDOWN.core.ruler.push("figures", _figures)
_MARKDOWN.add_render_rule("image", _inline_image)


def markdown_to_html(text: str, base: Path, title: str) -> str:
    """A self-contained HTML page from CommonMark with pipe tables (markdown-it-py; raw HTML in
    the text is escaped); images (paths relative to *base*) are inlined as base64 data URIs."""
    body = _MARKDOWN.render(text, {"base": base})
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body>\n{body}</body></html>\n")
