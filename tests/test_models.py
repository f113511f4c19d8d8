"""The book's API (d2l.ai's VGG chapter) and the study's builder: module trees, shapes and independence."""

import pytest
import torch
from torch import nn

import vggbench
from vggbench import build, vgg, vgg_block

SEED_CONV_ARCH = ((1, 1, 64), (1, 64, 128), (2, 128, 256), (2, 256, 512), (2, 512, 512))


def _kinds(module: nn.Module) -> list[str]:
    return [type(layer).__name__ for layer in module]


def test_vgg_block_is_the_seeds_block():
    block = vgg_block(2, 16, 32)
    assert _kinds(block) == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert (block[0].in_channels, block[0].out_channels, block[2].in_channels) == (16, 32, 32)
    assert all(conv.kernel_size == (3, 3) and conv.padding == (1, 1) for conv in (block[0], block[2]))
    assert (block[4].kernel_size, block[4].stride) == (2, 2)


def test_seed_output_shapes():
    with torch.device("meta"):  # shapes only: no weights to initialise or multiply
        net = vgg(SEED_CONV_ARCH, 512 * 7 * 7, 4096)
        x = torch.empty(1, 1, 224, 224)
        shapes = {}
        for name, child in net.named_children():
            x = child(x)
            shapes[name] = list(x.shape)
    assert shapes == {
        "vgg_block_1": [1, 64, 112, 112],
        "vgg_block_2": [1, 128, 56, 56],
        "vgg_block_3": [1, 256, 28, 28],
        "vgg_block_4": [1, 512, 14, 14],
        "vgg_block_5": [1, 512, 7, 7],
        "fc": [1, 10],
    }
    assert _kinds(net.fc) == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]


def test_vgg_twice_gives_two_independent_nets():
    small = [(1, 1, 4), (1, 4, 8)]
    first = vgg(small, 8 * 8 * 8, 16)
    second = vgg(small, 8 * 8 * 8, 16)
    assert [name for name, _ in first.named_children()] == ["vgg_block_1", "vgg_block_2", "fc"]
    assert [name for name, _ in second.named_children()] == ["vgg_block_1", "vgg_block_2", "fc"]
    assert first.vgg_block_1 is not second.vgg_block_1


def test_build_stack_ratio_8_is_the_seeds_small_net():
    ratio = 8
    # The book's own small_conv_arch: the input channel (1) is not divided.
    small_conv_arch = [
        (1, 1, 64 // ratio),
        (1, 64 // ratio, 128 // ratio),
        (2, 128 // ratio, 256 // ratio),
        (2, 256 // ratio, 512 // ratio),
        (2, 512 // ratio, 512 // ratio),
    ]
    seed_small = vgg(small_conv_arch, 512 * 7 * 7 // ratio, 4096 // ratio)
    built = build("vgg11", ratio=ratio)
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in seed_small.parameters()]
    assert repr(built) == repr(seed_small)


@pytest.mark.parametrize(
    ("variant", "kinds", "kernels"),
    [
        ("stack", ["Conv2d", "ReLU", "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"], [3, 3, 3]),
        ("single", ["Conv2d", "ReLU", "MaxPool2d"], [7]),
        ("linear-stack", ["Conv2d", "Conv2d", "Conv2d", "ReLU", "MaxPool2d"], [3, 3, 3]),
    ],
)
def test_variants_of_a_three_conv_block(variant, kinds, kernels):
    block = build("vgg16", variant=variant, ratio=64).vgg_block_3  # 3 convs, 2 -> 4 channels
    assert _kinds(block) == kinds
    convs = [layer for layer in block if isinstance(layer, nn.Conv2d)]
    assert [conv.kernel_size[0] for conv in convs] == kernels
    assert [conv.padding[0] for conv in convs] == [k // 2 for k in kernels]
    assert (convs[0].in_channels, convs[-1].out_channels) == (2, 4)


def test_batch_norm_follows_each_conv():
    block = build("vgg13", variant="linear-stack", ratio=64, batch_norm=True).vgg_block_2
    assert _kinds(block) == ["Conv2d", "BatchNorm2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


@pytest.mark.parametrize(("resolution", "side"), [(32, 1), (100, 3), (224, 7), (255, 7)])
def test_fc_input_follows_resolution(resolution, side):
    net = build("vgg11", variant="single", ratio=16, in_channels=3, num_classes=5, resolution=resolution)
    assert net.fc[1].in_features == 32 * side * side
    assert net.fc[1].out_features == 4096 // 16
    assert net(torch.rand(2, 3, resolution, resolution)).shape == (2, 5)


def test_custom_architecture_builds_and_runs():
    arch = vggbench.custom(convs_per_block=[1, 3, 2], widths=[6, 10, 12], kernel=5)
    net = build(arch, variant="single", resolution=40)
    assert [b[0].kernel_size[0] for b in (net.vgg_block_1, net.vgg_block_2, net.vgg_block_3)] == [5, 13, 9]
    assert net(torch.rand(1, 1, 40, 40)).shape == (1, 10)
