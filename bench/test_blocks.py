"""Block level: n stacked 3x3 convs against one (2n+1)x(2n+1) conv, n in {2, 3}, C in = C out.

The stack does 9n C^2 multiply-adds per pixel, the single kernel (2n+1)^2 C^2: the
single kernel does 39% (n=2) or 81% (n=3) more work. Is it slower by as much?
"""

import pytest
import torch
from conftest import DEVICE, ON_GPU

from vggbench.models.vgg import variant_block

BATCH, CHANNELS, SIDE = (64, 128, 56) if ON_GPU else (8, 64, 56)


@pytest.mark.parametrize("direction", ["forward", "forward_backward"])
@pytest.mark.parametrize("variant", ["stack", "single"])
@pytest.mark.parametrize("num_convs", [2, 3])
def test_block(timed, num_convs, variant, direction):
    block = variant_block(variant, num_convs, CHANNELS, CHANNELS, SIDE).to(DEVICE)
    images = torch.rand(BATCH, CHANNELS, SIDE, SIDE, device=DEVICE)

    def forward():
        with torch.inference_mode():
            block(images)

    def forward_backward():
        block.zero_grad(set_to_none=True)
        block(images).sum().backward()

    weights_per_pair = sum(conv.kernel_size[0] ** 2 for conv in block if isinstance(conv, torch.nn.Conv2d))
    macs = weights_per_pair * CHANNELS * CHANNELS * SIDE * SIDE * BATCH
    factor = 1 if direction == "forward" else 3
    work = forward if direction == "forward" else forward_backward
    timed(
        work,
        flops=2 * factor * macs,
        rounds=8,
        num_convs=num_convs,
        variant=variant,
        direction=direction,
        batch_size=BATCH,
        channels=CHANNELS,
        side_px=SIDE,
        macs=macs,
    )
