"""A trained model's encoder and decoder as standalone graphs: ONNX or TorchScript.

:func:`export_model` writes one folder that runs without groupsup (ONNX: without torch):

- ``encoder.onnx`` (``images (B, C, H, W)`` in ``[-1, 1]`` -> ``codes (B, Z)``) and
  ``decoder.onnx`` (``codes`` -> ``images`` in ``[-1, 1]``; a logits decoder's output is
  mapped to images as :meth:`~groupsup.SwapAutoencoder.to_image` does), the batch dimension
  dynamic; or ``encoder.pt`` / ``decoder.pt`` (TorchScript, traced);
- ``export.json``: what a consumer needs to recombine blocks: the image shape and the pixel
  convention, the latent blocks (name, start, stop; the unlabelled one marked), the schema's
  value names, the source checkpoint, the versions, and the decoder's parity with eager torch
  measured at export (largest absolute difference on random codes at two batch sizes);
- ``swap_example.py``: a runnable example that swaps one block between two images with
  onnxruntime and numpy alone (or ``torch.jit.load`` for TorchScript).

The folder is written atomically (a staging folder renamed into place) and an existing one is
refused unless ``overwrite``. ``groupsup export RUN --format onnx --out DIR`` is the command;
docs/deploy.md shows the use.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from groupsup.errors import ConfigError, StorageError
from groupsup.fileio import (
    atomic_directory,
    atomic_write_text,
    read_json_with_format,
    refuse_taken_folder,
)
from groupsup.model import SwapAutoencoder
from groupsup.version import __version__

__all__ = ["FORMATS", "PARITY_TOLERANCE", "export_model", "read_export"]

FORMATS = ("onnx", "torchscript")
FORMAT_VERSION = 1
ONNX_OPSET = 18
# the decoder's largest |export - eager| accepted at export (float32 graphs of the same ops)
PARITY_TOLERANCE = 1e-4
_SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


class _Encoder(nn.Module):
    def __init__(self, model: SwapAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images)


class _Decoder(nn.Module):
    def __init__(self, model: SwapAutoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.to_image(self.model.decode(codes))


def export_model(model: SwapAutoencoder, out: str | os.PathLike, format: str = "onnx", *,
                 source: str | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Write *model*'s encoder and decoder to the folder *out* as *format* graphs (module
    docstring); return the manifest written as ``export.json``. *source* names the checkpoint
    in the manifest. Raises :class:`ConfigError` for an unknown format, an existing *out*
    (unless *overwrite*), or a missing ``onnx`` package (the ``export`` extra), and
    :class:`StorageError` when the exported decoder differs from eager torch by more than
    :data:`PARITY_TOLERANCE`."""
    if format not in FORMATS:
        raise ConfigError(f"export format {format!r}: choose one of {', '.join(FORMATS)}")
    target = Path(out)
    refuse_taken_folder(target, overwrite)
    if format == "onnx":
        _require("onnx", "onnxscript")
    with _inference_copy(model) as ready, atomic_directory(target) as staging:
        suffix = _SUFFIX[format]
        write = _write_onnx if format == "onnx" else _write_torchscript
        write(_Encoder(ready), _example_images(ready), staging / f"encoder{suffix}", "images",
              "codes")
        write(_Decoder(ready), _example_codes(ready), staging / f"decoder{suffix}", "codes",
              "images")
        parity = _decoder_parity(ready, staging / f"decoder{suffix}", format)
        if parity["max_abs_difference"] is not None and \
                parity["max_abs_difference"] > PARITY_TOLERANCE:
            raise StorageError(f"{target}: the exported decoder differs from eager torch by "
                               f"{parity['max_abs_difference']:.2e} (> {PARITY_TOLERANCE:g}); "
                               "nothing was written")
        manifest = _manifest(ready, format, suffix, source, parity)
        atomic_write_text(staging / "export.json", json.dumps(manifest, indent=2) + "\n")
        atomic_write_text(staging / "swap_example.py", _swap_example(format))
    return manifest


