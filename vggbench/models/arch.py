"""Architecture specifications: what a VGG variant is, as data, validated once.

A `ModelSpec` says everything `vggbench.build` needs: the convolutional plan
(convs per block, widths, base kernel), the kernel variant, the width ratio and
the input/output shape. Every check of a spec lives here, so a bad spec fails
with one clear InputError (a ValueError) before any tensor is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vggbench.models._source import is_target, source_sha256
from vggbench.util.knobs import Setup, knob
from vggbench.util.validate import InputError, allowed, at_most, did_you_mean, one_of, positive_int, shown

# The four configurations of the VGG paper (Simonyan & Zisserman 2014, table 1),
# as convolutions per block; all share the widths 64-128-256-512-512.
VGG_WIDTHS = (64, 128, 256, 512, 512)
PRESET_CONVS = {
    "vgg11": (1, 1, 2, 2, 2),  # configuration A, the book's conv_arch
    "vgg13": (2, 2, 2, 2, 2),  # B
    "vgg16": (2, 2, 3, 3, 3),  # D
    "vgg19": (2, 2, 4, 4, 4),  # E
}
CUSTOM = "custom"
ARCH_NAMES = (*PRESET_CONVS, CUSTOM)
MAX_SIDE = 2**16  # pixels of an image's or a kernel's side; far beyond, torch's sizes overflow
MAX_UNITS = 2**24  # channels, units or classes of a layer
MAX_CONVS = 1_000_000  # convs in one block: a plan beyond is a typo (the memory estimate refuses far fewer)
FC_HIDDEN = 4096
# The classifier heads: VGG's, and the global average pooling of later nets (NiN, ResNet) that small CNNs use.
HEADS = {
    "fc": "VGG's: flatten, then Linear-ReLU-Dropout twice (fc_hidden units, divided by the ratio) and a Linear",
    "gap": "global average pooling, flatten and one Linear from the last width to the classes",
}
# A head's defaults: a spec's dict, config.json and the identity name these values only where they differ.
HEAD_DEFAULTS = {"head": "fc", "fc_hidden": FC_HIDDEN, "dropout": 0.5}


@dataclass(frozen=True)
class Conv:
    """One convolution of a block's plan, independent of the channel counts.

    A dense conv maps its input to the block's output channels; a depthwise one
    (groups = its input channels) keeps its input's channel count, so a plan ends
    with a dense conv. Padding keeps the side: the window spans dilation*(kernel-1)+1 px.
    """

    kernel: int
    relu: bool = True  # a ReLU after it (after its batch norm, if any)
    dilation: int = 1
    depthwise: bool = False

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel - 1) // 2

    @property
    def window_px(self) -> int:
        """The side the kernel spans on its input: dilation*(kernel-1)+1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def label(self) -> str:
        """'3', '3d2' (dilation 2) or '7dw' (depthwise): how the block table names the conv."""
        return f"{self.kernel}" + (f"d{self.dilation}" if self.dilation > 1 else "") + ("dw" if self.depthwise else "")

    def channels(self, in_channels: int, block_out_channels: int) -> tuple[int, int, int]:
        """(input channels, output channels, groups) of this conv, fed `in_channels` in a block ending at
        `block_out_channels`."""
        if self.depthwise:
            return in_channels, in_channels, in_channels
        return in_channels, block_out_channels, 1

    def weights_per_channel_pair(self, channels: int) -> float:
        """Weights per (input, output) channel pair with `channels` in and out: k^2, or k^2/C if depthwise."""
        return self.kernel**2 / channels if self.depthwise else self.kernel**2


def conv_channels(plan, in_channels: int, out_channels) -> list[tuple[Conv, int, int, int]]:
    """Each conv of a block's `plan` with its (input channels, output channels, groups): each conv is fed
    the previous one's output, the first the block's input. `out_channels` is the block's width, or its widths
    one per stacked conv: a plan with a dense conv per width (the stack) takes them in order, one that replaces
    them by fewer convs (a single kernel) maps to the last."""
    widths = out_channels if isinstance(out_channels, tuple) else (out_channels,)
    dense = sum(not conv.depthwise for conv in plan)
    outs = iter(widths if dense == len(widths) else (widths[-1],) * dense)
    convs = []
    for conv in plan:
        conv_in, conv_out, groups = conv.channels(in_channels, in_channels if conv.depthwise else next(outs))
        convs.append((conv, conv_in, conv_out, groups))
        in_channels = conv_out
    return convs


