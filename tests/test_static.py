"""Static cost against independent expectations: torchvision's models and published figures,
and the VGG paper's analytic weight counts."""

import pytest
import torch
import torchvision
from torchvision.models import get_model_weights

import vggbench
from vggbench import ModelSpec


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("arch", "batch_norm"), [("vgg11", False), ("vgg13", False), ("vgg16", False), ("vgg19", False), ("vgg11", True)]
)
def test_params_and_macs_match_torchvision(arch, batch_norm):
    name = arch + ("_bn" if batch_norm else "")
    with torch.device("meta"):
        reference = torchvision.models.get_model(name)
    published = get_model_weights(name).IMAGENET1K_V1.meta
    spec = ModelSpec(arch, "stack", ratio=1, in_channels=3, num_classes=1000, resolution=224, batch_norm=batch_norm)
    row = vggbench.model_table([spec]).iloc[0]
    assert row["params"] == _count(reference) == published["num_params"]
    assert row["conv_params"] == _count(reference.features)
    assert row["fc_params"] == _count(reference.classifier)
    # torchvision publishes "GFLOPS" that are multiply-adds of convs and linear layers
    # (batch norm left out), to three decimals.
    layers = vggbench.layer_table([spec])
    conv_and_linear = layers.loc[layers["layer_type"].isin(["Conv2d", "Linear"]), "macs"].sum()
    assert round(conv_and_linear / 1e9, 3) == pytest.approx(published["_ops"], abs=1e-9)
    batch_norm_macs = layers.loc[layers["layer_type"] == "BatchNorm2d", "macs"].sum()
    assert (batch_norm_macs > 0) == batch_norm
    assert row["macs"] == conv_and_linear + batch_norm_macs
    assert row["flops"] == 2 * row["macs"]


@pytest.mark.parametrize("arch", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_linear_stack_has_the_stacks_params_and_macs(arch):
    table = vggbench.model_table(vggbench.grid([arch], ["stack", "linear-stack"], ratios=[8])).set_index("variant")
    assert table.loc["linear-stack", "params"] == table.loc["stack", "params"]
    assert table.loc["linear-stack", "macs"] == table.loc["stack", "macs"]
    assert table["rf_px"].nunique() == 1


@pytest.mark.parametrize("num_convs", [2, 3])
def test_block_with_equal_widths_follows_the_papers_analytic_counts(num_convs):
    channels, side = 16, 32
    arch = vggbench.custom(convs_per_block=[num_convs], widths=[channels])
    specs = vggbench.grid([arch], in_channels=channels, resolutions=[side])  # stack, single, linear-stack
    blocks = vggbench.block_table(specs).set_index("variant")
    stack_weights = 9 * num_convs * channels**2  # 27C^2 for three 3x3 convs
    single_weights = (2 * num_convs + 1) ** 2 * channels**2  # 49C^2 for one 7x7
    assert blocks.loc["stack", "params"] == stack_weights + num_convs * channels  # plus biases
    assert blocks.loc["linear-stack", "params"] == stack_weights + num_convs * channels
    assert blocks.loc["single", "params"] == single_weights + channels
    assert blocks.loc["single", "macs"] == single_weights * side * side
    assert blocks.loc["stack", "macs"] == stack_weights * side * side
    assert blocks.loc["single", "params_vs_stack_if_in_eq_out"] == pytest.approx(single_weights / stack_weights)
    assert blocks.loc["single", "in_eq_out"]
    assert set(blocks["conv_rf_px"]) == {2 * num_convs + 1}


def test_block_table_shows_where_the_claim_fails_first_conv_changes_width():
    # vgg11 block 3: 2 convs, 256 -> 512 channels at ratio 1. One 5x5 conv 256->512 has
    # 25*256*512 weights; the stack 9*256*512 + 9*512*512, so single is *smaller*.
    blocks = vggbench.block_table([ModelSpec("vgg11", "single", ratio=1, in_channels=3)])
    row = blocks[(blocks["block"] == 3) & (blocks["variant"] == "single")].iloc[0]
    assert not row["in_eq_out"]
    expected = (25 * 128 * 256 + 256) / (9 * 128 * 256 + 9 * 256 * 256 + 2 * 256)
    assert row["params_vs_stack"] == pytest.approx(expected)
    assert row["params_vs_stack"] < 1 < row["params_vs_stack_if_in_eq_out"]
    assert len(blocks) == 5 * 2  # single and its stack, per block


def test_layer_table_sums_to_the_model_and_ends_at_the_models_field():
    spec = ModelSpec("vgg13", "single", ratio=16, batch_norm=True)
    layers = vggbench.layer_table([spec])
    model = vggbench.model_table([spec]).iloc[0]
    assert layers["params"].sum() == model["params"]
    assert layers["macs"].sum() == model["macs"]
    assert layers["rf_px"].dropna().iloc[-1] == model["rf_px"] == 156
    assert list(layers["out_px"].dropna().unique()) == [224, 112, 56, 28, 14, 7]
    assert layers.loc[layers["layer_type"] == "Linear", "rf_px"].isna().all()


def test_block_table_shows_where_a_kernel_is_wider_than_its_map():
    # vgg13 at 32 px: blocks 4 and 5 see 4 and 2 px maps, where the single 5x5 overhangs; the stack's 3x3
    # overhangs block 5's 2 px map alone, and single-fits is the stack there and the single kernel elsewhere.
    specs = vggbench.grid(["vgg13"], ["stack", "single", "single-fits"], ratios=[8], resolutions=[32])
    blocks = vggbench.block_table(specs).set_index(["variant", "block"]).sort_index()
    assert list(blocks.loc["single", "map_px"]) == [32, 16, 8, 4, 2]
    assert list(blocks.loc["single", "largest_kernel_px"]) == [5] * 5
    assert list(blocks.loc["single", "kernel_wider_than_map"]) == [False, False, False, True, True]
    assert list(blocks.loc["stack", "kernel_wider_than_map"]) == [False, False, False, False, True]
    fits = blocks.loc["single-fits"]
    assert list(fits["kernel_wider_than_map"]) == list(blocks.loc["stack", "kernel_wider_than_map"])
    assert list(fits["largest_kernel_px"]) == [5, 5, 5, 3, 3]
    # One 5x5 per block, so the block's share is its conv's: 21/25 of the taps on block 5's 2 px map.
    assert blocks.loc[("single", 5), "padding_tap_share"] == pytest.approx(21 / 25)
    assert list(fits["padding_tap_share"]) == pytest.approx(
        [*blocks.loc["single", "padding_tap_share"][:3], *blocks.loc["stack", "padding_tap_share"][3:]]
    )


def test_a_blocks_padding_share_weighs_its_convs_by_their_macs():
    # depthwise: a 5x5 depthwise conv (on padding much of the time) then a 1x1 (never), in vgg13's block 5.
    spec = ModelSpec("vgg13", "depthwise", ratio=8, resolution=32)
    layers = vggbench.layer_table([spec])
    convs = layers[(layers["block"] == 5) & (layers["layer_type"] == "Conv2d")]
    assert list(convs["padding_tap_share"]) == pytest.approx([21 / 25, 0])
    assert layers.loc[layers["layer_type"] != "Conv2d", "padding_tap_share"].isna().all()
    block = vggbench.block_table([spec]).set_index(["variant", "block"]).loc[("depthwise", 5)]
    expected = (convs["macs"] * convs["padding_tap_share"]).sum() / convs["macs"].sum()
    assert block["padding_tap_share"] == pytest.approx(expected)
    assert 0 < block["padding_tap_share"] < 21 / 25
