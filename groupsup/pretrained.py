"""A model folder anyone can load: weights, config and a generated model card.

:func:`save_pretrained` writes the layout of a Hugging Face Hub model repository, so the
folder can be uploaded as it is (``huggingface_hub.upload_folder``, or ``git push`` to a Hub
repository) and read back by :func:`from_pretrained`, ``gs.load_model`` or
``SwapAutoencoder.load``:

- ``model.safetensors``: the weights (no code is executed on load);
- ``config.json``: the saved-model document of :mod:`groupsup.persistence` (format key, the
  backbone's registry name and options, the schema with its vocabularies, the image shape,
  the plugin the backbone came from);
- ``README.md``: the model card, with the Hub's YAML front matter (``library_name:
  groupsup``, tags), the latent blocks, and, when the model comes from a run, the training
  recipe, the dataset and its fingerprint, the latest evaluation's headline numbers, and how
  to load it;
- from a run also ``training_config.json`` (the experiment config) and ``evaluation.json``
  (the latest evaluation's ``metrics.json``).

The folder is written atomically; an existing non-empty one is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from groupsup.errors import ConfigError
from groupsup.fileio import atomic_directory, atomic_write_text, refuse_taken_folder
from groupsup.model import SwapAutoencoder
from groupsup.persistence import CONFIG_FILE, HUB_CONFIG_FILE, read_json_object
from groupsup.version import __version__

__all__ = ["is_run_dir", "latest_evaluation", "model_card", "save_pretrained"]

TAGS = ("group-supervised-learning", "gzs-net", "disentanglement", "zero-shot-synthesis")


def save_pretrained(model: SwapAutoencoder, folder: str | os.PathLike, *,
                    run: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write *model* as a loadable model folder at *folder* (module docstring); *run*, the run
    directory it was trained in, adds the recipe, the data and the latest evaluation to the
    card. Returns the folder."""
    target = Path(folder)
    refuse_taken_folder(target, overwrite)
    facts = run_facts(Path(run)) if run is not None else {}
    with atomic_directory(target) as staging:
        model.save(staging)
        (staging / CONFIG_FILE).rename(staging / HUB_CONFIG_FILE)
        for name in ("training_config", "evaluation"):
            if facts.get(name) is not None:
                atomic_write_text(staging / f"{name}.json",
                                  json.dumps(facts[name], indent=2) + "\n")
        atomic_write_text(staging / "README.md", model_card(model, facts))
    return target


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether *path* is a training run's directory (its config and checkpoints), whose facts
    a model card can tell, rather than a checkpoint or model folder."""
    path = Path(path)
    return (path / "config.json").is_file() and (path / "checkpoints").is_dir()


def latest_evaluation(run: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """The newest ``metrics.json`` of *run*'s evaluations (``RUN/eval/NNN/`` or ``RUN/eval/``)
    and its content; ``(None, None)`` when the run was never evaluated."""
    found = [p for p in [run / "eval" / "metrics.json", *(run / "eval").glob("*/metrics.json")]
             if p.is_file()]
    if not found:
        return None, None
    path = max(found, key=lambda p: p.stat().st_mtime)
    return path, read_json_object(path)


def run_facts(run: Path) -> dict[str, Any]:
    """What the card says of a run: its config, data, fingerprint and latest evaluation."""
    config_path = run / "config.json"
    if not config_path.is_file():
        raise ConfigError(f"{run}: not a training run (no config.json)")
    config = read_json_object(config_path)
    eval_path, evaluation = latest_evaluation(run)
    return {"run": str(run), "training_config": config, "evaluation": evaluation,
            "evaluation_path": None if eval_path is None else str(eval_path),
            "fingerprint": _fingerprint(run, config, evaluation)}


def _fingerprint(run: Path, config: dict[str, Any], evaluation: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """The data's identity: a dataset fingerprint recorded beside the run (``groupsup demo``
    writes one) when there is one, and always the hash of the run's split and data options."""
    out: dict[str, Any] = {}
    for source in (run.parent / "metrics.json", run / "metrics.json"):
        if source.is_file():
            recorded = read_json_object(source).get("dataset_fingerprint")
            if isinstance(recorded, dict) and recorded.get("id"):
                out["dataset"] = recorded["id"]
    digest = hashlib.sha256(json.dumps(config.get("dataset", {}), sort_keys=True).encode())
    split = run / "split.json"
    if split.is_file():
        digest.update(split.read_bytes())
    out["split_and_options"] = digest.hexdigest()[:16]
    if evaluation is not None:
        out["examples"] = evaluation.get("dataset", {}).get("examples")
    return out


