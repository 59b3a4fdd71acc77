"""``groupsup train``, ``synthesize``, ``reconstruct`` and ``config``."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from groupsup.cli import Command, add_key_values
from groupsup.data import to_tensor, to_uint8
from groupsup.errors import ConfigError, DataError, did_you_mean
from groupsup.hookspecs import hookimpl
from groupsup.imaging import image_grid, save_png, to_8bit
from groupsup.plugins import get_host
from groupsup.runs.options import EvalOptions


# ---------------------------------------------------------------------- train
def _configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="experiment config (TOML, YAML or JSON); "
                   "optional with --resume (the run's own config is used)")
    add_key_values(p, "--set", dest="overrides",
                   help="override a config key, e.g. --set train.steps=100 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its "
                   "latest checkpoint")
    p.add_argument("--skip-check", action="store_true", help="do not read every image file "
                   "before training (sets train.check_images=false)")
    p.add_argument("--overwrite", action="store_true", help="start afresh in a train.out that "
                   "holds a previous run, deleting that run's files (config, metrics, samples, "
                   "checkpoints, eval)")
    p.add_argument("--track", choices=("mlflow",), default=None,
                   help="also follow the run in MLflow (the `mlflow` callback with its "
                   "defaults; MLFLOW_TRACKING_URI says where; pip install 'groupsup[mlflow]')")


def _run_train(args: argparse.Namespace) -> int:
    from groupsup.train import Trainer, load_config, resolve

    if args.config is None and args.resume is None:
        raise ConfigError("give a CONFIG file, or --resume RUN_DIR")
    source = args.config if args.config else Path(args.resume) / "config.json"
    skip = ["train.check_images=false"] if args.skip_check else []
    config = load_config(source, [*args.overrides, *skip])
    if args.track and not any(c.get("name") == args.track for c in config.train.callbacks):
        config.train.callbacks.append({"name": args.track})
    # every name and option checked (errors name the file), every component built, before the
    # run directory is claimed
    resolved = resolve(config)
    EvalOptions.from_table(config.evaluate, config.origin)  # what `evaluate` will read
    trainer = Trainer(config, resume=args.resume, overwrite=args.overwrite, resolved=resolved)
    if trainer.runtime.is_main:
        if trainer.image_check is not None:
            print(trainer.image_check)
        state, examples = trainer.state, len(trainer.resolved.train_dataset)
        print(f"training {config.name}: {examples} examples, "
              f"{sum(p.numel() for p in state.model.parameters()) / 1e6:.2f} M parameters, "
              f"device {trainer.runtime.device}, from step {state.step} to {config.train.steps}")
        if trainer.report is not None:
            kind = "exact" if trainer.report.exact else "relaxed"
            report = trainer.report
            print(f"centre-cover partners ({kind} requested) per attribute, over "
                  f"{report.centres:,} centres of {report.examples:,} training examples:")
            for line in trainer.report.lines():
                print(f"    {line}")
    result = trainer.fit()
    if trainer.runtime.is_main:
        print(f"stopped at step {result.step} ({result.stopped}) after {result.wall_time:.1f} s;"
              f" checkpoint {result.checkpoint}")
    # a run stopped by a signal exits as the shell expects of one (128 + the signal's number),
    # after its checkpoint: a script or scheduler can tell it from a finished run
    return STOP_STATUS.get(result.stopped, 0)


STOP_STATUS = {"interrupted": 128 + signal.SIGINT, "terminated": 128 + signal.SIGTERM}


# ---------------------------------------------------------------------- images in / out
def read_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as ``(C, H, W)`` in ``[-1, 1]``, converted to *shape*'s channels.

    An image of another size is refused, not resized: the model saw only images of its size,
    and a silent resize would hide a wrong file.
    """
    c, h, w = shape
    try:
        with Image.open(path) as img:
            img = to_8bit(img, "L" if c == 1 else "RGB", path)
            if img.size != (w, h):
                raise DataError(f"{path}: image is {img.size[0]}x{img.size[1]}, the model "
                                f"expects {w}x{h}; resize or crop it first")
            array = np.asarray(img, dtype=np.uint8).reshape(h, w, c)
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: cannot read image ({err})") from None
    return to_tensor(array[None])[0]


