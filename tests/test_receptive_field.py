"""The layer-by-layer receptive field against an independent, gradient-based measurement; the taps on zero
padding against hand counts and a brute-force convolution."""

import pytest
import torch
import torchvision
from torch import nn

import vggbench
from vggbench.measure._receptive_field import receptive_field_px, walk
from vggbench.measure.taps import Window, padding_tap_share


def _gradient_support(model: nn.Sequential, resolution: int) -> tuple[int, float, int]:
    """Width and centre of the input pixels that reach the central unit of the last feature map.

    Max-pools become average pools (same window, every input gets gradient) and all
    weights positive, so every pixel inside the field gets a positive gradient and
    every pixel outside it none.
    """
    features = nn.Sequential(*[child for name, child in model.named_children() if name != "fc"]).double()
    for block in features:
        for index, layer in enumerate(block):
            if isinstance(layer, nn.MaxPool2d):
                block[index] = nn.AvgPool2d(layer.kernel_size, layer.stride)
            elif isinstance(layer, nn.Conv2d):
                nn.init.constant_(layer.weight, 1.0 / layer.weight[0].numel())
                nn.init.zeros_(layer.bias)
    image = torch.ones(1, model.vgg_block_1[0].in_channels, resolution, resolution, dtype=torch.float64)
    image.requires_grad_(True)
    output = features(image)
    centre = output.shape[-1] // 2
    output[0, 0, centre, centre].backward()
    columns = torch.nonzero(image.grad[0, 0].sum(dim=0) > 0).flatten()
    width = int(columns[-1] - columns[0] + 1)
    return width, float(columns[0] + columns[-1]) / 2, centre


@pytest.mark.parametrize("arch", ["vgg11", "vgg13", "vgg16", "vgg19"])
@pytest.mark.parametrize("variant", list(vggbench.VARIANTS))
def test_receptive_field_matches_gradient_support(arch, variant):
    resolution = 352  # large enough that vgg19's field (the largest) lies inside the image
    model = vggbench.build(arch, variant=variant, ratio=64, resolution=resolution)
    width, middle, centre = _gradient_support(model, resolution)
    last = list(walk(model, resolution).values())[-1][1]
    assert receptive_field_px(model, resolution) == last.rf_px == width
    assert last.start_px + centre * last.jump_px == middle
    assert last.jump_px == 32


def test_variants_share_the_stacks_receptive_field_with_a_custom_kernel():
    arch = vggbench.custom(convs_per_block=[3, 2], widths=[4, 4], kernel=5)
    fields = {v: receptive_field_px(vggbench.build(arch, variant=v, resolution=64), 64) for v in vggbench.VARIANTS}
    # Block 1: three 5x5 convs (13 px), pool (14), block 2: two 5x5 at jump 2 (+16), pool (+2).
    assert set(fields.values()) == {32}


def test_torchvision_vgg16_pool5_field_is_the_published_212():
    with torch.device("meta"):
        model = torchvision.models.vgg16()
    assert receptive_field_px(model, 224) == 212  # the figure in the receptive-field literature


def test_padding_tap_share_by_hand():
    # A 5x5 on a 2x2 map, padding 2: every output position sees the whole map, 4 of its 25 taps.
    assert padding_tap_share(Window(5, 1, 2, 1), 2) == pytest.approx(21 / 25)
    # A 3x3 on a 1x1 map: the centre tap alone.
    assert padding_tap_share(Window(3, 1, 1, 1), 1) == pytest.approx(8 / 9)
    assert padding_tap_share(Window(1, 1, 0, 1), 7) == 0


@pytest.mark.parametrize(("kernel", "dilation", "side"), [(3, 1, 32), (5, 1, 4), (7, 1, 8), (3, 2, 5), (5, 1, 1)])
def test_padding_tap_share_matches_a_convolution_that_counts_real_taps(kernel, dilation, side):
    # A kernel of ones over an image of ones, zero-padded as the model pads: each output counts its real taps.
    padding = dilation * (kernel - 1) // 2
    counts = torch.nn.functional.conv2d(
        torch.ones(1, 1, side, side, dtype=torch.float64),
        torch.ones(1, 1, kernel, kernel, dtype=torch.float64),
        padding=padding,
        dilation=dilation,
    )
    real = counts.sum().item() / (counts.numel() * kernel**2)
    assert padding_tap_share(Window(kernel, 1, padding, dilation), side) == pytest.approx(1 - real)
