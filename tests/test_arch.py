"""Every bad specification fails when built, naming the parameter, the value and what is allowed."""

import pytest

import vggbench
from vggbench import build
from vggbench.models.arch import DEFAULT_VARIANTS


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"arch": "vgg12"}, ["arch='vgg12'", "vgg11, vgg13, vgg16, vgg19"]),
        ({"arch": "vgg11", "variant": "double"}, ["variant='double'", "stack, single, linear-stack"]),
        ({"arch": "vgg11", "ratio": 0}, ["ratio=0", ">= 1"]),
        ({"arch": "vgg11", "ratio": 65}, ["ratio=65", "width below 1", "largest allowed ratio is 64"]),
        ({"arch": "vgg11", "ratio": 2.5}, ["ratio=2.5", "integer"]),
        ({"arch": "vgg16", "resolution": 31}, ["resolution=31", "at least 32"]),
        ({"arch": "vgg16", "resolution": 0}, ["resolution=0", ">= 1"]),
        ({"arch": "vgg11", "in_channels": 0}, ["in_channels=0", ">= 1"]),
        ({"arch": "vgg11", "num_classes": -3}, ["num_classes=-3", ">= 1"]),
        ({"arch": "vgg11", "batch_norm": "yes"}, ["batch_norm='yes'", "True or False"]),
    ],
)
def test_bad_model_spec(kwargs, expected):
    with pytest.raises(ValueError) as error:
        build(**kwargs)
    for fragment in expected:
        assert fragment in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"convs_per_block": [2, 2], "widths": [8, 8], "kernel": 4}, ["kernel=4", "odd integer >= 1"]),
        ({"convs_per_block": [2, 2], "widths": [8, 8], "kernel": 0}, ["kernel=0", "odd integer >= 1"]),
        ({"convs_per_block": [2, 2], "widths": [8, 8], "kernel": -3}, ["kernel=-3", "odd integer >= 1"]),
        ({"convs_per_block": [2, 0], "widths": [8, 8]}, ["convs_per_block entry=0", ">= 1"]),
        ({"convs_per_block": [2, 2], "widths": [8, -1]}, ["widths entry=-1", ">= 1"]),
        ({"convs_per_block": [2, 2], "widths": [8]}, ["widths=(8,)", "one width per block"]),
        ({"convs_per_block": [], "widths": []}, ["convs_per_block=()", "at least one block"]),
    ],
)
def test_bad_custom_arch(kwargs, expected):
    with pytest.raises(ValueError) as error:
        build(vggbench.custom(**kwargs))
    for fragment in expected:
        assert fragment in str(error.value)


def test_minimum_resolution_follows_the_number_of_blocks():
    arch = vggbench.custom(convs_per_block=[1, 1, 1], widths=[4, 4, 4])
    build(arch, resolution=8)
    with pytest.raises(ValueError, match=r"resolution=7 .* 3 2x2 poolings need at least 8 pixels"):
        build(arch, resolution=7)


def test_specs_compare_equal_whatever_the_arch_was_given_as():
    assert vggbench.ModelSpec("vgg16") == vggbench.ModelSpec(vggbench.preset("vgg16"))
    assert len(vggbench.grid(["vgg11", "vgg11"], ratios=[8, 8])) == len(DEFAULT_VARIANTS)
