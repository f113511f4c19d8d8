"""FLOPs of one image's step, counted by PyTorch itself rather than assumed.

`torch.utils.flop_counter.FlopCounterMode` counts the FLOPs (2 per multiply-add) of the
matrix products and convolutions a step dispatches, the backward pass's included. The
count runs on a model without storage ('meta' tensors), so it costs no memory and no
time. It leaves out element-wise work (ReLU, pooling, batch norm, the optimizer's
update), as fvcore's count of the forward pass does for ReLU and pooling.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vggbench.models.arch import ModelSpec
from vggbench.models.factory import build_model


@functools.cache
def step_flops(spec: ModelSpec, mode: str) -> int:
    """FLOPs of one image: its forward pass (`infer`), or forward, loss and backward (`train`)."""
    with torch.device("meta"):
        model = build_model(spec).train(mode == "train")
        images = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)
        labels = torch.zeros(1, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        if mode == "train":
            nn.functional.cross_entropy(model(images), labels).backward()
        else:
            with torch.no_grad():
                model(images)
    return int(counter.get_total_flops())
