"""What a training run sets up before its first step: each seed's initial model and random streams, the
optimizer, the precision, and the data placed on the device.

The trainer (vggbench.measure.train) runs the steps on what these make.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vggbench.arch import ModelSpec
from vggbench.data import FashionMNIST
from vggbench.models import VGG, build_spec
from vggbench.setups import TrainConfig


def initial_models(spec: ModelSpec, seeds: tuple[int, ...]) -> list[VGG]:
    """A model per seed, each with the initial weights a lone run of that seed would have."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(build_spec(spec))
    return models


def optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # fused: the same update as one kernel over all parameters; on the CPU, where torch's default is a loop
    # over the parameters, 3-11% faster per training step than the default (vgg11/vgg13 at ratio 8, 32 px).
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay, fused=True
        )
    return torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay, fused=True)


def memory_format(config: TrainConfig) -> torch.memory_format:
    return torch.channels_last if config.channels_last else torch.contiguous_format


def grad_scaler(config: TrainConfig) -> torch.amp.GradScaler:
    """Loss scaling, which fp16 needs (its gradients underflow) and the other precisions do without."""
    return torch.amp.GradScaler(config.device, enabled=config.precision == "fp16")


def autocast(config: TrainConfig) -> torch.autocast:
    """Mixed precision for the forward pass at the configured precision; off for fp32."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision)
    return torch.autocast(torch.device(config.device).type, dtype=dtype, enabled=dtype is not None)


def _dropout_seed(seed: int) -> int:
    """The seed of a run's dropout stream: drawn from its seed, apart from its data order's."""
    return int(np.random.SeedSequence(seed, spawn_key=(1,)).generate_state(1, dtype=np.uint64)[0] >> 1)


def streams(seeds: tuple[int, ...], device: str) -> tuple[list[torch.Generator], list[torch.Generator]]:
    """Each seed's data order (on the CPU) and dropout masks (on `device`), as generators."""
    shuffles = [torch.Generator().manual_seed(seed) for seed in seeds]
    dropouts = [torch.Generator(device).manual_seed(_dropout_seed(seed)) for seed in seeds]
    return shuffles, dropouts


def placed(data: FashionMNIST, config: TrainConfig) -> tuple[FashionMNIST, torch.Tensor, torch.Tensor]:
    """The data set on the device, and the training images and labels a run uses (the first `train_limit`)."""
    data = data.to(config.device)
    count = min(config.train_limit or len(data.train_labels), len(data.train_labels))
    return data, data.train_images[:count], data.train_labels[:count]


def normalization(images: torch.Tensor, normalize: bool) -> tuple[float | None, float | None]:
    """(mean, std) of the training pixels in [0, 1] when normalizing, else (None, None)."""
    if not normalize:
        return None, None
    pixels = images.float().div(255)
    return pixels.mean().item(), pixels.std().item()
