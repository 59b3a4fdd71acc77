"""SwapAutoencoder: a backbone plus the schema's latent partition.

The encoder's code ``z`` (width = the schema's latent size) is split into one block per
attribute (and, where the schema declares one, an unlabelled block last); swapping and
recombining blocks is what group-supervised training teaches the decoder to honour, and what
zero-shot synthesis uses::

    model = gs.build_model("conv-small", schema=Shapes, image_shape=(3, 32, 32))
    images = model.synthesize({"shape": a, "color": b, "position": c})

A model saves as two files, weights (safetensors) and a JSON config naming the backbone's
registry entry, its options, the schema and the plugin distribution it came from
(:mod:`groupsup.persistence`, the same format as a training checkpoint's model); loading
executes no code from the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from torch import nn

from groupsup.backbones.base import Backbone
from groupsup.backbones.warp import WARP_KINDS, FreeWarp
from groupsup.errors import ConfigError, DataError, GroupsupError, PartitionError, PluginError
from groupsup.partition import AttributeSelector, LatentPartition
from groupsup.persistence import missing_plugin, read_model, write_model
from groupsup.registry import Entry, Registries
from groupsup.schema import Schema


class SwapAutoencoder(nn.Module):
    """Encoder/decoder whose latent code is partitioned into one block per attribute.

    *backbone* is a registry name (``"conv-small"``, ``"gzsnet"``, ...) built with
    *backbone_config*, or a ready :class:`~groupsup.Backbone` instance whose latent size
    must equal the schema's.

    *micro_batch* (also settable later as an attribute) runs encoder and decoder calls on
    more images than this in chunks of that many: the same result for backbones whose
    layers treat samples independently (both built-ins do), and on CPU about 1.5x faster
    for calls of hundreds of images, whose activations no longer fit in cache. ``None``
    (the default; right for GPUs) runs every call whole.

    *registries* holds the backbones a name is looked up in and an instance's class is named
    from (for :meth:`config_dict`); :func:`groupsup.build_model` defaults to the host's.

    *free_warp* (``"shift"`` or ``"affine"``; needs an unlabelled block) makes that block a
    geometric one: the backbone's decoder never sees it, and it only translates (or affinely
    warps) the decoded image (:mod:`groupsup.backbones.warp`), so it can hold where the
    content sits but not what it is. ``None`` (the default): the block is one more decoder
    input.
    """

    def __init__(self, backbone: str | Backbone, schema: type[Schema],
                 image_shape: tuple[int, int, int],
                 backbone_config: Mapping[str, Any] | BaseModel | None = None, *,
                 registries: Registries, micro_batch: int | None = None,
                 free_warp: str | None = None) -> None:
        super().__init__()
        self.micro_batch = micro_batch
        self.registries = registries  # where the backbone is looked up and named from
        self.schema = schema
        self.partition: LatentPartition = schema.partition
        self.image_shape: tuple[int, int, int] = tuple(int(s) for s in image_shape)  # type: ignore
        self._entry, self.backbone = _backbone_of(backbone, backbone_config, registries,
                                                  self.image_shape, self.partition.size)
        self.backbone_name: str | None = self._entry.name if self._entry else None
        _check_backbone(self)
        self.free_warp = free_warp
        self.warp: FreeWarp | None = _free_warp(free_warp, schema, self.partition)

    # ------------------------------------------------------------------ description
    @property
    def micro_batch(self) -> int | None:
        """Largest number of images per encoder/decoder call (``None``: no limit)."""
        return self._micro_batch

    @micro_batch.setter
    def micro_batch(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value <= 0):
            raise ConfigError(f"micro_batch must be a positive int or None, got {value!r}")
        self._micro_batch = value

    @property
    def output(self) -> str:
        """What :meth:`decode` returns: ``"tanh"`` images or ``"logits"``."""
        return self.backbone.output

    def describe_backbone(self) -> str:
        """The backbone's registry name (or class name), quoted, for messages."""
        return repr(self.backbone_name or type(self.backbone).__name__)

    def extra_repr(self) -> str:
        warp = f", free_warp={self.free_warp!r}" if self.free_warp is not None else ""
        return f"backbone={self.describe_backbone()}, partition={self.partition}{warp}"

    # ------------------------------------------------------------------ network
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` in ``[-1, 1]`` -> codes ``(B, Z)``."""
        return self._chunked(self.backbone.encode, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, Z)`` -> raw decoder output ``(B, C, H, W)`` (tanh image or logits)."""
        self.partition.check(z)
        if self.warp is None:
            return self._chunked(self.backbone.decode, z)
        free = z[:, self.partition.slice(self.partition.free)]
        template = self._chunked(self.backbone.decode,
                                 self.partition.with_block(z, self.partition.free,
                                                           torch.zeros_like(free)))
        return self.warp(template, free)

    def _chunked(self, network: Any, batch: torch.Tensor) -> torch.Tensor:
        if self.micro_batch is None or len(batch) <= self.micro_batch:
            return network(batch)
        return torch.cat([network(part) for part in batch.split(self.micro_batch)])

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """Raw decoder output -> images in ``[-1, 1]`` (``sigmoid * 2 - 1`` for logits)."""
        return torch.sigmoid(y) * 2 - 1 if self.output == "logits" else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw decoder output of the reconstruction, ``(B, C, H, W)``."""
        return self.decode(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> reconstructed images in ``[-1, 1]``."""
        return self.to_image(self.forward(x))

    def swap(self, x_a: torch.Tensor, x_b: torch.Tensor, attributes: AttributeSelector
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exchange the *attributes* blocks of two image batches; returns images ``(y_a, y_b)``.

        *attributes*: a name, a list of names, or a ``(B,)`` tensor of block indices per row.
        One encoder and one decoder call for both batches.
        """
        if x_a.shape != x_b.shape:
            raise ConfigError(f"swap needs image batches of one shape, got {tuple(x_a.shape)} "
                              f"and {tuple(x_b.shape)}")
        z_a, z_b = self.encode(torch.cat([x_a, x_b])).chunk(2)
        s_a, s_b = self.partition.swap(z_a, z_b, attributes)
        return self.to_image(self.decode(torch.cat([s_a, s_b]))).chunk(2)

    def synthesize(self, sources: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Zero-shot recombination: block j of the code comes from ``sources[attribute_j]``
        (and the unlabelled block, if the schema has one, from ``sources[its name]``).

        Each source is an image batch ``(B, C, H, W)`` or one image ``(C, H, W)`` (broadcast
        over the batch). Sources given as the same tensor are encoded once; all are encoded in
        one call. Returns images ``(B, C, H, W)`` in ``[-1, 1]``.
        """
        names = self.partition.names
        unique = _batched_sources(sources, self.partition, self.image_shape)
        keys = list(unique)
        codes = self.encode(torch.cat([unique[k] for k in keys])).split(
            [unique[k].shape[0] for k in keys])
        code_of = dict(zip(keys, codes))
        z = self.partition.compose({n: code_of[id(sources[n])] for n in names})
        return self.to_image(self.decode(z))

    # ------------------------------------------------------------------ persistence
    def config_dict(self) -> dict[str, Any]:
        """JSON-able description that :meth:`from_config` rebuilds (without weights)."""
        if self._entry is None:
            raise PluginError(f"backbone {type(self.backbone).__name__} is not registered through "
                              "register_backbones, so the model cannot be described by name; "
                              "register it in a plugin to save the model")
        return {
            "backbone": self.backbone_name,
            "backbone_config": self.backbone.config.model_dump(mode="json"),
            "schema": self.schema.to_dict(),
            "image_shape": list(self.image_shape),
            **({"free_warp": self.free_warp} if self.free_warp is not None else {}),
            "plugin": {"name": self._entry.plugin, "distribution": self._entry.distribution,
                       "version": self._entry.version,
                       **_location_of(self._entry.plugin, self.registries)},
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any], registries: Registries) -> SwapAutoencoder:
        """Rebuild a model (fresh weights) from :meth:`config_dict` output and *registries*."""
        _check_model_config(config)
        name = config["backbone"]
        if name not in registries.backbones:
            missing_plugin(name, config.get("plugin") or {})
            registries.backbones.entry(name)  # raises RegistryError with a did-you-mean
        schema = Schema.from_dict(config["schema"])
        return cls(name, schema, tuple(config["image_shape"]), config["backbone_config"],
                   registries=registries, free_warp=config.get("free_warp"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights (safetensors) and config (JSON); returns the config file's path.

        *path* ending in ``.safetensors`` or ``.json`` names a file pair (``x.safetensors`` +
        ``x.json``); any other path is a directory receiving ``model.safetensors`` and
        ``model.json`` (:mod:`groupsup.persistence`). Each file is written to a temporary name
        and renamed into place.
        """
        return write_model(path, self.config_dict(), self.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
             registries: Registries) -> SwapAutoencoder:
        """Rebuild a model saved by :meth:`save`, or that of a checkpoint directory or a run
        directory (its latest checkpoint), and load its weights onto *map_location*; the
        backbone is looked up in *registries*."""
        saved = read_model(path, map_location)
        try:
            model = cls.from_config(saved.config, registries)
        except GroupsupError as err:
            raise type(err)(f"{saved.config_file}: {err}") from None
        model.load_weights_from(saved.state, saved.weights_file)
        return model.to(map_location)

    def load_weights_from(self, state: Mapping[str, torch.Tensor], origin: str | Path) -> None:
        """Load *state* (a state dict read from *origin*), or raise a :class:`DataError` naming
        the file and what does not fit: missing and unexpected tensors, and shapes."""
        problems = _weight_problems(self.state_dict(), state)
        if problems:
            raise DataError(f"{origin}: weights do not fit backbone {self.describe_backbone()} "
                            f"({self.partition}): {'; '.join(problems)}")
        self.load_state_dict(state)


def _backbone_of(backbone: str | Backbone, config: Mapping[str, Any] | BaseModel | None,
                 registries: Registries, image_shape: tuple[int, int, int], latent_size: int
                 ) -> tuple[Entry[Any] | None, Backbone]:
    """The registry entry (``None`` for an unregistered class) and the backbone instance of
    *backbone*, a registry name (built here with *config*) or an instance."""
    if isinstance(backbone, str):
        entry = registries.backbones.entry(backbone)
        return entry, entry.obj(image_shape, latent_size, config)
    if isinstance(backbone, Backbone):
        if config is not None:
            raise ConfigError("backbone_config applies to a backbone given by name; this "
                              f"{type(backbone).__name__} instance is already configured")
        return _entry_of(type(backbone), registries), backbone
    raise ConfigError(f"backbone must be a registry name or a Backbone instance, got "
                      f"{type(backbone).__name__}")


def _check_backbone(model: SwapAutoencoder) -> None:
    """The backbone of *model* fits its partition (width, unlabelled block) and images."""
    backbone, partition, schema = model.backbone, model.partition, model.schema.__name__
    if backbone.latent_size != partition.size:
        raise PartitionError(
            f"backbone {model.describe_backbone()} has latent size {backbone.latent_size}, "
            f"but schema {schema}'s partition totals {partition.size} ({dict(partition)})")
    if partition.free is not None and not type(backbone).accepts_free:
        raise ConfigError(
            f"backbone {model.describe_backbone()} cannot take an unlabelled block (schema "
            f"{schema} declares {partition.free!r} of width {partition.sizes[-1]}): set "
            "schema.free = 0 or choose another backbone")
    if tuple(backbone.image_shape) != model.image_shape:
        raise ConfigError(f"backbone {model.describe_backbone()} was built for images "
                          f"{backbone.image_shape}, the model for {model.image_shape}")


def _free_warp(kind: str | None, schema: type[Schema], partition: LatentPartition
               ) -> FreeWarp | None:
    """The warp head of ``free_warp=`` *kind* (``None``: none), checked against the schema."""
    if kind is None:
        return None
    if kind not in WARP_KINDS:
        raise ConfigError(f"free_warp must be one of {list(WARP_KINDS)} or None, got {kind!r}")
    if partition.free is None:
        raise ConfigError(f"free_warp={kind!r} moves the image by the unlabelled block, but "
                          f"schema {schema.__name__} declares none: set schema.free to its "
                          "width (e.g. 2)")
    return FreeWarp(partition.sizes[-1], kind)  # type: ignore[arg-type]


def _batched_sources(sources: Mapping[str, torch.Tensor], partition: LatentPartition,
                     image_shape: tuple[int, int, int]) -> dict[int, torch.Tensor]:
    """*sources* (one per block) checked and batched, keyed by tensor identity so that a tensor
    given for several blocks is encoded once."""
    names = partition.names
    missing = [n for n in names if n not in sources]
    extra = [n for n in sources if n not in names]
    if missing or extra:
        free = partition.free
        hint = (f" (and one for the unlabelled block {free!r}: the image whose unnamed "
                "variation to keep)" if free in missing else "")
        raise PartitionError(f"synthesize needs one source image per block {list(names)}"
                             f"{hint}; missing {missing}, unexpected {extra}")
    unique: dict[int, torch.Tensor] = {}
    for name in names:
        x = sources[name]
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or tuple(x.shape[1:]) != image_shape:
            shape = ", ".join(map(str, image_shape))
            raise ConfigError(f"source for {name!r} must be (B, {shape}) or ({shape}), "
                              f"got {tuple(sources[name].shape)}")
        unique.setdefault(id(sources[name]), x)
    return unique


def _weight_problems(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]
                     ) -> list[str]:
    """What does not fit when loading *state* into a model whose state dict is *own*."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} is {tuple(state[k].shape)} in the file, {tuple(v.shape)} in the model"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    return ([f"missing {_few(missing)}"] if missing else []) + (
        [f"unexpected {_few(unexpected)}"] if unexpected else []) + shapes[:3] + (
        [f"{len(shapes) - 3} more shapes differ"] if len(shapes) > 3 else [])


def _few(keys: list[str], shown: int = 3) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(repr(k) for k in keys[:shown]) + more


def _check_model_config(config: Any) -> None:
    """Refuse a model config of the wrong shape, naming the key (the caller adds the file)."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"model config must be a JSON object, got {type(config).__name__}")
    for key in ("backbone", "backbone_config", "schema", "image_shape"):
        if key not in config:
            raise ConfigError(f"model config lacks key {key!r}; has {sorted(config)}")
    for key, kind in (("backbone", str), ("backbone_config", Mapping), ("schema", Mapping)):
        if not isinstance(config[key], kind):
            raise ConfigError(f"model config key {key!r} must be a "
                              f"{'string' if kind is str else 'JSON object'}, "
                              f"got {config[key]!r}")
    shape = config["image_shape"]
    if (not isinstance(shape, list) or len(shape) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
        raise ConfigError(f"model config key 'image_shape' must be [C, H, W] of positive "
                          f"integers, got {shape!r}")
    if not isinstance(config.get("plugin") or {}, Mapping):
        raise ConfigError(f"model config key 'plugin' must be a JSON object, "
                          f"got {config['plugin']!r}")


def _location_of(plugin: str, registries: Registries) -> dict[str, str]:
    """``{"location": ...}`` for a local plugin (its file or module), so a checkpoint can say
    what to add to ``GROUPSUP_PLUGINS``; ``{}`` for an installed one (or registries that know
    no plugins)."""
    info = getattr(registries, "plugins", {}).get(plugin)
    return {"location": info.location} if info is not None and info.location else {}


def _entry_of(backbone_class: type, registries: Registries) -> Entry[Any] | None:
    for entry in registries.backbones:
        if entry.obj is backbone_class:
            return entry
    return None


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
               registries: Registries) -> SwapAutoencoder:
    """The :class:`SwapAutoencoder` saved at *path* (a model directory or file pair, a
    checkpoint directory, or a run directory: its latest checkpoint), with its weights on
    *map_location*: :meth:`SwapAutoencoder.load`."""
    return SwapAutoencoder.load(path, map_location, registries=registries)
