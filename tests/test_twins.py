"""Twins of any module against independent expectations: vggbench's own VGGs layer for layer, ResNet-18's blocks
and parameters counted by hand, a small CNN written out by hand, and the receptive field by hand."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from conftest import hand_built_cnn
from torch import nn

import vggbench
from vggbench.measure._receptive_field import receptive_field_px
from vggbench.models.twins import find_chains, twin
from vggbench.util.validate import InputError


def _layers(graph_module) -> list[nn.Module]:
    """The leaf layers of a traced module in the order its graph calls them (a replacement's layers in its order)."""
    modules = dict(graph_module.named_modules())
    called = [modules[node.target] for node in graph_module.graph.nodes if node.op == "call_module"]
    return [leaf for layer in called for leaf in layer.modules() if next(leaf.children(), None) is None]


def _described(layer: nn.Module) -> tuple:
    """What a layer is and does, but its weights' values and in-place flags."""
    if isinstance(layer, nn.Conv2d):
        settings = ("kernel_size", "stride", "padding", "dilation", "groups")
        return ("Conv2d", tuple(layer.weight.shape), *(getattr(layer, name) for name in settings), layer.bias is None)
    if isinstance(layer, nn.BatchNorm2d):
        return ("BatchNorm2d", layer.num_features)
    if isinstance(layer, nn.MaxPool2d):
        return ("MaxPool2d", layer.kernel_size, layer.stride)
    return (type(layer).__name__,)


def _runs_like(twin_module: nn.Module, original: nn.Module, shape) -> None:
    """The twin gives the original's output shape on a batch of two, in training and evaluation mode."""
    images = torch.randn(2, *shape)
    with torch.no_grad():
        expected = original.eval()(images).shape
        for training in (True, False):
            assert twin_module.train(training)(images).shape == expected


@pytest.fixture(scope="module")
def torchvision_vggs():
    """torchvision's vgg11 and vgg11_bn; their heads differ from vggbench's and are not compared, so a small one
    stands in for the 120M-parameter classifier and keeps the tests fast."""
    models = {}
    for batch_norm, factory in ((False, torchvision.models.vgg11), (True, torchvision.models.vgg11_bn)):
        model = factory()
        model.classifier = nn.Linear(512 * 7 * 7, 10)
        models[batch_norm] = model
    return models


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("variant", list(vggbench.VARIANTS))
def test_torchvision_vgg11_twin_is_vggbench_vgg11_layer_for_layer(torchvision_vggs, batch_norm, variant):
    original = torchvision_vggs[batch_norm]
    result = twin(original, (3, 32, 32), variant)
    ours = vggbench.build("vgg11", variant, ratio=1, in_channels=3, resolution=32, batch_norm=batch_norm)
    features = _layers(result.module)
    features = features[: next(i for i, layer in enumerate(features) if isinstance(layer, nn.AdaptiveAvgPool2d))]
    expected = [layer for block in ours.blocks for layer in block]
    assert [_described(layer) for layer in features] == [_described(layer) for layer in expected]
    if variant in ("single", "linear-stack"):  # the others run in ResNet-18's test (layers equal to vggbench's here)
        _runs_like(result.module, original, (3, 32, 32))


def test_vgg11_chains_and_their_fate_under_single(torchvision_vggs):
    result = twin(torchvision_vggs[False], (3, 32, 32), "single")
    rows = {row["convs"]: row for row in result.table()}
    pairs = [f"features.{first} -> features.{first + 2}" for first in (6, 11, 16)]
    assert list(rows) == ["features.0", "features.3", *pairs]
    assert rows["features.0"]["reason"] == rows["features.3"]["reason"] == "one conv: nothing to replace"
    assert [(row["side_px"], row["field_px"], row["rewritten"]) for row in rows.values()][2:] == [
        (8, 5, True),
        (4, 5, True),
        (2, 5, True),
    ]


def test_stack_twin_is_the_module_itself_and_the_original_is_never_changed():
    original = torchvision.models.resnet18(num_classes=10).eval()
    before = {name: value.clone() for name, value in original.state_dict().items()}
    modules_before = [type(layer) for layer in original.modules()]
    same = twin(original, (3, 32, 32), "stack")
    twin(original, (3, 32, 32), "single")
    assert not any(chain.rewritten for chain in same.chains)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(same.module(images), original(images))
    assert [type(layer) for layer in original.modules()] == modules_before
    assert all(torch.equal(value, before[name]) for name, value in original.state_dict().items())
    assert not original.training and not same.module.training


@pytest.fixture(scope="module")
def resnet18():
    return torchvision.models.resnet18(num_classes=10)


def test_resnet18_chains_are_its_stride_1_basic_blocks(resnet18):
    chains = find_chains(resnet18, (3, 32, 32))
    runs = {chain.convs: chain for chain in chains if chain.num_convs > 1}
    # The stem (stride 2) and its max-pool leave 8 px for layer1; each later layer halves the side.
    assert {chain.convs: (chain.kernel, chain.side_px, chain.field_px, chain.reason) for chain in runs.values()} == {
        ("layer1.0.conv1", "layer1.0.conv2"): (3, 8, 5, ""),
        ("layer1.1.conv1", "layer1.1.conv2"): (3, 8, 5, ""),
        ("layer2.1.conv1", "layer2.1.conv2"): (3, 4, 5, ""),
        ("layer3.1.conv1", "layer3.1.conv2"): (3, 2, 5, ""),
        ("layer4.1.conv1", "layer4.1.conv2"): (3, 1, 5, ""),
    }
    left = {chain.convs[0]: chain.reason for chain in chains if chain.left}
    assert left["conv1"] == "conv conv1 has stride 2"
    for layer in ("layer2", "layer3", "layer4"):
        assert left[f"{layer}.0.conv1"] == f"conv {layer}.0.conv1 has stride 2"
        assert left[f"{layer}.0.downsample.0"] == f"conv {layer}.0.downsample.0 is 1x1 and has stride 2"
        single = next(chain for chain in chains if chain.convs == (f"{layer}.0.conv2",))
        assert not single.left and f"conv {layer}.0.conv1 has stride 2" in single.reason
    assert len(chains) == 1 + 5 + 3 * 3


def test_resnet18_single_twin_counts_its_parameters_by_hand(resnet18):
    result = twin(resnet18, (3, 32, 32), "single")
    widths = (64, 64, 128, 256, 512)  # the chains' channels, in and out
    # Each chain's two bias-free 3x3 convs and two norms (weight and bias per channel) become one bias-free 5x5
    # conv and one norm; its activation between them goes, and no activation comes after it (the add follows).
    change = sum(25 * c * c - 2 * 9 * c * c - 2 * c for c in widths)
    assert sum(p.numel() for p in result.module.parameters()) == sum(p.numel() for p in resnet18.parameters()) + change
    block = result.module.get_submodule("layer1.0.conv1")
    assert [_described(layer) for layer in block] == [
        ("Conv2d", (64, 64, 5, 5), (5, 5), (1, 1), (2, 2), (1, 1), 1, True),
        ("BatchNorm2d", 64),
    ]
    assert sum(chain.rewritten for chain in result.chains) == 5


@pytest.mark.parametrize("variant", list(vggbench.VARIANTS))
def test_every_twin_of_resnet18_runs(resnet18, variant):
    _runs_like(twin(resnet18, (3, 32, 32), variant).module, resnet18, (3, 32, 32))


def _small_cnn(in_channels: int = 1) -> nn.Sequential:
    return hand_built_cnn([[3, 3], [3, 3]], [16, 32, 64, 64], in_channels)


def test_small_cnn_single_twin_is_the_hand_built_large_kernel_net():
    original = _small_cnn()
    result = twin(original, (1, 16, 16), "single")
    by_hand = hand_built_cnn([[5], [5]], [32, 64])
    convs = [layer for layer in _layers(result.module) if isinstance(layer, nn.Conv2d)]
    assert [tuple(conv.weight.shape) for conv in convs] == [(32, 1, 5, 5), (64, 32, 5, 5)]
    assert [_described(layer) for layer in _layers(result.module)] == [_described(layer) for layer in by_hand]
    twin_parameters = list(result.module.parameters())
    assert sum(p.numel() for p in twin_parameters) == sum(p.numel() for p in by_hand.parameters())
    with torch.no_grad():  # the same weights give the same function: nothing else is hidden in the twin
        for mine, theirs in zip(by_hand.parameters(), twin_parameters, strict=True):
            mine.copy_(theirs)
        images = torch.randn(2, 1, 16, 16)
        assert torch.allclose(result.module(images), by_hand(images))
    # Two 3x3 (5 px), a 2x2 pool (6 px, units 2 px apart), two 3x3 at that spacing (+8), a pool (+2): 16 px.
    assert receptive_field_px(original, 16) == receptive_field_px(result.module, 16) == 16
    assert [(chain.num_convs, chain.field_px, chain.side_px) for chain in result.chains] == [(2, 5, 16), (2, 5, 8)]
    _runs_like(result.module, original, (1, 16, 16))


class _Gelus(nn.Module):
    """Bias-free convs with norms, GELU inside the chain and a leaky ReLU (slope 0.2) at its end, both as functions;
    the chain's output is read by a third conv and by a residual add."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        x = F.gelu(self.bn1(self.conv1(x)))
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        return self.conv3(x) + x


def test_a_chains_bias_and_activation_carry_over_and_a_shared_value_ends_it():
    original = _Gelus()
    result = twin(original, (4, 6, 6), "linear-stack")
    first, third = result.chains
    assert (first.convs, first.rewritten) == (("conv1", "conv2"), True)
    assert (third.convs, third.rewritten) == (("conv3",), False)
    assert third.reason == "one conv: nothing to replace (the value after leaky_relu is read by conv3, add)"
    replacement = result.module.get_submodule("conv1")
    stacked = [nn.Conv2d, nn.BatchNorm2d] * 2
    assert [type(layer) for layer in replacement] == [*stacked, nn.LeakyReLU]
    assert replacement[-1].negative_slope == 0.2
    assert all(layer.bias is None for layer in replacement if isinstance(layer, nn.Conv2d))
    _runs_like(result.module, original, (4, 6, 6))


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        (nn.Conv2d(4, 4, 5, padding=2), "conv 0 is 3x3 and conv 2 is 5x5"),
        (nn.Conv2d(4, 4, 3, padding=0), "conv 2 has padding 0, not 1 (which keeps the map's size)"),
        (nn.Conv2d(4, 4, 3, padding=2, dilation=2), "conv 2 has dilation 2"),
        (nn.Conv2d(4, 4, 3, padding=1, groups=2), "conv 2 has groups 2"),
        (nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"), "conv 2 has padding_mode 'reflect'"),
    ],
)
def test_a_conv_that_breaks_a_chain_is_named_with_its_reason(second, reason):
    chains = find_chains(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), second, nn.ReLU()), (4, 8, 8))
    assert all(chain.num_convs == 1 for chain in chains)
    assert reason in chains[0].reason


def test_between_two_convs_only_a_norm_then_an_activation():
    model = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(2), nn.Conv2d(2, 2, 3, padding=1))
    first, second = find_chains(model, (2, 4, 4))
    assert "2 sits between conv 0 and conv 3" in first.reason == second.reason
    linked = find_chains(nn.Sequential(model[0], model[2], nn.SiLU(), model[3], nn.BatchNorm2d(2)), (2, 4, 4))
    assert [chain.convs for chain in linked] == [("0", "3")]
    unnormed = find_chains(nn.Sequential(model[0], model[2], nn.SiLU(), model[3]), (2, 4, 4))
    assert unnormed[0].reason.endswith("(conv 0 has a norm after it and conv 3 has none)")


def test_one_conv_chains_are_replaced_by_depthwise_alone_as_vggbench_does():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
    (chain,) = find_chains(model, (3, 8, 8))
    assert chain.reason == "one conv: only depthwise replaces it"
    assert [twin(model, (3, 8, 8), variant).chains[0].rewritten for variant in vggbench.VARIANTS] == [
        variant == "depthwise" for variant in vggbench.VARIANTS
    ]


class _Branchy(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


def test_an_untraceable_module_is_refused_in_one_line():
    with pytest.raises(InputError) as raised:
        twin(_Branchy(), (1, 4, 4), "single")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("module=_Branchy cannot be traced by torch.fx: ")
    assert "leaf modules" in message


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ((_small_cnn(), (1, 8, 8), "singel"), "variant='singel' is not allowed: choose one of stack, single,"),
        ((_small_cnn(), (1, 8, 8), "singel"), "(did you mean 'single'?)"),
        ((_small_cnn(), (1, 8), "single"), "input_shape=(1, 8) is not allowed: give one image's (channels,"),
        ((_small_cnn(), (1, 0, 8), "single"), "input_shape=(1, 0, 8) is not allowed"),
        ((_small_cnn(), (1, 8.0, 8), "single"), "input_shape=(1, 8.0, 8) is not allowed"),
        ((_small_cnn(), (3, 8, 8), "single"), "input_shape=(3, 8, 8) is not allowed for module=Sequential: a batch"),
        ((_small_cnn(), (3, 8, 8), "single"), "expected input[1, 3, 8, 8] to have 1 channels, but got 3"),
        (("vgg11", (1, 8, 8), "single"), "module=str is not allowed: give a torch.nn.Module"),
    ],
)
def test_bad_input_names_the_value_and_what_is_allowed(arguments, expected):
    with pytest.raises(InputError) as raised:
        twin(*arguments)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)
