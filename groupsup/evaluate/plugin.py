"""Registers the built-in code metrics through the same hook third-party plugins use."""

from __future__ import annotations

from groupsup.evaluate.latent import CODE_METRICS
from groupsup.hookspecs import Register, hookimpl


@hookimpl
def register_metrics(register: Register) -> None:
    for name, (metric, description) in CODE_METRICS.items():
        register(name, metric, description=description)
