"""What machine a number was measured on: CPU model and features, threads, library versions.

Timed results (steps in a budget, a demo's quality) depend on the CPU: AVX-512 doubles some
kernels, AMX and AVX512-BF16 make bf16 matrix products native, and a figure is comparable only
with another from the same kind of machine. :func:`machine` describes the current one for
``metrics.json``, reports and ``groupsup compare``; :func:`native_bf16` is what the trainer
asks before autocasting to bf16 on a CPU.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["FEATURES", "cpu_info", "describe", "differences", "machine", "native_bf16",
           "physical_memory"]

# the CPU flags (as /proc/cpuinfo spells them) that decide how fast the training step runs
FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")


@functools.cache
def cpu_info(path: str = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """``(model name, flags)`` of the first CPU in *path* (Linux); elsewhere the platform's
    processor string and no flags."""
    model, flags = "", frozenset()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine() or "unknown", flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = " ".join(value.split())
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
        if model and flags:
            break
    return model or platform.processor() or platform.machine() or "unknown", flags


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU multiplies bf16 natively (AMX or AVX512-BF16): there, bf16 autocast can
    speed a training step up; elsewhere it emulates bf16 and is much slower than fp32."""
    if flags is None:
        flags = cpu_info()[1]
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def physical_memory() -> int | None:
    """The machine's physical memory in bytes (``None`` where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def machine() -> dict[str, Any]:
    """The current machine, JSON-able: ``cpu`` (model name), ``cpu_features`` (which of
    :data:`FEATURES` it has), ``native_bf16``, ``cpus`` (logical CPUs), ``memory_gib``
    (physical memory), ``threads`` (torch's
    intra-op threads now), ``torch``, ``numpy``, ``python`` and ``platform``."""
    model, flags = cpu_info()
    memory = physical_memory()
    return {"cpu": model, "cpu_features": [f for f in FEATURES if f in flags],
            "native_bf16": native_bf16(flags), "cpus": os.cpu_count(),
            "memory_gib": None if memory is None else round(memory / 2**30, 1),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0],
            "platform": platform.platform(terse=True)}


def describe(info: dict[str, Any]) -> str:
    """One line for a console or report: ``AMD EPYC (avx2, avx512f, ...), 2 threads, torch
    2.13.0``."""
    features = ", ".join(info.get("cpu_features") or []) or "no AVX2"
    return (f"{info.get('cpu', 'unknown CPU')} ({features}), {info.get('threads')} of "
            f"{info.get('cpus')} CPUs as torch threads, torch {info.get('torch')}, numpy "
            f"{info.get('numpy')}")


def differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The keys of two :func:`machine` records whose values differ (``platform`` aside)."""
    keys = [k for k in dict.fromkeys([*a, *b]) if k != "platform"]
    return {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}
