"""The ``Backbone`` base class: an encoder/decoder pair for one image shape and latent size.

A backbone is registered by name through the ``register_backbones`` hook and built as
``BackboneClass(image_shape, latent_size, config)``. Its options are a pydantic model
(``BackboneClass.Config``, ``extra="forbid"``) so that a misspelled key is an error naming it,
and so that a checkpoint can store them as JSON and rebuild the network without pickled code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from groupsup.errors import ConfigError
from groupsup.validation import validate

Output = Literal["tanh", "logits"]


class BackboneConfig(BaseModel):
    """Base of every backbone's options; subclasses add fields. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backbone(nn.Module):
    """Encoder ``(B, C, H, W) -> (B, Z)`` and decoder ``(B, Z) -> (B, C, H, W)``.

    Subclasses set ``Config`` to their options model, build their layers in ``__init__`` after
    calling ``super().__init__(image_shape, latent_size, config)``, and implement
    :meth:`encode` and :meth:`decode`. ``output`` says what :meth:`decode` returns: ``"tanh"``
    (images in ``[-1, 1]``) or ``"logits"`` (Bernoulli logits, e.g. binary dSprites images).
    Override :meth:`check_image_shape` to reject shapes the architecture cannot handle.
    ``accepts_free``: whether the backbone can serve a schema with an unlabelled block
    (:class:`~groupsup.Free`); a backbone whose code layout is fixed by its own design sets it
    False, and the model refuses such a schema in one line.
    """

    Config: ClassVar[type[BackboneConfig]] = BackboneConfig
    output: Output = "tanh"
    accepts_free: ClassVar[bool] = True

    def __init__(self, image_shape: tuple[int, int, int], latent_size: int,
                 config: BackboneConfig | Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.config = self.parse_config(config)
        shape = _image_shape(image_shape, type(self).__name__)
        self.check_image_shape(shape)
        if not isinstance(latent_size, int) or isinstance(latent_size, bool) or latent_size <= 0:
            raise ConfigError(f"{type(self).__name__}: latent_size must be a positive int, "
                              f"got {latent_size!r}")
        self.image_shape: tuple[int, int, int] = shape
        self.latent_size: int = latent_size

    @classmethod
    def parse_config(cls, config: BaseModel | Mapping[str, Any] | None) -> BackboneConfig:
        """Validate *config* (``None``, a mapping or a pydantic model) into ``cls.Config``.

        Raises :class:`~groupsup.errors.ConfigError` naming the key at fault.
        """
        if isinstance(config, cls.Config):
            return config
        if config is None:
            raw: Mapping[str, Any] = {}
        elif isinstance(config, BaseModel):
            raw = config.model_dump()
        elif isinstance(config, Mapping):
            raw = config
        else:
            raise ConfigError(f"{cls.__name__} config must be a mapping or a pydantic model, "
                              f"got {type(config).__name__}")
        return validate(cls.Config, dict(raw), f"{cls.__name__} config")

    def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
        """Raise :class:`~groupsup.errors.ConfigError` for shapes this backbone cannot build."""

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`~groupsup.errors.ConfigError` unless *x* is ``(B, C, H, W)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ConfigError(f"{type(self).__name__} expects images of shape (B, "
                              f"{', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")

    def check_code(self, z: torch.Tensor) -> None:
        """Raise :class:`~groupsup.errors.ConfigError` unless *z* is ``(B, Z)``."""
        if z.ndim != 2 or z.shape[1] != self.latent_size:
            raise ConfigError(f"{type(self).__name__} expects codes of shape (B, "
                              f"{self.latent_size}), got {tuple(z.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(B, C, H, W)`` in ``[-1, 1]`` -> codes ``(B, Z)``."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, Z)`` -> ``(B, C, H, W)`` images (``tanh``) or logits (``logits``)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``decode(encode(x))``: raw decoder output ``(B, C, H, W)``."""
        return self.decode(self.encode(x))

    def extra_repr(self) -> str:
        return (f"image_shape={self.image_shape}, latent_size={self.latent_size}, "
                f"output={self.output!r}")


def _image_shape(image_shape: Any, owner: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner}: image_shape must be (C, H, W), got {image_shape!r}") from None
    if len(shape) != 3 or min(shape) <= 0:
        raise ConfigError(f"{owner}: image_shape must be three positive ints (C, H, W), "
                          f"got {image_shape!r}")
    return shape  # type: ignore[return-value]

