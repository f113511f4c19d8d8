"""The dilated and depthwise variants: built as described, counted exactly (against analytic formulas, fvcore
on the built module and torch's own FLOP counter), with the stack's receptive field."""

import warnings

import pytest
import torch
from torch import nn

import vggbench
from vggbench import ModelSpec
from vggbench.measure import memory
from vggbench.measure.flops import step_flops
from vggbench.models.arch import DEFAULT_VARIANTS, VARIANTS, Grid, spec_from_dict, spec_to_dict

# Blocks of 1, 2 and 3 convs; the first changes the width, the last keeps it.
ARCH = vggbench.custom(convs_per_block=(1, 2, 3), widths=(4, 8, 8), fc_hidden=16)
NEW = ("dilated", "depthwise")


def _spec(variant, batch_norm=False, arch=ARCH, resolution=16):
    return ModelSpec(arch, variant, in_channels=3, resolution=resolution, batch_norm=batch_norm)


def _expected_block(variant, num_convs, in_channels, out_channels, side, batch_norm):
    """(params, conv MACs) of one block, from the variant's definition."""
    field = 2 * num_convs + 1  # the field of num_convs stacked 3x3 convs
    if variant == "dilated":  # one 3x3 conv, dilation n: 9 weights per channel pair
        weights, norms = 9 * in_channels * out_channels, (out_channels,)
        biases = out_channels
    else:  # a depthwise field x field conv on the input channels, then a 1x1 conv in -> out
        weights = field**2 * in_channels + in_channels * out_channels
        biases, norms = in_channels + out_channels, (in_channels, out_channels)
    norm_params = 2 * sum(norms) if batch_norm else 0
    return weights + biases + norm_params, weights * side * side


def _fvcore(module, images):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's import and tracing warn of TorchScript's deprecation
        from fvcore.nn import FlopCountAnalysis

        return FlopCountAnalysis(module, images).unsupported_ops_warnings(False).uncalled_modules_warnings(False)


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("variant", NEW)
def test_params_and_macs_follow_the_analytic_count_and_fvcore(variant, batch_norm):
    spec = _spec(variant, batch_norm)
    blocks = vggbench.block_table([spec]).set_index(["variant", "block"]).loc[variant]
    model = vggbench.build_spec(spec).eval()
    counted = _fvcore(model, torch.zeros(1, 3, 16, 16)).by_module()
    side, in_channels = 16, 3
    for index, (num_convs, out_channels) in enumerate(zip(ARCH.convs_per_block, ARCH.widths, strict=True)):
        params, conv_macs = _expected_block(variant, num_convs, in_channels, out_channels, side, batch_norm)
        block = model.blocks[index]
        assert blocks.loc[index + 1, "params"] == params == sum(p.numel() for p in block.parameters())
        convs = [name for name, layer in block.named_children() if isinstance(layer, nn.Conv2d)]
        assert sum(counted[f"vgg_block_{index + 1}.{name}"] for name in convs) == conv_macs
        assert blocks.loc[index + 1, "macs"] == counted[f"vgg_block_{index + 1}"]
        side, in_channels = side // 2, out_channels
    if not batch_norm:  # torch's FLOP counter leaves batch norm out, fvcore counts it
        assert step_flops(spec, "infer") == 2 * counted[""]


@pytest.mark.parametrize("variant", NEW)
def test_the_analytic_ratio_is_the_weights_of_a_block_with_c_in_and_out(variant):
    channels, num_convs = 8, 3  # block 3: 8 -> 8 channels
    row = vggbench.block_table([_spec(variant)]).set_index(["variant", "block"]).loc[(variant, 3)]
    weights, _ = _expected_block(variant, num_convs, channels, channels, 1, batch_norm=False)
    biases = channels * (2 if variant == "depthwise" else 1)
    assert row["in_eq_out"]
    assert row["params_vs_stack_if_in_eq_out"] == pytest.approx((weights - biases) / (9 * num_convs * channels**2))