def read_export(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an exported folder (``export.json``), checked for its format."""
    path = Path(folder) / "export.json"
    manifest = read_json_with_format(path, "groupsup_export", FORMAT_VERSION, ConfigError,
                                     f"{path}: missing; not a folder written by groupsup export")
    return manifest


@contextlib.contextmanager
def _inference_copy(model: SwapAutoencoder) -> Iterator[SwapAutoencoder]:
    """*model* on the CPU in eval mode, whole batches (no micro-batching, which would fix the
    batch size in a traced graph); its mode and micro-batch restored afterwards."""
    training, micro = model.training, model.micro_batch
    device = next(model.parameters()).device
    model.eval().cpu()
    model.micro_batch = None
    try:
        yield model
    finally:
        model.micro_batch = micro
        model.train(training).to(device)


def _example_images(model: SwapAutoencoder) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(2, *model.image_shape, generator=generator) * 2 - 1


def _example_codes(model: SwapAutoencoder) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, model.partition.size, generator=generator)


def _require(*packages: str) -> None:
    import importlib.util

    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ConfigError(f"export to ONNX needs {', '.join(missing)}: pip install "
                          "'groupsup[export]'")


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path, input_name: str,
                output_name: str) -> None:
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with _quiet_exporter():
        program = torch.onnx.export(module, (example,), dynamo=True, opset_version=ONNX_OPSET,
                                    input_names=[input_name], output_names=[output_name],
                                    dynamic_shapes=({0: batch},), verbose=False)
    if program is None:  # pragma: no cover - dynamo=True always returns the program
        raise StorageError(f"{path}: torch.onnx.export returned no program")
    big = sum(p.numel() * p.element_size() for p in module.parameters()) > 1.5 * 2**30
    program.save(str(path), external_data=big)


def _write_torchscript(module: nn.Module, example: torch.Tensor, path: Path, input_name: str,
                       output_name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice
        traced = torch.jit.trace(module, (example,), check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    from groupsup.fileio import atomic_write_bytes

    atomic_write_bytes(path, buffer.getvalue())


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The ONNX exporter prints its progress and warns about optional packages: keep it to
    errors (which still raise)."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _decoder_parity(model: SwapAutoencoder, path: Path, format: str) -> dict[str, Any]:
    """Largest |exported - eager| of the decoder on random codes at batch sizes 1 and 5;
    ``None`` (with the reason) when ONNX graphs cannot be run here (no onnxruntime)."""
    generator = torch.Generator().manual_seed(1)
    codes = [torch.randn(n, model.partition.size, generator=generator) for n in (1, 5)]
    with torch.no_grad():
        eager = [_Decoder(model)(z).numpy() for z in codes]
    if format == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notice
            loaded = torch.jit.load(str(path))
        with torch.no_grad():
            got = [loaded(z).numpy() for z in codes]
        runner = f"torch {torch.__version__}"
    else:
        try:
            import onnxruntime
        except ImportError:
            return {"max_abs_difference": None, "checked_with": None,
                    "why_not": "onnxruntime is not installed (pip install 'groupsup[export]')"}
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = [session.run(None, {"codes": z.numpy()})[0] for z in codes]
        runner = f"onnxruntime {onnxruntime.__version__}"
    worst = max(float(np.abs(g - e).max()) for g, e in zip(got, eager))
    return {"max_abs_difference": worst, "checked_with": runner, "batch_sizes": [1, 5]}


def _manifest(model: SwapAutoencoder, format: str, suffix: str, source: str | None,
              parity: dict[str, Any]) -> dict[str, Any]:
    partition, schema = model.partition, model.schema
    blocks = [{"name": name, "start": partition.slice(name).start,
               "stop": partition.slice(name).stop, "unlabelled": name == partition.free}
              for name in partition.names]
    return {
        "groupsup_export": FORMAT_VERSION, "format": format,
        "encoder": f"encoder{suffix}", "decoder": f"decoder{suffix}",
        "opset": ONNX_OPSET if format == "onnx" else None,
        "inputs": {"encoder": "images", "decoder": "codes"},
        "image_shape": list(model.image_shape),
        "pixels": "float32 (B, C, H, W) in [-1, 1]: uint8 pixels / 127.5 - 1; the decoder "
                  "returns images in the same range",
        "latent_size": partition.size, "blocks": blocks,
        "values": {a.name: [str(v) for v in a.values] for a in schema.attributes},
        "source": source, "groupsup": __version__, "torch": torch.__version__,
        "decoder_parity": parity,
    }


_RUNTIMES = {
    "onnx": ("onnxruntime", 'import onnxruntime\n\n'
             'def load(name):\n'
             '    session = onnxruntime.InferenceSession(str(HERE / name))\n'
             '    return lambda x: session.run(None, {session.get_inputs()[0].name: x})[0]\n'),
    "torchscript": ("torch", 'import torch\n\n'
                    'def load(name):\n'
                    '    module = torch.jit.load(str(HERE / name))\n'
                    '    return lambda x: module(torch.from_numpy(x)).detach().numpy()\n'),
}

# the folder's swap_example.py; @NEEDS@ and @RUNTIME@ are filled per format
_SWAP_EXAMPLE = '''"""Swap one latent block between two images with the exported graphs alone.

    python swap_example.py A.png B.png BLOCK OUT.png

writes OUT.png: image A with block BLOCK (one of export.json's blocks) taken from image B.
Needs numpy, pillow and @NEEDS@; not groupsup.
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

@RUNTIME@
HERE = Path(__file__).resolve().parent
MANIFEST = json.loads((HERE / "export.json").read_text())
encode, decode = load(MANIFEST["encoder"]), load(MANIFEST["decoder"])


def read(path):
    channels, height, width = MANIFEST["image_shape"]
    image = Image.open(path).convert("L" if channels == 1 else "RGB").resize((width, height))
    pixels = np.asarray(image, dtype=np.float32).reshape(height, width, channels)
    return (pixels.transpose(2, 0, 1) / 127.5 - 1)[None]


def swap(a, b, block):
    blocks = {entry["name"]: entry for entry in MANIFEST["blocks"]}
    if block not in blocks:
        raise SystemExit(f"block {block!r}: choose one of {sorted(blocks)}")
    za, zb = encode(a), encode(b)
    start, stop = blocks[block]["start"], blocks[block]["stop"]
    za[:, start:stop] = zb[:, start:stop]
    return decode(za)


def write(images, path):
    pixels = ((images[0].transpose(1, 2, 0) + 1) * 127.5).clip(0, 255).round()
    Image.fromarray(pixels.astype(np.uint8).squeeze()).save(path)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    first, second, name, out = sys.argv[1:]
    write(swap(read(first), read(second), name), out)
'''


def _swap_example(format: str) -> str:
    """The folder's ``swap_example.py``: swap one block between two images."""
    needs, runtime = _RUNTIMES[format]
    return _SWAP_EXAMPLE.replace("@NEEDS@", needs).replace("@RUNTIME@", runtime)
