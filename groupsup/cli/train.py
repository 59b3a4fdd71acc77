"""``groupsup train``, ``synthesize``, ``reconstruct`` and ``config``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from groupsup.cli import Command
from groupsup.data import to_tensor, to_uint8
from groupsup.errors import ConfigError, DataError
from groupsup.hookspecs import hookimpl
from groupsup.imaging import image_grid, save_png


# ---------------------------------------------------------------------- train
def _configure_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="experiment config (TOML, YAML or JSON); "
                   "optional with --resume (the run's own config is used)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.steps=100 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its "
                   "latest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start afresh in a train.out that "
                   "holds a previous run, deleting that run's files (config, metrics, samples, "
                   "checkpoints, eval)")


def _run_train(args: argparse.Namespace) -> int:
    from groupsup.train import Trainer, load_config

    if args.config is None and args.resume is None:
        raise ConfigError("give a CONFIG file, or --resume RUN_DIR")
    source = args.config if args.config else Path(args.resume) / "config.json"
    config = load_config(source, args.overrides)
    trainer = Trainer(config, resume=args.resume, overwrite=args.overwrite)
    if trainer.dist.is_main:
        print(f"training {config.name}: {len(trainer.dataset)} examples, "
              f"{sum(p.numel() for p in trainer.model.parameters()) / 1e6:.2f} M parameters, "
              f"device {trainer.device}, from step {trainer.step} to {config.train.steps}")
    result = trainer.fit()
    if trainer.dist.is_main:
        print(f"stopped at step {result.step} ({result.stopped}) after {result.wall_time:.1f} s;"
              f" checkpoint {result.checkpoint}")
    return 0


# ---------------------------------------------------------------------- images in / out
def read_image(path: str | Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image file as ``(C, H, W)`` in ``[-1, 1]``, converted and resized to *shape*."""
    c, h, w = shape
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.uint8).reshape(h, w, c)
    except FileNotFoundError:
        raise DataError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: cannot read image ({err})") from None
    return to_tensor(array[None])[0]


def _sources(model, pairs: list[str]) -> dict[str, torch.Tensor]:
    sources: dict[str, torch.Tensor] = {}
    for item in pairs:
        if "=" not in item:
            raise ConfigError(f"--from {item!r}: expected ATTRIBUTE=IMAGE")
        name, path = item.split("=", 1)
        model.schema[name]  # unknown attribute -> error with a did-you-mean
        sources[name] = read_image(path, model.image_shape)
    missing = [n for n in model.schema.names if n not in sources]
    if missing:
        raise ConfigError(f"--from: no image for attributes {missing} (one per attribute: "
                          f"{', '.join(model.schema.names)})")
    return sources


def _configure_synthesize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="run or checkpoint directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="sources", action="append", metavar="ATTRIBUTE=IMAGE",
                     help="take ATTRIBUTE's latent block from IMAGE (one per attribute)")
    src.add_argument("--groups", metavar="DIR", help="a folder of group folders, each holding "
                     "<attribute>.png for every attribute")
    p.add_argument("--out", required=True, help="output PNG (with --groups: output folder)")
    p.add_argument("--device", default="cpu")


@torch.no_grad()
def _run_synthesize(args: argparse.Namespace) -> int:
    from groupsup.train import load_model

    model = load_model(args.checkpoint, args.device).eval()
    names = model.schema.names
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
    rows = []
    for group in groups:
        sources = _sources(model, [f"{n}={group / (n + '.png')}" for n in names])
        image = model.synthesize({k: v.to(args.device) for k, v in sources.items()})
        row = to_uint8(torch.stack([*sources.values(), image[0].cpu()]))
        save_png(image_grid([row], column_labels=[*names, "output"]),
                 out_dir / f"{group.name}.png")
        rows.append(row)
    save_png(image_grid(rows, [g.name for g in groups], [*names, "output"]),
             out_dir / "sheet.png")
    print(f"wrote {len(groups)} group sheets and {out_dir / 'sheet.png'}")
    return 0


def _configure_reconstruct(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="run or checkpoint directory")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--out", required=True, help="output PNG: originals over reconstructions")
    p.add_argument("--device", default="cpu")


@torch.no_grad()
def _run_reconstruct(args: argparse.Namespace) -> int:
    from groupsup.train import load_model

    model = load_model(args.checkpoint, args.device).eval()
    x = torch.stack([read_image(p, model.image_shape) for p in args.images]).to(args.device)
    save_png(image_grid([to_uint8(x), to_uint8(model.reconstruct(x))],
                        ["original", "recon"]), args.out)
    print(f"wrote {args.out}")
    return 0


# ---------------------------------------------------------------------- config
def _configure_config(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("schema", help="print the JSON Schema of experiment configs")
    show = sub.add_parser("show", help="print the resolved config (defaults filled in)")
    show.add_argument("config")
    show.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE")


def _run_config(args: argparse.Namespace) -> int:
    from groupsup.train.config import config_json_schema, load_config

    if args.action == "schema":
        print(json.dumps(config_json_schema(), indent=2))
    else:
        print(json.dumps(load_config(args.config, args.overrides).to_dict(), indent=2))
    return 0


@hookimpl
def register_commands(register):
    register("train", Command("train a model from an experiment config", _configure_train,
                              _run_train))
    register("synthesize", Command("zero-shot synthesis: combine latent blocks of several "
                                   "images", _configure_synthesize, _run_synthesize))
    register("reconstruct", Command("encode and decode images with a trained model",
                                    _configure_reconstruct, _run_reconstruct))
    register("config", Command("inspect experiment configs (JSON Schema, resolved values)",
                               _configure_config, _run_config))