def _field(num_convs: int, kernel: int) -> int:
    """The receptive field of `num_convs` stacked kernel x kernel convs: n(k-1)+1, i.e. 2n+1 for k=3."""
    return num_convs * (kernel - 1) + 1


def _stack(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """n kxk convs, ReLU after each (VGG as published)"""
    return (Conv(kernel),) * num_convs


def _single(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """one conv of the stack's field, n(k-1)+1 px square (2n+1 for k=3), one ReLU"""
    return (Conv(_field(num_convs, kernel)),)


def _single_where_it_fits(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """single where the block's input map is at least as wide as its kernel, the stack in the blocks it
    would overhang (a 5x5 kernel on a 4x4 map scans mostly padding)"""
    return _single(num_convs, kernel, side) if _field(num_convs, kernel) <= side else _stack(num_convs, kernel, side)


def _linear_stack(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """n kxk convs, one ReLU after the last"""
    return (Conv(kernel, relu=False),) * (num_convs - 1) + (Conv(kernel),)


def _dilated(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """one 3x3 conv dilated to the stack's field (dilation n for k=3), one ReLU"""
    half = _field(num_convs, kernel) // 2
    return (Conv(3, dilation=half),) if half else (Conv(1),)  # 1x1 convs (k=1) have no field to dilate to


def _depthwise(num_convs: int, kernel: int, side: int) -> tuple[Conv, ...]:
    """one depthwise conv of the stack's field then a 1x1 conv, one ReLU (the large kernel of ConvNeXt)"""
    return Conv(_field(num_convs, kernel), relu=False, depthwise=True), Conv(1)


# Kernel variants: name -> plan of one block's convolutions, given its number of stacked convs, their kernel
# and the side of the block's input map (in px). The function's docstring describes the variant (in
# --variant's help). A new variant is one small function above and one entry here.
VARIANTS = {
    "stack": _stack,
    "single": _single,
    "linear-stack": _linear_stack,
    "single-fits": _single_where_it_fits,
    "dilated": _dilated,
    "depthwise": _depthwise,
}
DEFAULT_VARIANTS = ("stack", "single", "linear-stack")  # the others are opt-in


def variants_help() -> str:
    """Each variant with its one-line description, for --variant's help."""
    return "; ".join(f"{name} = {plan.__doc__}" for name, plan in VARIANTS.items())


def _block_widths(widths, convs_per_block) -> tuple:
    """`widths` as ArchSpec keeps them: per block an int where all its convs share a width, else a tuple of one
    width per conv. A block's entry is an int (every conv) or a list of one int per conv."""
    kept = []
    for block, (entry, count) in enumerate(zip(widths, convs_per_block, strict=True), start=1):
        if not isinstance(entry, (list, tuple)):
            at_most("widths entry", entry, MAX_UNITS, "channels a conv may have")
            kept.append(entry)
            continue
        if len(entry) != count:
            raise InputError(
                f"widths entry={shown(list(entry))} is not allowed: block {block} has {count} conv(s), so give one "
                f"width (every conv) or a list of {count} (one per conv)"
            )
        for width in entry:
            at_most("widths entry", width, MAX_UNITS, "channels a conv may have")
        kept.append(entry[0] if len(set(entry)) == 1 else tuple(entry))
    return tuple(kept)


def last_width(entry) -> int:
    """A block's output channels: its width, or its last conv's."""
    return entry[-1] if isinstance(entry, tuple) else entry


def joined_widths(widths, blocks: str = "-") -> str:
    """Widths as the identity ('16/32-64') or, `blocks` a space, the command line ('16/32 64') writes them: a
    block's per-conv widths joined by '/'."""
    return blocks.join("/".join(map(str, entry)) if isinstance(entry, tuple) else str(entry) for entry in widths)


@dataclass(frozen=True)
class ArchSpec:
    """The architecture before any width ratio: convs per block, their widths, and the classifier head.

    A block's width is an int (every conv) or a tuple of one per conv; a block whose convs share a width is
    kept as an int, so that equal plans compare equal however they were written."""

    name: str
    convs_per_block: tuple[int, ...]
    widths: tuple
    kernel: int = 3
    fc_hidden: int = FC_HIDDEN
    head: str = "fc"
    dropout: float = 0.5

    def __post_init__(self) -> None:
        one_of("arch", self.name, ARCH_NAMES)  # a preset's, or custom's: checkpoints and tables read no other
        object.__setattr__(self, "convs_per_block", tuple(self.convs_per_block))
        object.__setattr__(self, "widths", tuple(self.widths))
        if not self.convs_per_block:
            raise InputError("convs_per_block=() is not allowed: give at least one block")
        if len(self.convs_per_block) != len(self.widths):
            raise InputError(
                f"widths={self.widths} is not allowed: it must give one width per block "
                f"({len(self.convs_per_block)} blocks in convs_per_block={self.convs_per_block})"
            )
        for count in self.convs_per_block:
            at_most("convs_per_block entry", count, MAX_CONVS, "convs a block may have")
        object.__setattr__(self, "widths", _block_widths(self.widths, self.convs_per_block))
        if isinstance(self.kernel, bool) or not isinstance(self.kernel, int) or self.kernel < 1 or self.kernel % 2 == 0:
            raise InputError(
                f"kernel={shown(self.kernel)} is not allowed: it must be an odd integer >= 1 (1, 3, 5, ...)"
            )
        at_most("kernel", self.kernel, MAX_SIDE, "pixels a kernel's side may span")
        self._check_head()

    def _check_head(self) -> None:
        if self.head not in HEADS:
            described = "; ".join(f"{name} = {text}" for name, text in HEADS.items())
            raise InputError(
                f"head={shown(self.head)} is not allowed: choose one of {allowed(HEADS)} ({described})"
                f"{did_you_mean(self.head, HEADS)}"
            )
        at_most("fc_hidden", self.fc_hidden, MAX_UNITS, "units a layer may have")
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise InputError(
                f"dropout={shown(dropout)} is not allowed: it must be a number >= 0 and < 1 (the share of the fc "
                "head's hidden units each training step drops)"
            )
        object.__setattr__(self, "dropout", float(dropout))  # 0 and 0.0 are one head
        if self.head != "fc":  # the gap head has no hidden layer: a hidden width or a dropout would be ignored
            for key in ("fc_hidden", "dropout"):
                if getattr(self, key) != HEAD_DEFAULTS[key]:
                    raise InputError(
                        f"{key}={shown(getattr(self, key))} is not allowed with head={self.head!r}: it applies only "
                        f"with head='fc' (leave it at {HEAD_DEFAULTS[key]!r})"
                    )

    @property
    def num_blocks(self) -> int:
        return len(self.convs_per_block)


def preset(name: str, *, head: str = "fc", fc_hidden: int = FC_HIDDEN, dropout: float = 0.5) -> ArchSpec:
    """The VGG paper's configuration `name` (vgg11, vgg13, vgg16 or vgg19), with VGG's head unless told."""
    if name not in PRESET_CONVS:
        raise InputError(
            f"arch={shown(name)} is not allowed: choose one of {allowed(PRESET_CONVS)}, "
            f"a custom ArchSpec (convs per block and widths) or a factory's 'package.module:function'"
            f"{did_you_mean(name, PRESET_CONVS)}"
        )
    return ArchSpec(name, PRESET_CONVS[name], VGG_WIDTHS, head=head, fc_hidden=fc_hidden, dropout=dropout)


def custom(
    convs_per_block, widths, kernel: int = 3, fc_hidden: int = FC_HIDDEN, head: str = "fc", dropout: float = 0.5
) -> ArchSpec:
    """A user-defined architecture: one entry of `convs_per_block` and `widths` per block; a width is an int
    (every conv of the block) or a list of one per conv, e.g. widths=((16, 32), (64, 64))."""
    return ArchSpec(CUSTOM, tuple(convs_per_block), tuple(widths), kernel, fc_hidden, head, dropout)


@dataclass(frozen=True)
class FactoryArch:
    """A net a user's function builds (`vggbench.models.factory`): `target` is 'package.module:function', called as
    function((channels, height, width), num_classes); `source_sha256` is the digest of the file defining it, so that
    a result of the function as it was is never taken for one of the function as it is. Its variants are its
    torch.fx twins; it has no blocks or head vggbench knows (`num_blocks` 0: per-block code has nothing to do)."""

    target: str
    source_sha256: str

    @property
    def name(self) -> str:
        return self.target

    @property
    def num_blocks(self) -> int:
        return 0


@dataclass(frozen=True)
class ObjectArch(FactoryArch):
    """A net built from a Python object in this process (the Python API's; a run's configuration names factories):
    `make` is a function called as a factory is, or an nn.Module, copied for each model with its parameters reset
    (so that each seed starts from its own initial weights). `target` names it in tables ('module:function', or the
    module's class with ' object'); `source_sha256` is empty: an object has no file whose digest a run could keep."""

    make: object = None

    @classmethod
    def of(cls, made) -> ObjectArch:
        if callable(getattr(made, "state_dict", None)):  # an nn.Module (torch is imported where there is one)
            kind = type(made)
            return cls(f"{kind.__module__}.{kind.__qualname__} object", "", made)
        return cls(f"{getattr(made, '__module__', '?')}:{getattr(made, '__qualname__', type(made).__name__)}", "", made)


@dataclass(frozen=True)
class ModelSpec:
    """A fully specified model: architecture (a VGG's, or a factory's), kernel variant, width ratio and I/O shape."""

    arch: ArchSpec | FactoryArch  # given as these, a preset's or factory's name, or a function or nn.Module
    variant: str = "stack"
    ratio: int = 1
    in_channels: int = 1
    num_classes: int = 10
    resolution: int = 224
    batch_norm: bool = False
    # Derived and checked in __post_init__: the widths after the ratio, per block as the arch gives them
    # (`conv_widths`) and each block's output (`widths`); the fc head's hidden units (0: the gap head has none).
    conv_widths: tuple = field(init=False)
    widths: tuple[int, ...] = field(init=False)
    fc_hidden_units: int = field(init=False)

    def __post_init__(self) -> None:
        if isinstance(self.arch, str):  # a preset's name, or a factory's 'package.module:function'
            named = FactoryArch(self.arch, source_sha256(self.arch)) if is_target(self.arch) else preset(self.arch)
            object.__setattr__(self, "arch", named)
        elif callable(self.arch) and not isinstance(self.arch, (ArchSpec, FactoryArch)):  # a function or module
            object.__setattr__(self, "arch", ObjectArch.of(self.arch))
        if isinstance(self.arch, FactoryArch):
            self._check_factory()
            return
        if not isinstance(self.arch, ArchSpec):
            raise InputError(
                f"arch={type(self.arch).__name__} is not allowed: give a name ({allowed(PRESET_CONVS)}), an "
                "ArchSpec (vggbench.custom), a factory's 'package.module:function', the function itself or an "
                "nn.Module"
            )
        one_of("variant", self.variant, VARIANTS)
        positive_int("ratio", self.ratio)
        at_most("in_channels", self.in_channels, MAX_UNITS, "channels an input may have")
        at_most("num_classes", self.num_classes, MAX_UNITS, "units a layer may have")
        if not isinstance(self.batch_norm, bool):
            raise InputError(f"batch_norm={shown(self.batch_norm)} is not allowed: it must be True or False")
        arch = self.arch
        conv_widths = tuple(
            tuple(width // self.ratio for width in entry) if isinstance(entry, tuple) else entry // self.ratio
            for entry in arch.widths
        )
        given = [width for entry in arch.widths for width in (entry if isinstance(entry, tuple) else (entry,))]
        fc = arch.head == "fc"
        hidden = arch.fc_hidden // self.ratio if fc else 0
        if min(given) // self.ratio < 1 or (fc and hidden < 1):
            largest = min(given + [arch.fc_hidden] * fc)
            head = f", fc hidden {arch.fc_hidden}" if fc else ""
            raise InputError(
                f"ratio={self.ratio} is not allowed for {arch.name}: it leaves a width below 1 "
                f"(widths {joined_widths(arch.widths, ' ')}{head}); the largest allowed ratio is {largest}"
            )
        at_most("resolution", self.resolution, MAX_SIDE, "pixels an image's side may span")
        if self.resolution < self.min_resolution:
            raise InputError(
                f"resolution={self.resolution} is not allowed for {arch.name}: "
                f"{arch.num_blocks} 2x2 poolings need at least {self.min_resolution} pixels"
            )
        object.__setattr__(self, "conv_widths", _block_widths(conv_widths, arch.convs_per_block))
        object.__setattr__(self, "widths", tuple(map(last_width, conv_widths)))
        object.__setattr__(self, "fc_hidden_units", hidden)

    def _check_factory(self) -> None:
        """A factory builds the whole net: no width ratio or batch norm of vggbench's applies to it."""
        one_of("variant", self.variant, VARIANTS)
        at_most("in_channels", self.in_channels, MAX_UNITS, "channels an input may have")
        at_most("num_classes", self.num_classes, MAX_UNITS, "units a layer may have")
        at_most("resolution", self.resolution, MAX_SIDE, "pixels an image's side may span")
        for key, kept in (("ratio", 1), ("batch_norm", False)):
            value = getattr(self, key)
            if value != kept or type(value) is not type(kept):
                raise InputError(
                    f"{key}={shown(value)} is not allowed for factory {self.arch.target}: the factory "
                    f"builds the whole net (leave {key} at {kept!r})"
                )
        for name in ("conv_widths", "widths"):
            object.__setattr__(self, name, ())
        object.__setattr__(self, "fc_hidden_units", 0)

    @property
    def min_resolution(self) -> int:
        return 2**self.arch.num_blocks

    @property
    def feature_px(self) -> int:
        """Side of the last feature map: each 2x2 max-pool floors the side by half."""
        return self.resolution // self.min_resolution

    @property
    def fc_features(self) -> int:
        """The head's input features: the last map flattened, or its channels where the gap head pools it."""
        return self.widths[-1] * (self.feature_px**2 if self.arch.head == "fc" else 1)

    def block_plan(self, block: int) -> tuple[Conv, ...]:
        """The convolutions of block `block` (0-based)."""
        return VARIANTS[self.variant](self.arch.convs_per_block[block], self.arch.kernel, self.block_px(block))

    def block_px(self, block: int) -> int:
        """Side of block `block`'s input map (0-based): the image's, halved (floored) by each earlier pool."""
        return self.resolution // 2**block

    def block_channels(self, block: int) -> tuple[int, int]:
        """(input channels, output channels) of block `block` (0-based)."""
        in_channels = self.in_channels if block == 0 else self.widths[block - 1]
        return in_channels, self.widths[block]

    def block_widths(self, block: int):
        """The output widths of block `block`'s convs (0-based): one int (every conv), or one per stacked conv,
        as `conv_channels` takes them."""
        return self.conv_widths[block]


def grid(
    archs,
    variants=DEFAULT_VARIANTS,
    ratios=(1,),
    resolutions=(224,),
    in_channels: int = 1,
    num_classes: int = 10,
    batch_norm=False,
) -> list[ModelSpec]:
    """Every combination of `archs` (names or ArchSpecs) x variants x ratios x resolutions x batch_norm
    (one value or several), once each; an InputError names an axis given no values."""
    for name, values in {"archs": archs, "variants": variants, "ratios": ratios, "resolutions": resolutions}.items():
        if isinstance(values, (list, tuple)) and not values:
            raise InputError(f"{name}=[] is not allowed: give at least one value")
    batch_norms = tuple(batch_norm) if isinstance(batch_norm, (list, tuple)) else (batch_norm,)
    specs = (
        ModelSpec(arch, variant, ratio, in_channels, num_classes, resolution, normed)
        for arch in archs
        for ratio in ratios
        for resolution in resolutions
        for normed in batch_norms
        for variant in variants
    )
    return list(dict.fromkeys(specs))


CUSTOM_GROUP = "custom architecture (--arch custom)"


@dataclass(frozen=True)
class Grid(Setup):
    """A grid of models: every combination of archs, variants, ratios and resolutions.

    The ranges (a ratio that leaves a width, a resolution the pools can halve) are
    checked by ModelSpec, once, when the grid builds its models.
    """

    GROUP = "models (every combination is built)"

    archs: tuple[str, ...] | None = knob(
        None,
        "VGG configuration(s) of the VGG paper, or 'custom' (see --convs/--widths) "
        "(default: vgg11, or custom when --convs is given)",
        flags=("--arch",),
        choices=(*PRESET_CONVS, CUSTOM),
    )
    variants: tuple[str, ...] = knob(
        DEFAULT_VARIANTS,
        f"kernel variant(s), each in place of a block's n stacked kxk convs (k = --kernel, 3 by default): "
        f"{variants_help()}",
        flags=("--variant",),
        choices=tuple(VARIANTS),
    )
    ratios: tuple[int, ...] | None = knob(
        None,
        "width divisor(s): every conv width and the fc head's hidden width (--fc-hidden) are divided by it "
        "(default: 8 for the VGG presets, the book's small net; 1 for custom widths, taken as given)",
        flags=("--ratio",),
    )
    resolutions: tuple[int, ...] = knob(
        (224,), "input side(s) in pixels; at least 2**blocks (32 for the VGG presets)", flags=("--resolution",)
    )
    in_channels: int = knob(1, "input channels (1 for Fashion-MNIST)")
    num_classes: int = knob(10, "output classes")
    batch_norm: tuple[bool, ...] = knob(
        (False,),
        "BatchNorm after each conv (as torchvision's *_bn): --batch-norm alone means true; --batch-norm false "
        "true crosses both with the grid",
    )
    head: str = knob(
        HEAD_DEFAULTS["head"],
        "the classifier after the blocks: " + "; ".join(f"{name} = {text}" for name, text in HEADS.items()),
        choices=tuple(HEADS),
    )
    fc_hidden: int = knob(HEAD_DEFAULTS["fc_hidden"], "hidden units of each of the fc head's two hidden layers")
    dropout: float = knob(HEAD_DEFAULTS["dropout"], "the fc head's dropout probability, >= 0 and < 1")
    convs: tuple[int, ...] | None = knob(
        None,
        "convs per block, one number per block, e.g. 1 1 2 2 2 (default: --arch's)",
        metavar="N",
        group=CUSTOM_GROUP,
        repeats=True,
    )
    widths: tuple[int | tuple[int, ...], ...] | None = knob(
        None,
        "output channels per block before --ratio, e.g. 64 128 256 512 512; a block's convs may differ, joined "
        "by '/' (16/32 64/64; in TOML [[16, 32], [64, 64]]) (default: --arch's)",
        metavar="C",
        group=CUSTOM_GROUP,
        repeats=True,
    )
    kernel: int | None = knob(
        None, "odd kernel side of the stacked convs; single uses n*(kernel-1)+1 (default: 3)", group=CUSTOM_GROUP
    )
    factory: str | None = knob(
        None,
        "a net of your own in place of a VGG: 'package.module:function' (the current directory searched first), "
        "called as function((in_channels, resolution, resolution), num_classes), returning an nn.Module; its "
        "variants are its torch.fx twins (stack: the net as built) (default: none, a VGG of --arch)",
        metavar="MODULE:FUNCTION",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.factory is not None:
            self._check_factory()
            return
        given_custom = any(value is not None for value in (self.convs, self.widths, self.kernel))
        if self.archs is None:
            object.__setattr__(self, "archs", (CUSTOM,) if given_custom else ("vgg11",))
        if CUSTOM in self.archs and (self.convs is None or self.widths is None):
            raise InputError("--arch custom needs --convs and --widths (one entry per block each)")
        if given_custom and CUSTOM not in self.archs:
            raise InputError("--convs, --widths and --kernel describe --arch custom; add 'custom' to --arch")
        if self.ratios is None:  # explicit widths are taken as given; the presets are the book's small net
            if CUSTOM in self.archs and len(self.archs) > 1:
                raise InputError(
                    f"--arch {' '.join(self.archs)} needs --ratio (ratios in a config): the default is 8 for the "
                    "VGG presets and 1 for custom widths, and this grid has both"
                )
            object.__setattr__(self, "ratios", (1,) if CUSTOM in self.archs else (8,))
        self.models()  # every combination must make a valid model

    def _check_factory(self) -> None:
        """A factory builds the whole net: the keys that describe a VGG's are refused, in one line."""
        given = [key for key in ("archs", "convs", "widths", "kernel") if getattr(self, key) is not None]
        given += [key for key, value in HEAD_DEFAULTS.items() if getattr(self, key) != value]
        given += ["ratios"] * any(ratio != 1 for ratio in self.ratios or ())
        given += ["batch_norm"] * any(self.batch_norm)
        if given:
            raise InputError(
                f"{', '.join(given)} cannot be given with factory={shown(self.factory)}: the factory builds the whole "
                "net (resolutions, in_channels, num_classes and variants apply to it; batch norm is its own)"
            )
        object.__setattr__(self, "ratios", (1,))
        self.models()  # the factory must import and have a source file (the configuration builds its twins)

    def _head(self) -> dict:
        return {"head": self.head, "fc_hidden": self.fc_hidden, "dropout": self.dropout}

    def models(self) -> list[ModelSpec]:
        if self.factory is not None:
            arch = FactoryArch(self.factory, source_sha256(self.factory))
            return grid([arch], self.variants, (1,), self.resolutions, self.in_channels, self.num_classes)
        archs = [
            custom(self.convs, self.widths, self.kernel or 3, **self._head())
            if arch == CUSTOM
            else preset(arch, **self._head())
            for arch in self.archs
        ]
        return grid(
            archs, self.variants, self.ratios, self.resolutions, self.in_channels, self.num_classes, self.batch_norm
        )

    def ratio_note(self) -> str | None:
        """What custom widths become at the ratios above 1, in one line (the command line says it, never
        silently); None where they stay as given."""
        if self.factory is not None or CUSTOM not in self.archs or all(ratio == 1 for ratio in self.ratios):
            return None
        given = custom(self.convs, self.widths, self.kernel or 3, **self._head())
        divided = [
            f"{joined_widths(ModelSpec(given, ratio=ratio, resolution=2**given.num_blocks).conv_widths, ' ')} at "
            f"ratio {ratio}"
            for ratio in self.ratios
            if ratio > 1
        ]
        return (
            f"widths {joined_widths(given.widths, ' ')} become {', '.join(divided)} (every width divided by the "
            "ratio; ratio 1 keeps them as given)"
        )


def spec_to_dict(spec: ModelSpec) -> dict:
    """A ModelSpec as plain values (for checkpoints that torch.load(weights_only=True) can read). `head` and
    `dropout` are there only where they differ from their defaults, so that a default model's dict, and every
    digest of it (a trial's fingerprint), stays as it was before heads were a choice. A factory's names its function
    and the digest of its source, and none of a VGG's plan."""
    if isinstance(spec.arch, ObjectArch):
        raise InputError(f"{spec.arch.target} cannot be saved or fingerprinted: give its factory by name instead")
    if isinstance(spec.arch, FactoryArch):
        shape = {key: getattr(spec, key) for key in ("variant", "in_channels", "num_classes", "resolution")}
        return {"arch": spec.arch.target, "source_sha256": spec.arch.source_sha256, **shape}
    values = {
        "arch": spec.arch.name,
        "convs_per_block": list(spec.arch.convs_per_block),
        "widths": [list(entry) if isinstance(entry, tuple) else entry for entry in spec.arch.widths],
        "kernel": spec.arch.kernel,
        "fc_hidden": spec.arch.fc_hidden,
        "variant": spec.variant,
        "ratio": spec.ratio,
        "in_channels": spec.in_channels,
        "num_classes": spec.num_classes,
        "resolution": spec.resolution,
        "batch_norm": spec.batch_norm,
    }
    values.update({key: getattr(spec.arch, key) for key in ("head", "dropout") if _changed(spec.arch, key)})
    return values


def _changed(arch: ArchSpec, key: str) -> bool:
    return getattr(arch, key) != HEAD_DEFAULTS[key]


def spec_from_dict(values: dict) -> ModelSpec:
    """The ModelSpec `values` describe (as spec_to_dict gives them; no head or dropout: the defaults). A preset's
    name must come with the preset's plan, so that no model is labelled with another's name; its head may be any."""
    if "source_sha256" in values:
        shape = {key: values[key] for key in ("variant", "in_channels", "num_classes", "resolution")}
        return ModelSpec(FactoryArch(values["arch"], values["source_sha256"]), **shape)
    head = {key: values.get(key, HEAD_DEFAULTS[key]) for key in ("head", "dropout")}
    arch = ArchSpec(
        values["arch"], values["convs_per_block"], values["widths"], values["kernel"], values["fc_hidden"], **head
    )
    if arch.name != CUSTOM:
        named = preset(arch.name, head=arch.head, fc_hidden=arch.fc_hidden, dropout=arch.dropout)
        if arch != named:
            theirs, ours = (
                f"convs {list(plan.convs_per_block)}, widths [{joined_widths(plan.widths, ', ')}], kernel {plan.kernel}"
                for plan in (arch, named)
            )
            raise InputError(f"arch={shown(arch.name)} is not allowed with {theirs}: {arch.name} is {ours}")
    options = {
        key: values[key] for key in ("variant", "ratio", "in_channels", "num_classes", "resolution", "batch_norm")
    }
    return ModelSpec(arch, **options)