def _blocks(model) -> list[str]:
    """The blocks synthesis takes an image for: every attribute, then the unlabelled block."""
    free = model.partition.free
    return [*model.schema.names, *([free] if free else [])]


def _sources(model, pairs: list[str]) -> dict[str, torch.Tensor]:
    """``ATTRIBUTE=IMAGE`` pairs (and ``BLOCK=IMAGE`` for the unlabelled block) as images."""
    names, free = model.schema.names, model.partition.free
    sources: dict[str, torch.Tensor] = {}
    for item in pairs:
        if "=" not in item:
            raise ConfigError(f"--from {item!r}: expected ATTRIBUTE=IMAGE")
        name, path = item.split("=", 1)
        if name not in names and name != free:
            if free is None:
                model.schema[name]  # raises: unknown attribute, with a did-you-mean
            raise ConfigError(f"--from {item!r}: no attribute or unlabelled block {name!r}"
                              f"{did_you_mean(name, [*names, free])}; attributes: "
                              f"{', '.join(names)}; unlabelled block: {free}")
        sources[name] = read_image(path, model.image_shape)
    missing = [n for n in names if n not in sources]
    hint = (f"the unlabelled block {free!r} (--from {free}=IMAGE: the image whose unnamed "
            "variation, the one no attribute names, to keep)")
    if missing:
        also = f"; and one for {hint}" if free and free not in sources else ""
        raise ConfigError(f"--from: no image for attributes {missing} (one per attribute: "
                          f"{', '.join(names)}{also})")
    if free and free not in sources:
        raise ConfigError(f"--from: no image for {hint}")
    return sources


# optional files of a --groups folder besides <attribute>.png
TRUTH, LABELS = "truth.png", "labels.json"


def _configure_synthesize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="run or checkpoint directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="sources", action="append", metavar="ATTRIBUTE=IMAGE",
                     help="take ATTRIBUTE's latent block from IMAGE (one per attribute); a "
                     "model with an unlabelled block (gs.Free, [schema] free; named 'free' "
                     "unless free_name says otherwise) needs one more, NAME=IMAGE: the image "
                     "whose unnamed variation (the one no attribute names) to keep")
    src.add_argument("--groups", metavar="DIR", help="a folder of group folders, each holding "
                     "<attribute>.png for every attribute (and <name>.png for an unlabelled "
                     "block), and optionally labels.json (the "
                     "requested value of each attribute, shown on the sheet) and truth.png (the "
                     "expected image, shown in a last column)")
    p.add_argument("--out", required=True, help="output PNG (with --groups: output folder)")
    p.add_argument("--device", default="cpu")


@torch.no_grad()
def _run_synthesize(args: argparse.Namespace) -> int:
    from groupsup.model import load_model
    from groupsup.plugins import get_host

    model = load_model(args.checkpoint, args.device, registries=get_host()).eval()
    names = _blocks(model)
    if args.sources:
        sources = _sources(model, args.sources)
        out = model.synthesize({k: v.to(args.device) for k, v in sources.items()})
        save_png(Image.fromarray(to_uint8(out)[0].squeeze()), args.out)
        print(f"wrote {args.out}")
        return 0
    root, out_dir = Path(args.groups), Path(args.out)
    groups = sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not groups:
        raise DataError(f"{root}: no group folders found")
    rows, captions = [], []
    with_truth = any((g / TRUTH).is_file() for g in groups)
    columns = [*names, "output", *(["truth"] if with_truth else [])]
    for group in groups:
        sources = _sources(model, [f"{n}={group / (n + '.png')}" for n in names])
        image = model.synthesize({k: v.to(args.device) for k, v in sources.items()})
        tiles = [*sources.values(), image[0].cpu()]
        if (group / TRUTH).is_file():
            tiles.append(read_image(group / TRUTH, model.image_shape))
        row = to_uint8(torch.stack(tiles))
        labels = _requested_labels(model, group)
        caption = [labels.get(n, "") for n in names]  # under the column named by the attribute
        save_png(image_grid([row], column_labels=columns, captions=[caption]),
                 out_dir / f"{group.name}.png")
        rows.append(row)
        captions.append(caption)
    save_png(image_grid(rows, [g.name for g in groups], columns, captions=captions),
             out_dir / "sheet.png")
    print(f"wrote {len(groups)} group sheets and {out_dir / 'sheet.png'}")
    return 0


