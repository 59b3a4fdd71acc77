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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from groupsup.data import GroupDataset, to_tensor, to_uint8
from groupsup.explore import checks
from groupsup.explore.batching import Coalescer
from groupsup.explore.checks import Limits, Provider, RequestError
from groupsup.explore.loaded import LoadedRun
from groupsup.explore.memory import ExampleCodes, Uploads
from groupsup.registry import Registries

__all__ = ["Explorer", "Limits", "Provider", "RequestError", "png_bytes"]

FREE_SWEEP = 8  # syntheses of a sweep over the unlabelled block unless "count" says otherwise


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 ``(H, W, C)`` as PNG bytes (``C`` 1 or 3)."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()


def value_picks(labels: np.ndarray, train: np.ndarray, k: int,
                base_labels: list[int] | None) -> tuple[list[int], list[int]]:
    """Per value of attribute *k* among the *train* ids of ``(N, A)`` *labels*: the training
    example showing it that agrees with the base's labels on the most other attributes (the
    first, for an upload: *base_labels* ``None``). Returns (example ids, values)."""
    picks, values = [], []
    for v in np.unique(labels[train, k]):
        if v < 0:
            continue
        candidates = train[labels[train, k] == v]
        if base_labels is not None:  # prefer the provider that differs only in k
            agree = (labels[candidates] == np.asarray(base_labels)).sum(axis=1)
            candidates = candidates[[int(np.argmax(agree))]]
        picks.append(int(candidates[0]))
        values.append(int(v))
    return picks, values


def free_picks(train: np.ndarray, base: Provider, count: int, seed: int) -> list[int]:
    """*count* of the *train* ids other than the base, drawn with *seed*."""
    pool = train[train != base] if isinstance(base, int) else train
    pick = np.random.default_rng(seed).choice(pool, min(count, len(pool)), replace=False)
    return [int(i) for i in pick]


class Explorer:
    """A loaded run that composes, sweeps, interpolates and encodes uploads.

    *run*: a run directory or one of its checkpoint directories (the model is that checkpoint;
    for a run, its latest). *dataset*: the full dataset it was trained on (default: the
    registered dataset its config names, after *overrides* such as
    ``["dataset.options.path=..."]``). Thread-safe: the server calls it from many threads.
    The loading, names, ground truth and listings are the :class:`LoadedRun` ``run``'s; the
    codes and uploads kept between requests are in :mod:`groupsup.explore.memory`.
    """

    def __init__(self, run: str | Path, *, dataset: GroupDataset | None = None,
                 overrides: list[str] | None = None, device: str = "cpu",
                 limits: Limits | None = None, registries: Registries | None = None):
        self.run = loaded = LoadedRun(run, dataset=dataset, overrides=overrides, device=device,
                                      registries=registries)
        self.checkpoint, self.run_dir = loaded.checkpoint, loaded.run_dir
        self.config, self.dataset, self.model = loaded.config, loaded.dataset, loaded.model
        self.names, self.free, self.blocks = loaded.names, loaded.free, loaded.blocks
        self.values, self.train, self.held_out = loaded.values, loaded.train, loaded.held_out
        self.device, self.limits = device, limits or Limits()
        # block j of a composition comes from provider _block_of[j]; an extra block the schema
        # does not name (a baseline's) comes from the first provider
        self._block_of = [self.blocks.index(b) if b in self.blocks else 0
                          for b in self.model.partition.names]
        self._encode = Coalescer(self._encode_batch)
        self._decode = Coalescer(self._decode_batch)
        self._codes = ExampleCodes(lambda ids: self._encode(self.dataset.load(ids)))
        self._uploads = Uploads(self.limits.uploads)

    # ------------------------------------------------------------------ request parsing
    def attribute(self, value: Any, field: str = "attribute") -> int:
        """The index of the attribute named *value*."""
        return self.run.attribute(value, field)

    def block(self, value: Any, field: str = "attribute") -> str:
        """The name of an attribute or of the unlabelled block."""
        return self.run.block(value, field)

    def provider(self, value: Any, field: str) -> Provider:
        """An example id in range or the id of a kept upload."""
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(self.dataset):
                return value
            raise RequestError(field, f"example {value} out of range 0..{len(self.dataset) - 1}")
        if isinstance(value, str) and checks.UPLOAD_ID.fullmatch(value):
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
        examples = self._codes.get(p for p in providers if isinstance(p, int))
        return torch.stack([self._uploads.code(p) if isinstance(p, str) else examples[p]
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

    def labels_of(self, provider: Provider) -> list[int] | None:
        """The label codes of an example; ``None`` for an upload (it has none)."""
        return self.run.labels_of(provider)

    def truth(self, combination: list[int] | None, image: np.ndarray) -> dict[str, Any]:
        """The ground truth of *combination* where the data holds it, and the error of *image*
        ``(H, W, C)`` uint8 against it (MSE and PSNR on images in [-1, 1])."""
        return self.run.truth(combination, image)

    # ------------------------------------------------------------------ the API's actions
    def synthesize(self, request: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """``{"providers": {attribute: provider}}`` -> (PNG, what the page shows beside it:
        the requested combination by value, ground truth and error where known)."""
        providers = self.providers(request.get("providers"))
        image = self.decode(self.compose(providers)[None])[0]
        # the values come from the attributes' providers; the unlabelled block's names none
        combination = [self.labels_of(p) for p in providers[:len(self.names)]]
        codes = None if None in combination else [row[j] for j, row in enumerate(combination)]
        return png_bytes(image), {"combination": self.run.named(codes),
                                  **self.truth(codes, image)}

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
            count = checks.json_int(request.get("count", FREE_SWEEP), "count", 1,
                                    self.limits.sweep)
            seed = checks.json_int(request.get("seed", 0), "seed", 0, 2**32 - 1)
            picks = free_picks(self.train, base, count, seed)
            values = [None] * len(picks)
        else:
            picks, found = value_picks(self.dataset.labels, self.train, k, base_labels)
            values = list(found)
        block = self.run.columns(name)
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
        block = self.run.columns(name)
        code[block] = (1 - t) * code[block] + t * end[block]
        return png_bytes(self.decode(code[None])[0])

    def upload(self, data: bytes) -> dict[str, Any]:
        """Validate an image (size in bytes, format, pixel size, mode), encode it and keep its
        code; returns ``{"upload": id, ...}``."""
        pixels = checks.decode_upload(data, self.model.image_shape, self.limits.upload_bytes)
        h, w = self.model.image_shape[1:]
        code = self._encode(to_tensor(pixels[None]))[0]
        return {"upload": self._uploads.add(code, png_bytes(pixels)), "width": w, "height": h}

    def upload_png(self, name: str) -> bytes:
        """The PNG of a kept upload (as decoded, in the model's channels)."""
        return self._uploads.png(name)

    def thumbnail(self, example: int) -> bytes:
        """The PNG of an example."""
        self.provider(example, "example")
        return png_bytes(self.dataset.load_uint8([example])[0])

    # ------------------------------------------------------------------ listings
    def info(self) -> dict[str, Any]:
        """What the page needs first (:meth:`LoadedRun.info`, with this server's limits)."""
        return self.run.info(self.limits)

    def examples(self, query: Mapping[str, str]) -> dict[str, Any]:
        """A page of examples matching the *query*'s filters (:meth:`LoadedRun.examples`)."""
        return self.run.examples(query, self.limits)

    def run_info(self) -> dict[str, Any]:
        """The run's training curves and latest evaluation (:meth:`LoadedRun.run_info`)."""
        return self.run.run_info()
