"""Data-parallel training under ``torchrun``: process group set-up and the DDP wrapper."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from groupsup.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (``world_size == 1`` when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """This process's place as ``torchrun`` describes it in the environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init_distributed(device: torch.device, info: DistInfo) -> None:
    """Join the process group (gloo on CPU, nccl on CUDA) when running under ``torchrun``."""
    if not info.enabled or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def device_for(spec: str, info: DistInfo | None = None) -> torch.device:
    """Resolve ``train.device``: ``auto`` picks cuda, then mps, then cpu."""
    if spec == "auto":
        if torch.cuda.is_available():
            spec = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            spec = "mps"
        else:
            spec = "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise ConfigError(f"train.device: {err}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("train.device is 'cuda' but no CUDA device is available")
        if device.index is None and info is not None and info.enabled:
            device = torch.device("cuda", info.local_rank)
    return device


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over all processes (identity when not distributed)."""
    if not info.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value / info.world_size


def broadcast_from_main(obj: Any, info: DistInfo) -> Any:
    """Rank 0's *obj* (picklable) on every process (itself when not distributed)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_ddp(module: nn.Module, device: torch.device, info: DistInfo) -> nn.Module:
    if not info.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
