"""Backbones built around an inner registered backbone (``vae``, ``elegant``).

Such a class looks its ``inner`` backbone up in the registries it is bound to: the plugin
registers ``Cls.using(registries)`` with the registries its ``register_backbones`` hook receives,
so no plugin reaches for the global host.
"""

from __future__ import annotations

from typing import Any

import groupsup as gs


class WrapperBackbone(gs.Backbone):
    """A backbone whose ``inner`` backbone is looked up in :attr:`registries`."""

    # set by :meth:`using`
    registries: gs.Registries | None = None

    @classmethod
    def using(cls, registries: gs.Registries) -> type[Any]:
        """This class bound to *registries*, where it looks its ``inner`` backbone up."""
        return type(cls.__name__, (cls,), {"registries": registries, "__doc__": cls.__doc__,
                                           "__module__": cls.__module__})

    def build_inner(self, label: str, name: str, latent_size: int,
                    options: dict[str, Any]) -> gs.Backbone:
        """The registered backbone *name* for this image shape and a code of *latent_size*;
        *label* (the wrapper's registered name) opens the error where the class is unbound."""
        if self.registries is None:
            raise gs.ConfigError(f"{label}: build it from a registry (the plugin registers "
                                 f"{type(self).__name__}.using(registries), which looks 'inner' "
                                 "up there)")
        inner = self.registries.backbones.get(name)
        return inner(self.image_shape, latent_size, options)
