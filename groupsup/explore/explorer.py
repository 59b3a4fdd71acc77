"""The state behind ``groupsup explore``: one trained model, its dataset and split, uploads.

:class:`Explorer` loads the run's latest checkpoint and dataset once and answers every request
of the page and the JSON API (:mod:`groupsup.explore.server`) in memory: compose a code from
one provider per attribute (and one for the unlabelled block, where the schema has one) and
decode it, sweep one block over its values (the unlabelled block: over training examples),
interpolate one block between two providers, encode an uploaded image. A provider is an example
id (``int``) or an upload id (``"u1"``); every client value is checked here and a bad one raises
:class:`RequestError` (:mod:`groupsup.explore.checks`) naming the field, so the server answers it
with a 4xx JSON error. Nothing a client sends becomes a file path: the only files read are those
of the run given at start.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from groupsup.data import GroupDataset, to_tensor, to_uint8
from groupsup.errors import ConfigError, DataError
from groupsup.evaluate.image_quality import mse, psnr
from groupsup.explore import checks
from groupsup.explore.batching import Coalescer
from groupsup.explore.checks import Limits, Provider, RequestError
from groupsup.explore.runinfo import finite, latest_evaluation, training_curves
from groupsup.registry import Registries
from groupsup.runs.context import resolve_dataset, split_ids
from groupsup.train.checkpoint import LATEST, load_model, resolve_checkpoint
from groupsup.train.config import load_config

__all__ = ["Explorer", "Limits", "Provider", "RequestError", "find_run_dir", "png_bytes"]

CODE_CACHE = 100_000  # example codes kept in memory before the cache starts afresh
FREE_SWEEP = 8  # syntheses of a sweep over the unlabelled block unless "count" says otherwise


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 ``(H, W, C)`` as PNG bytes (``C`` 1 or 3)."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()


def find_run_dir(path: Path) -> Path:
    """The run directory of *path*: itself, or the run a checkpoint directory belongs to
    (``RUN/checkpoints/step-N``)."""
    for candidate in (path, *path.parents[:2]):
        if (candidate / "config.json").is_file():
            return candidate
    raise ConfigError(f"{path}: not a training run or checkpoint (no config.json in it or "
                      "above it)")


class Explorer:
    """A loaded run that composes, sweeps, interpolates and encodes uploads.

    *run*: a run directory or one of its checkpoint directories (the model is that checkpoint;
    for a run, its latest). *dataset*: the full dataset it was trained on (default: the
    registered dataset its config names, after *overrides* such as
    ``["dataset.options.path=..."]``). Thread-safe: the server calls it from many threads.
    """

    def __init__(self, run: str | Path, *, dataset: GroupDataset | None = None,
                 overrides: list[str] | None = None, device: str = "cpu",
                 limits: Limits | None = None, registries: Registries | None = None):
        path = Path(run)
        self.checkpoint = resolve_checkpoint(path)
        self.run_dir = find_run_dir(path)
        self.config = load_config(self.run_dir / "config.json", overrides or [])
        self.dataset = dataset if dataset is not None else resolve_dataset(
            self.config, self.run_dir, registries)
        self.model = load_model(self.checkpoint, device, registries=registries).eval()
        self.device, self.limits = device, limits or Limits()
        self.names = list(self.model.schema.names)
        self.free: str | None = self.model.partition.free  # the unlabelled block's name
        # what a composition takes a provider for: every attribute, then the unlabelled block
        self.blocks = [*self.names, *([self.free] if self.free else [])]
        if list(self.dataset.schema.names) != self.names or tuple(
                self.dataset.image_shape) != tuple(self.model.image_shape):
            raise DataError(f"{self.run_dir}: dataset {self.dataset.name!r} (attributes "
                            f"{list(self.dataset.schema.names)}, images "
                            f"{self.dataset.image_shape}) does not fit the model (attributes "
                            f"{self.names}, images {tuple(self.model.image_shape)})")
        self.train, test = split_ids(self.run_dir, self.dataset, None)
        self.held_out = np.zeros(len(self.dataset), dtype=bool)
        if test is not None:
            self.held_out[test] = True
        self.values = [list(a.values) for a in self.model.schema.attributes]
        # every label row -> (first example, count): ground truth of a composed combination
        rows, first, counts = np.unique(self.dataset.labels, axis=0, return_index=True,
                                        return_counts=True)
        self._combos = {tuple(r): (int(i), int(c)) for r, i, c in zip(rows.tolist(), first,
                                                                      counts)}
        # block j of a composition comes from provider _block_of[j]; an extra block the schema
        # does not name (a baseline's) comes from the first provider
        self._block_of = [self.blocks.index(b) if b in self.blocks else 0
                          for b in self.model.partition.names]
        self._lock = threading.Lock()
        self._encode = Coalescer(self._encode_batch)
        self._decode = Coalescer(self._decode_batch)
        self._codes: dict[int, torch.Tensor] = {}
        self._uploads: OrderedDict[str, tuple[torch.Tensor, bytes]] = OrderedDict()
        self._next_upload = 1

    # ------------------------------------------------------------------ request parsing
    def attribute(self, value: Any, field: str = "attribute") -> int:
        """The index of the attribute named *value*."""
        if not isinstance(value, str) or value not in self.names:
            raise RequestError(field, f"unknown attribute {value!r}; one of {self.names}")
        return self.names.index(value)

    def block(self, value: Any, field: str = "attribute") -> str:
        """The name of an attribute or of the unlabelled block."""
        if not isinstance(value, str) or value not in self.blocks:
            raise RequestError(field, f"unknown attribute {value!r}; one of {self.blocks}"
                               f"{self._free_note()}")
        return value

    def _free_note(self) -> str:
        return "" if self.free is None else (f" ({self.free!r} is the unlabelled block: the "
                                             "image whose unnamed variation to keep)")

    def provider(self, value: Any, field: str) -> Provider:
        """An example id in range or the id of a kept upload."""
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(self.dataset):
                return value
            raise RequestError(field, f"example {value} out of range 0..{len(self.dataset) - 1}")
        if isinstance(value, str) and checks.UPLOAD_ID.fullmatch(value):
            with self._lock:
                if value in self._uploads:
                    return value
            raise RequestError(field, f"unknown upload {value!r} (uploads are kept in memory; "
                               "the oldest go first)", 404)
        raise RequestError(field, f"expected an example id (integer) or an upload id ('u1'), "
                           f"got {value!r}")

    def providers(self, value: Any, field: str = "providers") -> list[Provider]:
        """One provider per attribute in schema order, then the unlabelled block's, from
        ``{attribute: provider}``."""
        if not isinstance(value, Mapping):
            raise RequestError(field, f"expected an object {{attribute: provider}}, got "
                               f"{type(value).__name__}")
        for name in value:
            self.block(name, f"{field}.{name}")
        missing = [n for n in self.blocks if n not in value]
        if missing:
            free = "" if self.free is None else (f", and one for the unlabelled block "
                                                 f"{self.free!r}: the image whose unnamed "
                                                 "variation to keep")
            raise RequestError(field, f"no provider for {missing} (one per attribute: "
                               f"{self.names}{free})")
        return [self.provider(value[n], f"{field}.{n}") for n in self.blocks]

    # ------------------------------------------------------------------ codes and images
    @torch.inference_mode()
    def codes(self, providers: list[Provider]) -> torch.Tensor:
        """``(len(providers), Z)`` codes; example codes are encoded once and cached."""
        with self._lock:
            missing = sorted({p for p in providers if isinstance(p, int)} - self._codes.keys())
        if missing:
            z = self._encode(self.dataset.load(missing))
            with self._lock:
                if len(self._codes) + len(missing) > CODE_CACHE:
                    self._codes.clear()
                self._codes.update(zip(missing, z))
        with self._lock:
            return torch.stack([self._uploads[p][0] if isinstance(p, str) else self._codes[p]
                                for p in providers])

    def compose(self, providers: list[Provider]) -> torch.Tensor:
        """``(Z,)``: block j from the provider of attribute j, the unlabelled block from the
        last provider."""
        z = self.codes(providers)
        return self.model.partition.assemble(
            z, torch.tensor([self._block_of], dtype=torch.long))[0]

    def decode(self, codes: torch.Tensor) -> np.ndarray:
        """uint8 ``(n, H, W, C)`` images of ``(n, Z)`` codes (decoded together with those of
        concurrent requests)."""
        return to_uint8(self._decode(codes))

    @torch.inference_mode()
    def _encode_batch(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.encode(images.to(self.device)).cpu()

    @torch.inference_mode()
    def _decode_batch(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.to_image(self.model.decode(codes.to(self.device))).cpu()

    def _block(self, name: str) -> slice:
        """The latent columns of block *name* (an attribute's or the unlabelled one)."""
        if name not in self.model.partition.names:
            raise RequestError("attribute", f"{name!r} has no latent block of its own")
        return self.model.partition.slice(name)

    def labels_of(self, provider: Provider) -> list[int] | None:
        """The label codes of an example; ``None`` for an upload (it has none)."""
        return None if isinstance(provider, str) else self.dataset.labels[provider].tolist()

    def truth(self, combination: list[int] | None, image: np.ndarray) -> dict[str, Any]:
        """The ground truth of *combination* where the data holds it, and the error of *image*
        ``(H, W, C)`` uint8 against it (MSE and PSNR on images in [-1, 1])."""
        found = None if combination is None or min(combination) < 0 else self._combos.get(
            tuple(combination))
        if found is None:
            return {"truth": None, "instances": 0, "error": None}
        first, count = found
        pred, real = to_tensor(image[None]), self.dataset.load([first])
        return {"truth": first, "instances": count,
                "held_out": bool(self.held_out[first]),
                "error": {"mse": float(mse(pred, real).mean),
                          "psnr": finite(psnr(pred, real, data_range=2.0).mean)}}

    # ------------------------------------------------------------------ the API's actions
    def synthesize(self, request: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """``{"providers": {attribute: provider}}`` -> (PNG, what the page shows beside it:
        the requested combination by value, ground truth and error where known)."""
        providers = self.providers(request.get("providers"))
        image = self.decode(self.compose(providers)[None])[0]
        # the values come from the attributes' providers; the unlabelled block's names none
        combination = [self.labels_of(p) for p in providers[:len(self.names)]]
        codes = None if None in combination else [row[j] for j, row in enumerate(combination)]
        return png_bytes(image), {"combination": self._named(codes), **self.truth(codes, image)}

    def sweep(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``{"base": provider, "attribute": name}`` -> one synthesis per value of the
        attribute that training shows: the base's code with that block taken from a training
        example of the value (the one agreeing with the base on most other attributes). For
        the unlabelled block: its block taken in turn from ``count`` training examples drawn
        at random (``seed``), every other block the base's."""
        base = self.provider(request.get("base"), "base")
        name = self.block(request.get("attribute"))
        base_labels = self.labels_of(base)
        k = None if name == self.free else self.names.index(name)
        values: list[int | None]
        if k is None:
            picks = self._free_picks(base, request)
            values = [None] * len(picks)
        else:
            picks, found = self._value_picks(k, base_labels)
            values = list(found)
        block = self._block(name)
        codes = self.codes([base])[0].repeat(len(picks), 1)
        codes[:, block] = self.codes(picks)[:, block]
        items = []
        for v, pick, image in zip(values, picks, self.decode(codes)):
            combination = None if base_labels is None else [*base_labels]
            if combination is not None and k is not None and v is not None:
                combination[k] = v
            value = self.values[k][v] if k is not None and v is not None else None
            items.append({"value": value, "provider": pick, "image": png_bytes(image),
                          **self.truth(combination, image)})
        return {"base": base, "attribute": name, "items": items}

    def _value_picks(self, k: int, base_labels: list[int] | None) -> tuple[list[int], list[int]]:
        """Per value of attribute *k* in training: the training example showing it that agrees
        with the base on the most other attributes (the first, for an upload)."""
        labels = self.dataset.labels
        picks, values = [], []
        for v in np.unique(labels[self.train, k]):
            if v < 0:
                continue
            candidates = self.train[labels[self.train, k] == v]
            if base_labels is not None:  # prefer the provider that differs only in k
                agree = (labels[candidates] == np.asarray(base_labels)).sum(axis=1)
                candidates = candidates[[int(np.argmax(agree))]]
            picks.append(int(candidates[0]))
            values.append(int(v))
        return picks, values

    def _free_picks(self, base: Provider, request: Mapping[str, Any]) -> list[int]:
        """``count`` training examples other than the base, drawn with ``seed``."""
        count = checks.json_int(request.get("count", FREE_SWEEP), "count", 1, self.limits.sweep)
        seed = checks.json_int(request.get("seed", 0), "seed", 0, 2**32 - 1)
        pool = self.train[self.train != base] if isinstance(base, int) else self.train
        pick = np.random.default_rng(seed).choice(pool, min(count, len(pool)), replace=False)
        return [int(i) for i in pick]

    def interpolate(self, request: Mapping[str, Any]) -> bytes:
        """``{"providers": {...}, "attribute": name, "to": provider, "t": 0..1}`` -> PNG: the
        composed code with the attribute's block moved a fraction t toward ``to``'s block."""
        providers = self.providers(request.get("providers"))
        name = self.block(request.get("attribute"))
        target = self.provider(request.get("to"), "to")
        t = request.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1:
            raise RequestError("t", f"expected a number in [0, 1], got {t!r}")
        code = self.compose(providers)
        end = self.codes([target])[0]
        block = self._block(name)
        code[block] = (1 - t) * code[block] + t * end[block]
        return png_bytes(self.decode(code[None])[0])

    def upload(self, data: bytes) -> dict[str, Any]:
        """Validate an image (size in bytes, format, pixel size, mode), encode it and keep its
        code; returns ``{"upload": id, ...}``."""
        pixels = checks.decode_upload(data, self.model.image_shape, self.limits.upload_bytes)
        h, w = self.model.image_shape[1:]
        code = self._encode(to_tensor(pixels[None]))[0]
        with self._lock:
            name = f"u{self._next_upload}"
            self._next_upload += 1
            self._uploads[name] = (code, png_bytes(pixels))
            while len(self._uploads) > self.limits.uploads:
                self._uploads.popitem(last=False)
        return {"upload": name, "width": w, "height": h}

    def upload_png(self, name: str) -> bytes:
        """The PNG of a kept upload (as decoded, in the model's channels)."""
        with self._lock:
            if name not in self._uploads:
                raise RequestError("upload", f"unknown upload {name!r}", 404)
            return self._uploads[name][1]

    def thumbnail(self, example: int) -> bytes:
        """The PNG of an example."""
        self.provider(example, "example")
        return png_bytes(self.dataset.load_uint8([example])[0])

    # ------------------------------------------------------------------ listings
    def info(self) -> dict[str, Any]:
        """What the page needs first: attributes and values, the latent blocks (the unlabelled
        one, if any, last and flagged; ``free`` is its name or ``None``), sizes, held-out
        combinations."""
        c, h, w = self.model.image_shape
        held = np.unique(self.dataset.labels[self.held_out], axis=0)
        return {"run": str(self.run_dir), "checkpoint": self.checkpoint.name,
                "name": self.config.name,
                "attributes": [{"name": n, "values": v} for n, v in zip(self.names, self.values)],
                "blocks": [{"name": n, "latent": w, "unlabelled": n == self.free}
                           for n, w in self.model.partition],
                "free": self.free,
                "image": {"channels": c, "height": h, "width": w},
                "examples": len(self.dataset), "train": len(self.train),
                "held_out_examples": int(self.held_out.sum()),
                "held_out": [self._named(r) for r in held.tolist()],
                "limits": {"json_bytes": self.limits.json_bytes,
                           "upload_bytes": self.limits.upload_bytes,
                           "upload_formats": list(checks.UPLOAD_FORMATS), "page": self.limits.page,
                           "sweep": self.limits.sweep}}

    def examples(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A page of examples matching ``{attribute: value name}`` filters, plus ``held_out``
        ("1"/"0"), ``offset`` and ``limit``: ``{"total", "examples": [{id, labels,
        held_out}]}``."""
        keep = np.ones(len(self.dataset), dtype=bool)
        offset = checks.query_int(query.get("offset", "0"), "offset", 0, len(self.dataset))
        limit = checks.query_int(query.get("limit", "100"), "limit", 1, self.limits.page)
        for key, value in query.items():
            if key in ("offset", "limit"):
                continue
            if key == "held_out":
                if value not in ("0", "1"):
                    raise RequestError(key, f"expected 0 or 1, got {value!r}")
                keep &= self.held_out == (value == "1")
                continue
            k = self.attribute(key, key)
            if value not in self.values[k]:
                raise RequestError(key, f"unknown value {value!r} of {key!r}")
            keep &= self.dataset.labels[:, k] == self.values[k].index(value)
        ids = np.flatnonzero(keep)
        page = ids[offset:offset + limit]
        return {"total": len(ids), "offset": offset, "limit": limit,
                "examples": [{"id": int(i), "labels": self._named(self.dataset.labels[i].tolist()),
                              "held_out": bool(self.held_out[i])} for i in page]}

    def run_info(self) -> dict[str, Any]:
        """The run's training curves (``metrics.jsonl``, downsampled), the latest evaluation's
        headline, leakage and co-prediction matrices (``None`` before any; their last block row
        is the unlabelled block's, named by ``free``)."""
        latest = self.run_dir / "checkpoints" / LATEST
        return {"run": str(self.run_dir), "checkpoint": self.checkpoint.name, "free": self.free,
                "latest": latest.read_text().strip() if latest.is_file() else None,
                "curves": training_curves(self.run_dir),
                "evaluation": latest_evaluation(self.run_dir)}

    def _named(self, codes: list[int] | None) -> dict[str, str | None] | None:
        if codes is None:
            return None
        return {n: (self.values[j][c] if c >= 0 else None)
                for j, (n, c) in enumerate(zip(self.names, codes))}
