"""Where and how this process trains: device, place in the process group, threads, AMP.

:meth:`Runtime.start` applies the config's ``[train]`` section to the process (threads,
device, process group under ``torchrun``) and checks what cannot run here (AMP emulated on
this CPU, shards that do not split over the processes); the rest of training asks the
runtime for autocast, the gradient scaler, the wrapped step module and cross-process means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from groupsup.errors import ConfigError
from groupsup.train.config import TrainConfig
from groupsup.train.distributed import (
    DistInfo,
    all_reduce_mean,
    broadcast_from_main,
    device_for,
    env_info,
    init_distributed,
    shutdown,
    wrap_ddp,
)
from groupsup.train.loader import Shards
from groupsup.train.preflight import check_amp

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Runtime:
    """This process's device, place in the job (*dist*), shard split and precision."""

    device: torch.device
    dist: DistInfo
    shards: Shards
    amp: str  # "off", "bf16" or "fp16"
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def start(cls, train: TrainConfig) -> Runtime:
        """Set threads, pick the device and join the process group as *train* says."""
        if train.threads:
            torch.set_num_threads(train.threads)
        dist = env_info()
        device = device_for(train.device, dist)
        init_distributed(device, dist)
        check_amp(train, device)
        shards = Shards(train.groups_per_step, train.shards, dist.world_size)
        if shards.problem() is not None:
            raise ConfigError(
                f"train.shards={train.shards} must be a multiple of the process count "
                f"({dist.world_size}) and divide train.groups_per_step="
                f"{train.groups_per_step}")
        return cls(device, dist, shards, train.amp, train.channels_last, train.compile)

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0 (the process that writes the run's files)."""
        return self.dist.is_main

    def autocast(self) -> torch.autocast:
        dtype = _AMP_DTYPES.get(self.amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """fp16 on CUDA scales the loss; everything else runs unscaled."""
        return torch.amp.GradScaler(self.device.type,
                                    enabled=self.amp == "fp16" and self.device.type == "cuda")

    def place(self, model: nn.Module) -> nn.Module:
        """*model* on this device (channels-last where the config asks)."""
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def images(self, images: torch.Tensor) -> torch.Tensor:
        """A step's images in the memory format the model was placed in."""
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last \
            else images

    def wrap(self, module: nn.Module) -> nn.Module:
        """*module* compiled (``train.compile``) and wrapped for data-parallel training."""
        if self.compile:
            module = torch.compile(module)
        return wrap_ddp(module, self.device, self.dist)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """*values* averaged over the processes."""
        return all_reduce_mean(values, self.dist)

    def from_main(self, obj: Any) -> Any:
        """Rank 0's *obj* on every process."""
        return broadcast_from_main(obj, self.dist)

    def stop(self) -> None:
        """Leave the process group (after a barrier)."""
        shutdown(self.dist)