def model_card(model: SwapAutoencoder, facts: dict[str, Any]) -> str:
    """The ``README.md`` of a model folder (module docstring)."""
    parts = [_front_matter(facts), _overview(model), _blocks(model)]
    if facts:
        parts += [_training(facts), _evaluation(facts)]
    parts.append(_loading())
    return "\n".join(parts)


def _front_matter(facts: dict[str, Any]) -> str:
    dataset = (facts.get("training_config") or {}).get("dataset", {}).get("name")
    lines = ["---", "library_name: groupsup", "tags:", *(f"- {t}" for t in TAGS)]
    if dataset:
        lines += ["datasets:", f"- {dataset}"]
    return "\n".join([*lines, "---", ""])


def _overview(model: SwapAutoencoder) -> str:
    name = (model.backbone_name or type(model.backbone).__name__)
    c, h, w = model.image_shape
    params = sum(p.numel() for p in model.parameters())
    return (f"# groupsup model: {model.schema.__name__} ({name})\n\n"
            "A swap autoencoder trained with group-supervised learning (GZS-Net, Ge et al., "
            "ICLR 2021): its latent vector is cut into one block per attribute, and blocks "
            "taken from different images recombine into images of combinations never seen "
            f"(zero-shot synthesis). Backbone `{name}`, {params:,} parameters, images "
            f"{c}x{h}x{w} in [-1, 1], written by groupsup {__version__}.\n")


def _blocks(model: SwapAutoencoder) -> str:
    rows = ["## Latent blocks", "", "| block | dims | values |", "|---|---|---|"]
    attributes = {a.name: a for a in model.schema.attributes}
    for name in model.partition.names:
        piece = model.partition.slice(name)
        if name in attributes:
            values = [str(v) for v in attributes[name].values]
            shown = ", ".join(values[:10]) + (f" (+{len(values) - 10})" if len(values) > 10
                                              else "")
        else:
            shown = "(unlabelled: the variation no label names)"
        rows.append(f"| {name} | {piece.start}:{piece.stop} | {shown} |")
    return "\n".join([*rows, ""])


def _training(facts: dict[str, Any]) -> str:
    config = facts["training_config"]
    loss = config.get("loss", {})
    terms = loss.get("terms") or loss.get("recipe")
    data = config.get("dataset", {})
    fingerprint = facts.get("fingerprint", {})
    lines = ["## Training", "",
             f"- dataset `{data.get('name')}`, split `{data.get('split')}`"
             + (f", {fingerprint['examples']:,} examples" if fingerprint.get("examples") else ""),
             f"- data fingerprint: {fingerprint.get('dataset', 'none recorded')} (dataset), "
             f"{fingerprint.get('split_and_options')} (split and data options)",
             f"- strategy `{config.get('strategy', {}).get('name')}` "
             f"{json.dumps(config.get('strategy', {}).get('options', {}))}",
             f"- loss {json.dumps(terms)}, distance {loss.get('distance')}",
             f"- optimiser {json.dumps(config.get('optim', {}))}",
             f"- seed {config.get('seed')}; the full config: `training_config.json`", ""]
    return "\n".join(lines)


def _evaluation(facts: dict[str, Any]) -> str:
    evaluation = facts.get("evaluation")
    if evaluation is None:
        return "## Evaluation\n\nNot evaluated yet (`groupsup evaluate RUN`).\n"
    swap = evaluation.get("swap_accuracy", {})
    rows = ["## Evaluation", "",
            f"The latest `groupsup evaluate` of the run (`evaluation.json`): "
            f"{evaluation.get('headline', {}).get('text', '')}.", "",
            "| attribute | swap accuracy on held-out combinations |", "|---|---|"]
    for name, value in zip(swap.get("attributes", []), swap.get("accuracy", [])):
        rows.append(f"| {name} | {value:.3f} |")
    if "all_correct" in swap:
        rows.append(f"| all at once | {swap['all_correct']:.3f} |")
    return "\n".join([*rows, ""])


def _loading() -> str:
    return ("## How to load\n\n"
            "```python\nimport groupsup as gs\n\n"
            "model = gs.from_pretrained(\"THIS_FOLDER\")  # or gs.load_model(...)\n"
            "image = model.synthesize({block: source_image for block in model.partition.names})\n"
            "```\n\n"
            "The backbone's plugin must be installed (`config.json` names it). `groupsup export "
            "THIS_FOLDER --format onnx --out DIR` gives graphs that run without groupsup.\n")
