"""Turn specifications into modules: the book's `vgg_block`/`vgg` (d2l.ai's VGG chapter), and `build`.

All models are a `VGG`, laid out as the book's net: `vgg_block_1` ... `vgg_block_N`, each a
run of convolutions and a 2x2 max-pool, then `fc`, the head (VGG's three linear layers, or global average
pooling and one). A
`VGG` names its parts, `blocks` and `head`, so that no code needs to parse layer names.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vggbench.models.arch import VARIANTS, ArchSpec, Conv, ModelSpec, conv_channels
from vggbench.util.validate import one_of


def conv_layers(
    in_channels: int,
    out_channels: int | tuple[int, ...],
    plan,
    batch_norm: bool,
    bias: bool = True,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> list[nn.Module]:
    """Conv layers for one block; `plan` lists its convs (`vggbench.models.arch.Conv`), `out_channels` is the
    block's width or one per stacked conv (`vggbench.models.arch.conv_channels` maps them). VGG's are built with
    the defaults; `bias` and `activation` (called once per conv whose `relu` is set) let a twin of another net
    (`vggbench.models.twins`) keep that net's choices."""
    layers: list[nn.Module] = []
    for conv, conv_in, conv_out, groups in conv_channels(plan, in_channels, out_channels):
        layers.append(
            nn.Conv2d(
                conv_in, conv_out, conv.kernel, padding=conv.padding, dilation=conv.dilation, groups=groups, bias=bias
            )
        )
        if batch_norm:
            layers.append(nn.BatchNorm2d(conv_out))
        if conv.relu:
            layers.append(activation())
    return layers


def _block(in_channels: int, out_channels: int | tuple[int, ...], plan, batch_norm: bool = False) -> nn.Sequential:
    pool = nn.MaxPool2d(kernel_size=2, stride=2)  # halves height and width
    return nn.Sequential(*conv_layers(in_channels, out_channels, plan, batch_norm), pool)


def _head(fc_features: int, fc_hidden_units: int, num_classes: int, dropout: float = 0.5) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(fc_features, fc_hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(fc_hidden_units, fc_hidden_units),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(fc_hidden_units, num_classes),
    )


def _gap_head(channels: int, num_classes: int) -> nn.Sequential:
    """Global average pooling: each channel of the last map averaged to one number, then one linear layer."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


class VGG(nn.Sequential):
    """The book's net (children `vgg_block_1` ... `vgg_block_N`, then `fc`) that knows its blocks and head,
    as torchvision's VGG knows its `features` and `classifier`."""

    def __init__(self, blocks: list[nn.Sequential], head: nn.Sequential) -> None:
        super().__init__()
        for index, block in enumerate(blocks, start=1):
            self.add_module(f"vgg_block_{index}", block)
        self.add_module("fc", head)

    @property
    def blocks(self) -> list[nn.Sequential]:
        """The convolutional blocks, in order: each a run of convs and a 2x2 max-pool."""
        return list(self)[:-1]

    @property
    def head(self) -> nn.Sequential:
        """The head: flatten and three linear layers (fc), or global average pooling, flatten and one (gap)."""
        return self[-1]

    @property
    def features(self) -> nn.Sequential:
        """The blocks as one module (sharing their layers): the net without its head."""
        return nn.Sequential(*self.blocks)


def initialize(model: nn.Module, scheme: str) -> nn.Module:
    """`model`, its weights drawn again in place by `scheme` from torch's global generator (seeded by the caller):

    default   as PyTorch's layers are built (left as they are): conv and linear weights Kaiming-uniform with
              a=sqrt(5), biases uniform in +-1/sqrt(fan_in); what the book's VGG chapter trains.
    kaiming   torchvision's VGG (its `_initialize_weights`): conv weights Kaiming-normal over fan-out with ReLU's
              gain, std sqrt(2 / fan_out), fan_out = out_channels x kernel area (He et al. 2015); linear weights
              normal(0, 0.01); biases 0; batch norm weight 1, bias 0.
    xavier    Glorot and Bengio (2010)'s normalised initialisation, which the VGG paper names for training its
              deep nets from scratch: conv and linear weights uniform in +-sqrt(6 / (fan_in + fan_out)); biases 0,
              as both papers set them (the book's later editions, d2l's `init_cnn`, draw the weights alike but
              leave the biases at PyTorch's default); batch norm weight 1, bias 0.

    Fans are torch's (nn.init): a conv's fan_in is in_channels / groups x kernel area."""
    one_of("init", scheme, ("default", "kaiming", "xavier"))  # as TrainConfig.init (setups.INITS) allows
    if scheme == "default":
        return model
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            if scheme == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            elif isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(layer.weight, 0, 0.01)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """The book's block: `num_convs` 3x3 convs (padding 1, ReLU each), then a 2x2 max-pool."""
    return _block(in_channels, out_channels, [Conv(3)] * num_convs)


def vgg(conv_arch, fc_features: int, fc_hidden_units: int = 4096, num_classes: int = 10) -> VGG:
    """The book's VGG: one `vgg_block` per (num_convs, in_channels, out_channels) in `conv_arch`.

    Unlike the book's, every call returns a new, independent net.
    """
    blocks = [vgg_block(*triple) for triple in conv_arch]
    return VGG(blocks, _head(fc_features, fc_hidden_units, num_classes))


def variant_block(
    variant: str,
    num_convs: int,
    in_channels: int,
    out_channels: int,
    side: int,
    kernel: int = 3,
    batch_norm: bool = False,
) -> nn.Sequential:
    """One block of `variant` (a name of `vggbench.models.arch.VARIANTS`) standing in for `num_convs` stacked
    kernel x kernel convs on a `side` x `side` input map, then a 2x2 max-pool."""
    return _block(in_channels, out_channels, VARIANTS[variant](num_convs, kernel, side), batch_norm)


def build_spec(spec: ModelSpec) -> VGG:
    """The module for a validated VGG's `ModelSpec` (any spec's: vggbench.models.factory.build_model)."""
    blocks = []
    for index in range(spec.arch.num_blocks):
        in_channels = spec.block_channels(index)[0]
        blocks.append(_block(in_channels, spec.block_widths(index), spec.block_plan(index), spec.batch_norm))
    if spec.arch.head == "gap":
        return VGG(blocks, _gap_head(spec.fc_features, spec.num_classes))
    return VGG(blocks, _head(spec.fc_features, spec.fc_hidden_units, spec.num_classes, spec.arch.dropout))


def build(
    arch: str | ArchSpec,
    variant: str = "stack",
    ratio: int = 1,
    in_channels: int = 1,
    num_classes: int = 10,
    resolution: int = 224,
    batch_norm: bool = False,
) -> VGG:
    """Build a VGG variant.

    arch: "vgg11", "vgg13", "vgg16", "vgg19", or an `ArchSpec` from `vggbench.custom` (or `vggbench.preset`,
    which takes another head: head="gap", or fc_hidden and dropout).
    variant: a name of `vggbench.VARIANTS`, e.g. "stack" (n 3x3 convs, ReLU after each, as published);
    each variant's function there describes it in its docstring (`vggbench.models.arch.variants_help()`).
    ratio: divides every conv width and the FC hidden width, as the book does with 8; 1 (the default) builds
    the model as written (`build("vgg11")` has torchvision's vgg11 features).
    Raises ValueError naming the parameter, the bad value and what is allowed.
    """
    spec = ModelSpec(arch, variant, ratio, in_channels, num_classes, resolution, batch_norm)
    return build_spec(spec)
