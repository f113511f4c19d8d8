"""Theoretical receptive field, layer by layer, from kernel, stride, padding and dilation.

For a chain of layers the receptive field of one output unit follows the recurrence
(Araujo et al., "Computing receptive fields of convolutional neural networks", 2019):

    rf_out    = rf_in + (kernel - 1) * dilation * jump_in
    jump_out  = jump_in * stride
    start_out = start_in + ((kernel - 1) * dilation / 2 - padding) * jump_in

`jump` is the distance in input pixels between neighbouring output units, and
`start` is the input-pixel coordinate of the centre of the first output unit's
field (pixel i has its centre at i). Element-wise layers (ReLU, batch norm,
dropout) leave all three unchanged. The walk stops at the first layer that is not
spatial (Flatten, Linear): past it every unit sees the whole input.

`padding_tap_share` (vggbench.measure.taps) says how much of a window lands on the zero border instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vggbench.measure.taps import Window

# Layers that act on each pixel alone leave the receptive field as it is (batch norm as it infers: a fixed affine map
# per channel; local response norm mixes channels, not pixels).
_ELEMENTWISE = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd, nn.Identity, nn.LocalResponseNorm)
# Norms whose statistics, even as they infer, are taken over the map: each unit depends on every pixel of it.
_MAP_STATISTICS = (nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
_WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
_FLAT = (nn.Flatten, nn.Linear, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_WINDOW_ATTRS = ("kernel_size", "stride", "padding", "dilation")


@dataclass(frozen=True)
class Geometry:
    """A layer's output: side in pixels and the field of one of its units."""

    out_px: int
    rf_px: int
    jump_px: int
    start_px: float


def _square(name: str, value) -> int:
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ValueError(f"{name}={value} is not supported: the receptive field walk needs square windows")
        value = value[0]
    if not isinstance(value, int):
        raise ValueError(f"{name}={value!r} is not supported: give the padding as an integer")
    return value


def window(module: nn.Module) -> Window | None:
    """The layer's window, or None for a layer after which space is gone (Flatten, Linear)."""
    if isinstance(module, _WINDOWED):
        if getattr(module, "ceil_mode", False):
            raise ValueError(f"{type(module).__name__}(ceil_mode=True) is not supported by the receptive field walk")
        # AvgPool2d has no dilation attribute: it is 1.
        return Window(*(_square(attr, getattr(module, attr, 1)) for attr in _WINDOW_ATTRS))
    if isinstance(module, _ELEMENTWISE) or type(module).__module__ == nn.modules.activation.__name__:
        return Window(1, 1, 0, 1)
    if isinstance(module, _FLAT):
        return None
    if isinstance(module, _MAP_STATISTICS):
        raise ValueError(
            f"{type(module).__name__} normalises with statistics over the whole map, so each of its units depends on "
            "every pixel: no window bounds its field"
        )
    raise ValueError(f"layer type {type(module).__name__} is not supported by the receptive field walk")


def step(geometry: Geometry, win: Window) -> Geometry:
    """The geometry after one more layer with window `win`."""
    span = (win.kernel - 1) * win.dilation
    return Geometry(
        out_px=(geometry.out_px + 2 * win.padding - span - 1) // win.stride + 1,
        rf_px=geometry.rf_px + span * geometry.jump_px,
        jump_px=geometry.jump_px * win.stride,
        start_px=geometry.start_px + (span / 2 - win.padding) * geometry.jump_px,
    )


def walk(model: nn.Module, resolution: int) -> dict[str, tuple[Window, Geometry]]:
    """Window and output geometry of each spatial leaf layer, in registration order.

    Assumes the leaves run in the order they are registered (true of nn.Sequential
    nets such as VGG). Stops at the first non-spatial leaf.
    """
    geometry = Geometry(out_px=resolution, rf_px=1, jump_px=1, start_px=0.0)
    layers: dict[str, tuple[Window, Geometry]] = {}
    for name, module in model.named_modules():
        if next(module.children(), None) is not None:
            continue  # containers: only leaves act on the input
        win = window(module)
        if win is None:
            break
        geometry = step(geometry, win)
        layers[name] = (win, geometry)
    return layers


def receptive_field_px(model: nn.Module, resolution: int) -> int:
    """Receptive field, in input pixels, of one unit of the model's last feature map."""
    layers = walk(model, resolution)
    return list(layers.values())[-1][1].rf_px if layers else 1
