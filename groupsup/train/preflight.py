"""Checks a training run passes before it starts, so that a mistake is one line, not an
out-of-memory kill or an emulated precision 18x slower than fp32."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from groupsup.errors import ConfigError
from groupsup.machine import cpu_info, native_bf16, physical_memory


def check_amp(train: Any, device: torch.device) -> None:
    """Refuse ``train.amp`` where it is emulated: bf16 on a CPU without AMX or AVX512-BF16,
    fp16 on any CPU (unless ``train.force_amp``). *train* is the config's ``[train]``."""
    if train.amp == "off" or device.type != "cpu" or train.force_amp:
        return
    cpu, flags = cpu_info()
    if train.amp == "bf16" and native_bf16(flags):
        return
    found = ", ".join(f for f in ("amx_bf16", "avx512_bf16") if f in flags) or "neither"
    raise ConfigError(
        f"train.amp={train.amp!r} on this CPU ({cpu}): reduced precision is emulated, and much "
        "slower than fp32, on CPUs without native bf16 (AMX or AVX512-BF16; found: "
        f"{found}){'; fp16 is emulated on every CPU' if train.amp == 'fp16' else ''}; use "
        "amp='off', or set train.force_amp=true to use it anyway")


def check_step_size(groups: int, dataset: Any, strategy: Any) -> None:
    """Refuse a step that cannot be meant or cannot fit, before the first one runs out of
    memory without a message: more groups than training examples, or a step whose images alone
    would take over half of the machine's memory."""
    examples = len(dataset)
    if groups > examples:
        raise ConfigError(f"train.groups_per_step={groups:,} exceeds the {examples:,} "
                          "training examples: every step would repeat each example; use at "
                          f"most {examples:,} (4-32 is usual)")
    per_group = len(strategy.sample(1, np.random.default_rng(0)).examples)
    needed = groups * per_group * math.prod(dataset.image_shape) * 4
    memory = physical_memory()
    if memory and needed > memory // 2:
        raise ConfigError(
            f"train.groups_per_step={groups:,}: one step's {groups * per_group:,} images take "
            f"{needed / 2**30:.1f} GiB as float32 before any activation, over half of this "
            f"machine's {memory / 2**30:.1f} GiB; use fewer groups per step")
