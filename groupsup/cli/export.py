"""``groupsup export RUN --format onnx|torchscript --out DIR``: a trained model's encoder and
decoder as standalone graphs (:mod:`groupsup.export`; docs/deploy.md)."""

from __future__ import annotations

import argparse

from groupsup.cli import Command
from groupsup.hookspecs import hookimpl


def _configure(p: argparse.ArgumentParser) -> None:
    from groupsup.export import FORMATS

    p.add_argument("run", metavar="RUN", help="a run directory or one of its checkpoint "
                   "directories (a run: its latest checkpoint)")
    p.add_argument("--format", choices=(*FORMATS, "pretrained"), default="onnx",
                   help="onnx (default; runs with onnxruntime, no torch), torchscript, or "
                   "pretrained: a model folder in the Hugging Face Hub's layout (weights, "
                   "config.json, a model card) that gs.from_pretrained loads")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the folder to write (refused if it exists and is not empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR")


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from groupsup.export import export_model
    from groupsup.model import load_model
    from groupsup.persistence import find_checkpoint
    from groupsup.plugins import get_host

    if args.format == "pretrained":
        return _pretrained(args)
    checkpoint = find_checkpoint(Path(args.run))
    model = load_model(checkpoint, registries=get_host())
    manifest = export_model(model, args.out, args.format, source=str(checkpoint),
                            overwrite=args.overwrite)
    parity = manifest["decoder_parity"]
    check = ("not checked: " + parity["why_not"] if parity["max_abs_difference"] is None
             else f"largest difference from eager torch {parity['max_abs_difference']:.1e} "
             f"({parity['checked_with']})")
    blocks = ", ".join(f"{b['name']} {b['start']}:{b['stop']}" for b in manifest["blocks"])
    print(f"exported {checkpoint} as {args.format} to {args.out}: {manifest['encoder']}, "
          f"{manifest['decoder']}, export.json, swap_example.py")
    print(f"  blocks {blocks}; decoder {check}")
    return 0


def _pretrained(args: argparse.Namespace) -> int:
    from pathlib import Path

    from groupsup.model import load_model
    from groupsup.persistence import find_checkpoint
    from groupsup.plugins import get_host
    from groupsup.pretrained import is_run_dir, save_pretrained

    source = Path(args.run)
    model = load_model(find_checkpoint(source), registries=get_host())
    folder = save_pretrained(model, args.out, run=source if is_run_dir(source) else None,
                             overwrite=args.overwrite)
    files = ", ".join(sorted(f.name for f in folder.iterdir()))
    print(f"wrote {folder}: {files} (README.md: the model card); load it with "
          f"gs.from_pretrained({str(folder)!r})")
    return 0


@hookimpl
def register_commands(register):
    register("export", Command("write a trained model's encoder and decoder as ONNX or "
                               "TorchScript graphs, with a manifest and a swap example",
                               _configure, _run))
