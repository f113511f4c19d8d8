"""Kernel density, after the RepVGG paper's table 1: one conv layer, C in = C out, stride 1.

FLOPs are not time: a 3x3 conv gets Winograd and tuned kernels, larger ones often
do not. Achieved GFLOP/s per kernel size shows how much each multiply-add costs.
"""

import pytest
import torch
from conftest import DEVICE, ON_GPU
from torch import nn

BATCH = 64 if ON_GPU else 8


@pytest.mark.parametrize("side", [14, 56])
@pytest.mark.parametrize("channels", [32, 128])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_conv_layer(timed, kernel, channels, side):
    conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False).to(DEVICE).eval()
    images = torch.rand(BATCH, channels, side, side, device=DEVICE)

    def forward():
        with torch.inference_mode():
            conv(images)

    macs = channels * channels * kernel * kernel * side * side * BATCH
    timed(
        forward,
        flops=2 * macs,
        rounds=10,
        kernel_px=kernel,
        channels=channels,
        side_px=side,
        batch_size=BATCH,
        macs=macs,
    )