def _requested_labels(model, group: Path) -> dict[str, str]:
    """``labels.json`` of a group folder: attribute -> requested value (as text), or ``{}``.

    Unknown attributes, and values outside a known vocabulary, are errors naming the file.
    """
    path = group / LABELS
    if not path.is_file():
        return {}
    try:
        labels = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read labels ({err})") from None
    if not isinstance(labels, dict):
        raise DataError(f"{path}: expected a JSON object attribute -> requested value, got "
                        f"{type(labels).__name__}")
    for name, value in labels.items():
        if name not in model.schema.names:
            raise ConfigError(f"{path}: no attribute {name!r}"
                              f"{did_you_mean(name, model.schema.names)}; attributes: "
                              f"{', '.join(model.schema.names)}")
        vocab = [str(v) for v in model.schema[name].values or []]
        if vocab and str(value) not in vocab:
            raise ConfigError(f"{path}: {name} = {value!r} is not a value the model was trained "
                              f"on{did_you_mean(str(value), vocab)}")
    return {name: str(value) for name, value in labels.items()}


def _configure_reconstruct(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="run or checkpoint directory")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--out", required=True, help="output PNG: originals over reconstructions")
    p.add_argument("--device", default="cpu")


@torch.no_grad()
def _run_reconstruct(args: argparse.Namespace) -> int:
    from groupsup.model import load_model
    from groupsup.plugins import get_host

    model = load_model(args.checkpoint, args.device, registries=get_host()).eval()
    x = torch.stack([read_image(p, model.image_shape) for p in args.images]).to(args.device)
    save_png(image_grid([to_uint8(x), to_uint8(model.reconstruct(x))],
                        ["original", "recon"]), args.out)
    print(f"wrote {args.out}")
    return 0


# ---------------------------------------------------------------------- config
def _configure_config(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("schema", help="print the JSON Schema of experiment configs, with the "
                   "options of every registered dataset, backbone, strategy and loss term")
    show = sub.add_parser("show", help="print the resolved config (defaults filled in)")
    show.add_argument("config")
    add_key_values(show, "--set", dest="overrides", help="override a config key (repeatable)")


def _run_config(args: argparse.Namespace) -> int:
    from groupsup.train.config import load_config
    from groupsup.train.config_schema import check_config, config_json_schema

    if args.action == "schema":
        print(json.dumps(config_json_schema(get_host()), indent=2))
    else:
        config = load_config(args.config, args.overrides)
        check_config(config, get_host(), args.config)  # show only what `train` would accept
        EvalOptions.from_table(config.evaluate, config.origin)
        print(json.dumps(config.to_dict(), indent=2))
    return 0


COMMANDS = {
    "train": Command("train a model from an experiment config", _configure_train, _run_train),
    "synthesize": Command("zero-shot synthesis: combine latent blocks of several images",
                          _configure_synthesize, _run_synthesize),
    "reconstruct": Command("encode and decode images with a trained model",
                           _configure_reconstruct, _run_reconstruct),
    "config": Command("inspect experiment configs (JSON Schema, resolved values)",
                      _configure_config, _run_config),
}


@hookimpl
def register_commands(register):
    for name, command in COMMANDS.items():
        register(name, command)
