"""What a training run sets up before its first step: each seed's initial model and random streams, the
optimizer, the precision, and each seed's training images.

The trainer (vggbench.measure.train) runs the steps on what these make.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from vggbench.measure import validation
from vggbench.measure.setups import TrainConfig
from vggbench.models.arch import ModelSpec
from vggbench.models.factory import build_model
from vggbench.models.vgg import VGG, initialize


def initial_models(spec: ModelSpec, seeds: tuple[int, ...], init: str) -> list[VGG]:
    """A model per seed, each with the initial weights (by scheme `init`) a lone run of that seed would have."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(initialize(build_model(spec), init))
    return models


def optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # fused: the same update as one kernel over all parameters; on the CPU, where torch's default is a loop
    # over the parameters, 3-11% faster per training step than the default (vgg11/vgg13 at ratio 8, 32 px).
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay, fused=True
        )
    return torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay, fused=True)


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """The share of the base learning rate that optimizer step `step` (0-based) of `steps` uses: 1 throughout
    (constant), or from 1 at the first step towards 0 after the last (cosine, linear)."""
    done = step / steps
    return {"constant": 1.0, "cosine": 0.5 * (1 + math.cos(math.pi * done)), "linear": 1 - done}[schedule]


def scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning rate schedule over a run of `steps` optimizer steps, stepped after each one."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(config.lr_schedule, step, steps))


def memory_format(config: TrainConfig) -> torch.memory_format:
    return torch.channels_last if config.channels_last else torch.contiguous_format


def grad_scaler(config: TrainConfig) -> torch.amp.GradScaler:
    """Loss scaling, which fp16 needs (its gradients underflow) and the other precisions do without."""
    return torch.amp.GradScaler(config.device, enabled=config.precision == "fp16")


def autocast(config: TrainConfig) -> torch.autocast:
    """Mixed precision for the forward pass at the configured precision; off for fp32."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.precision)
    return torch.autocast(torch.device(config.device).type, dtype=dtype, enabled=dtype is not None)


def _stream_seed(seed: int, stream: int) -> int:
    """The seed of one of a run's random streams (1: dropout, 2: training subset): drawn from its seed, apart
    from its data order's and from each other."""
    return int(np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1, dtype=np.uint64)[0] >> 1)


def streams(seeds: tuple[int, ...], device: str) -> tuple[list[torch.Generator], list[torch.Generator]]:
    """Each seed's data order (on the CPU) and dropout masks (on `device`), as generators."""
    shuffles = [torch.Generator().manual_seed(seed) for seed in seeds]
    dropouts = [torch.Generator(device).manual_seed(_stream_seed(seed, 1)) for seed in seeds]
    return shuffles, dropouts


def subsets(total: int, seeds: tuple[int, ...], config: TrainConfig) -> list[torch.Tensor]:
    """Each seed's training images, as indices into the `total` training images, none of those held out for
    validation (vggbench.measure.validation): the first `train_limit` of the rest, or with `subset_per_seed` (and a
    limit below the rest) `train_limit` drawn without replacement from the rest by the seed's own stream, so that a
    seed's subset is the same alone or in a group."""
    rest = validation.split(total, config.validation_images)[1]
    count = min(config.train_limit or len(rest), len(rest))
    if not config.subset_per_seed or count == len(rest):
        return [rest[:count]] * len(seeds)
    draws = [torch.Generator().manual_seed(_stream_seed(seed, 2)) for seed in seeds]
    return [rest[torch.randperm(len(rest), generator=draw)[:count].sort().values] for draw in draws]


def normalization(images: torch.Tensor, normalize: bool) -> tuple[float | None, float | None]:
    """(mean, std) of the training pixels in [0, 1] when normalizing, else (None, None)."""
    if not normalize:
        return None, None
    pixels = images.float().div(255)
    return pixels.mean().item(), pixels.std().item()
