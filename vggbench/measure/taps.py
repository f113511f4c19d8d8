"""A square sliding window, and the share of its taps that land on the zero border.

On a map not much wider than the kernel (a 5x5 on the 2x2 map of VGG's last block at 32 px) most taps multiply
padding, whatever the receptive field says. No torch here: the claim's `validity` judges models from their specs
without loading it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A square sliding window: what a layer does to the receptive field."""

    kernel: int
    stride: int
    padding: int
    dilation: int


def padding_tap_share(win: Window, side_px: int) -> float:
    """The share of the window's taps that fall on zero padding, averaged over its output positions on a
    side_px x side_px map.

    Along one axis output i reads input i*stride - padding + t*dilation for t < kernel, a real pixel where that
    lies in 0..side_px-1. The two axes are independent, so the real share of the square is the square of the
    one-axis share: (real taps over all outputs)^2 / (outputs x kernel)^2.
    """
    outputs = (side_px + 2 * win.padding - (win.kernel - 1) * win.dilation - 1) // win.stride + 1
    real = sum(
        0 <= i * win.stride - win.padding + t * win.dilation < side_px
        for i in range(outputs)
        for t in range(win.kernel)
    )
    return 1 - (real / (outputs * win.kernel)) ** 2