@pytest.mark.parametrize("kernel", [1, 3, 5])
def test_every_variant_has_the_stacks_receptive_field(kernel):
    arch = vggbench.custom(convs_per_block=(1, 2, 3), widths=(4, 8, 8), kernel=kernel, fc_hidden=16)
    specs = vggbench.grid([arch], list(VARIANTS), resolutions=[32])
    models = vggbench.model_table(specs)
    assert models["rf_px"].nunique() == 1
    blocks = vggbench.block_table(specs)
    assert list(blocks["conv_rf_px"]) == [n * (kernel - 1) + 1 for n in (1, 2, 3) for _ in VARIANTS]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_dilated_is_one_3x3_conv_dilated_to_the_stacks_field(batch_norm):
    block = vggbench.build("vgg16", "dilated", ratio=64, batch_norm=batch_norm).vgg_block_3  # 3 convs, 2 -> 4
    (conv,) = [layer for layer in block if isinstance(layer, nn.Conv2d)]
    assert (conv.kernel_size, conv.dilation, conv.padding, conv.groups) == ((3, 3), (3, 3), (3, 3), 1)
    assert (conv.in_channels, conv.out_channels) == (2, 4)
    norm = ["BatchNorm2d"] if batch_norm else []
    assert [type(layer).__name__ for layer in block] == ["Conv2d", *norm, "ReLU", "MaxPool2d"]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_depthwise_is_a_depthwise_large_kernel_then_a_pointwise_conv(batch_norm):
    block = vggbench.build("vgg16", "depthwise", ratio=64, batch_norm=batch_norm).vgg_block_3
    depthwise, pointwise = [layer for layer in block if isinstance(layer, nn.Conv2d)]
    assert (depthwise.in_channels, depthwise.out_channels, depthwise.groups) == (2, 2, 2)
    assert (depthwise.kernel_size, depthwise.padding) == ((7, 7), (3, 3))
    assert (pointwise.in_channels, pointwise.out_channels, pointwise.kernel_size) == (2, 4, (1, 1))
    norm = ["BatchNorm2d"] if batch_norm else []
    assert [type(layer).__name__ for layer in block] == ["Conv2d", *norm, "Conv2d", *norm, "ReLU", "MaxPool2d"]
    assert [layer.num_features for layer in block if isinstance(layer, nn.BatchNorm2d)] == ([2, 4] if norm else [])


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_runs_keeps_its_checkpoint_spec_and_is_described(variant):
    spec = _spec(variant, batch_norm=True)
    assert vggbench.build_spec(spec)(torch.rand(2, 3, 16, 16)).shape == (2, 10)
    assert spec_from_dict(spec_to_dict(spec)) == spec
    assert f"{variant} = " in Grid.__dataclass_fields__["variants"].metadata["knob"].help


def test_new_variants_are_opt_in():
    assert Grid().variants == DEFAULT_VARIANTS == ("stack", "single", "linear-stack")
    assert [spec.variant for spec in vggbench.grid(["vgg11"])] == list(DEFAULT_VARIANTS)
    assert {spec.variant for spec in Grid(variants=NEW).models()} == set(NEW)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_memory_estimate_counts_every_layer_output_of_every_variant(variant):
    # Widths that shrink, so that a depthwise conv (which keeps its input's width) outputs more than its block.
    spec = ModelSpec(vggbench.custom((2, 1), (8, 4), fc_hidden=16), variant, resolution=8)
    model = vggbench.build_spec(spec).eval()
    outputs = []
    for module in model.modules():
        if next(module.children(), None) is None and not isinstance(module, nn.Flatten):
            module.register_forward_hook(lambda _, __, output: outputs.append(output.numel()))
    with torch.no_grad():
        model(torch.zeros(1, 1, 8, 8))
    assert memory.shapes(spec) == (sum(p.numel() for p in model.parameters()), sum(outputs))


@pytest.mark.parametrize(("arch", "resolution", "large"), [("vgg13", 32, 3), ("vgg16", 32, 3), ("vgg13", 224, 5)])
def test_single_fits_takes_the_large_kernel_only_where_the_map_is_as_wide(arch, resolution, large):
    """The built module's kernels, block by block: the single kernel on maps at least its width (32, 16, 8 px
    at 32 px; every block at 224 px), the stack on the 4 and 2 px maps; each block's parameters are the
    single's or the stack's block."""
    spec = ModelSpec(arch, "single-fits", ratio=8, resolution=resolution)
    model = vggbench.build_spec(spec)
    table = vggbench.block_table(
        [spec, *(ModelSpec(arch, v, ratio=8, resolution=resolution) for v in ("stack", "single"))]
    )
    params = table.set_index(["variant", "block"])["params"]
    for index, block in enumerate(model.blocks):
        kernels = [layer.kernel_size[0] for layer in block if isinstance(layer, nn.Conv2d)]
        num_convs, side = spec.arch.convs_per_block[index], resolution >> index
        like = "single" if index < large else "stack"
        assert kernels == ([2 * num_convs + 1] if like == "single" else [3] * num_convs)
        assert side >= 2 * num_convs + 1 if like == "single" else side < 2 * num_convs + 1
        assert params[("single-fits", index + 1)] == params[(like, index + 1)]
