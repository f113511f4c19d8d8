"""Static cost of a model: parameters, MACs (fvcore) and receptive field, as tidy tables.

Three tables, each one row per observation:
- `model_table`: one row per model;
- `layer_table`: one row per leaf layer, with its receptive field and, per conv, the share
  of its taps on zero padding;
- `block_table`: one row per block and given variant, with ratios against `stack`, so the
  claim "27C^2 against 49C^2" can be read block by block, and the block's map beside its
  widest kernel: a kernel wider than its map spends much of its work on padding.

fvcore counts one multiply-add as one "flop"; we store that as `macs` and
`flops` = 2 x `macs`. It counts convolutions, linear layers and batch norm, not
ReLU or pooling. All counts are for one image.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from vggbench.measure._receptive_field import Geometry, walk, window
from vggbench.measure.feature_map import feature_graph, field, node_fields
from vggbench.measure.taps import Window, padding_tap_share
from vggbench.models.arch import VARIANTS, FactoryArch, ModelSpec
from vggbench.models.factory import build_model
from vggbench.models.schema import identity
from vggbench.models.twins import traced
from vggbench.models.vgg import VGG
from vggbench.util.validate import InputError


@dataclass(frozen=True)
class Analysis:
    """Per-module counts of one model, from which every table is read."""

    spec: ModelSpec
    params: dict[str, int]  # qualified module name -> parameters, "" is the whole model
    macs: dict[str, int]  # qualified module name -> multiply-adds for one image
    layer_types: dict[str, str]  # leaf module name -> class name
    layer_channels: dict[str, tuple[int, int]]  # conv name -> (in, out) channels
    layer_blocks: dict[str, int]  # leaf module name -> its block (1-based); the head's leaves are absent
    block_names: tuple[str, ...]  # qualified name of each block
    head_name: str
    geometry: dict[str, tuple[Window, Geometry]]  # spatial leaf name -> window, output
    block_conv_rf_px: tuple[int, ...]  # per block: field of its convs, in block-input pixels
    block_rf_px: tuple[int, ...]  # per block: field of a unit of its output, in input pixels
    padding_tap_share: dict[str, float]  # conv name -> share of its taps on zero padding


def _blank_model(spec: ModelSpec) -> VGG:
    """The model with zeroed weights: counting needs shapes, not a random init."""
    with torch.device("meta"):
        model = build_model(spec)
    model = model.to_empty(device="cpu").eval()
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.zero_()
    return model


def _fvcore_macs(model: nn.Module, spec: ModelSpec) -> dict[str, int]:
    image = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # fvcore's TorchScript tracing warns of deprecation
        from fvcore.nn import FlopCountAnalysis  # slow import, needed only here

        counter = FlopCountAnalysis(model, image).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return dict(counter.by_module())


def _leaves(module: nn.Module, prefix: str = "") -> dict[str, nn.Module]:
    """The leaf modules under `module`, by their qualified name (with `prefix`)."""
    found = {}
    for name, child in module.named_modules(prefix=prefix):
        if next(child.children(), None) is None:
            found[name] = child
    return found


def _padding_tap_shares(geometry: dict[str, tuple[Window, Geometry]], resolution: int, convs) -> dict[str, float]:
    """Each conv's share of taps on zero padding, on the map it is fed (the previous layer's output)."""
    shares, side = {}, resolution
    for name, (win, output) in geometry.items():
        if name in convs:
            shares[name] = padding_tap_share(win, side)
        side = output.out_px
    return shares


@functools.cache
def analyze(spec: ModelSpec) -> Analysis:
    """Count parameters and MACs per module, and walk the receptive field (cached per spec)."""
    model = _blank_model(spec)
    names = {module: name for name, module in model.named_modules()}
    block_names = tuple(names[block] for block in model.blocks)
    leaves = _leaves(model)
    layer_blocks = {
        leaf: index
        for index, name in enumerate(block_names, start=1)
        for leaf in _leaves(model.blocks[index - 1], name)
    }
    geometry = walk(model, spec.resolution)
    # A block ends with its pool: the geometry just before it is the field of the block's convs.
    block_rf = tuple(list(walk(block, spec.resolution).values())[-2][1].rf_px for block in model.blocks)
    last_leaves = [list(_leaves(block, name))[-1] for block, name in zip(model.blocks, block_names, strict=True)]
    convs = [name for name, module in leaves.items() if isinstance(module, nn.Conv2d)]
    return Analysis(
        spec=spec,
        params={name: sum(p.numel() for p in module.parameters()) for name, module in model.named_modules()},
        macs=_fvcore_macs(model, spec),
        layer_types={name: type(module).__name__ for name, module in leaves.items()},
        layer_channels={
            name: (module.in_channels, module.out_channels) for name, module in leaves.items() if name in convs
        },
        layer_blocks=layer_blocks,
        block_names=block_names,
        head_name=names[model.head],
        geometry=geometry,
        block_conv_rf_px=block_rf,
        block_rf_px=tuple(geometry[leaf][1].rf_px for leaf in last_leaves),
        padding_tap_share=_padding_tap_shares(geometry, spec.resolution, convs),
    )


def flops_per_image(spec: ModelSpec) -> int:
    """FLOPs (2 x MACs) of one image's forward pass."""
    return model_row(spec)["flops"]


def _factory_row(spec: ModelSpec) -> dict:
    """A factory's model: its parameters and MACs, counted as a VGG's are, and the field of its feature map's units
    (vggbench.measure.feature_map), or why it has none; no per-block parts."""
    model = build_model(spec).eval()
    macs = _fvcore_macs(model, spec)[""]
    params = sum(tensor.numel() for tensor in model.parameters())
    row = {**identity(spec), "params": params, "macs": macs, "flops": 2 * macs}
    try:
        graph = feature_graph(model, (spec.in_channels, spec.resolution, spec.resolution))
        return {**row, "rf_px": field(graph, spec.resolution).rf_px}
    except ValueError as error:  # a node the walk cannot follow
        return {**row, "rf_px": None, "rf_note": f"not computed: {error}"}


def model_row(spec: ModelSpec) -> dict:
    if isinstance(spec.arch, FactoryArch):
        return _factory_row(spec)
    cost = analyze(spec)
    conv_params = sum(cost.params[name] for name in cost.block_names)
    return {
        **identity(spec),
        "params": cost.params[""],
        "conv_params": conv_params,
        "fc_params": cost.params[cost.head_name],
        "macs": cost.macs[""],
        "flops": 2 * cost.macs[""],
        "rf_px": list(cost.geometry.values())[-1][1].rf_px,
        "feature_px": spec.feature_px,
        "fc_features": spec.fc_features,
    }


def _specs(specs) -> list[ModelSpec]:
    """`specs` as a list: a non-empty iterable of ModelSpecs, else an InputError names the argument."""
    found = list(specs) if isinstance(specs, Iterable) and not isinstance(specs, (str, bytes)) else []
    if not found or not all(isinstance(spec, ModelSpec) for spec in found):
        raise InputError("specs is not allowed: give a non-empty list of vggbench.ModelSpec (vggbench.grid makes one)")
    return found


def model_table(specs: Iterable[ModelSpec]) -> pd.DataFrame:
    """One row per model: params (total, conv, fc), MACs and FLOPs for one image, rf_px."""
    return pd.DataFrame([model_row(spec) for spec in _specs(specs)])


def _layer_row(spec: ModelSpec, name: str, layer_type: str, placed: tuple[Window, Geometry] | None, **counts) -> dict:
    """One leaf layer's row: its type, its window and output (`placed`; None past the walk), and `counts` (block,
    a conv's channels, params, macs, padding_tap_share)."""
    win, geometry = placed or (None, None)
    channels = counts["channels"] or (None, None)
    return {
        **identity(spec),
        "block": counts["block"],
        "module": name,
        "layer_type": layer_type,
        "layer_in_channels": channels[0],
        "layer_out_channels": channels[1],
        "kernel_px": win and win.kernel,
        "stride_px": win and win.stride,
        "padding_px": win and win.padding,
        "dilation": win and win.dilation,
        "out_px": geometry and geometry.out_px,
        "params": counts["params"],
        "macs": counts["macs"],
        "flops": 2 * counts["macs"],
        "rf_px": geometry and geometry.rf_px,
        "jump_px": geometry and geometry.jump_px,
        "start_px": geometry and geometry.start_px,
        "padding_tap_share": counts["padding_tap_share"],
    }


def _vgg_layer_rows(spec: ModelSpec) -> list[dict]:
    cost = analyze(spec)
    return [
        _layer_row(
            spec,
            name,
            layer_type,
            cost.geometry.get(name),
            block=cost.layer_blocks.get(name),
            channels=cost.layer_channels.get(name),
            params=cost.params[name],
            macs=cost.macs.get(name, 0),
            padding_tap_share=cost.padding_tap_share.get(name, math.nan),
        )
        for name, layer_type in cost.layer_types.items()
    ]


def _factory_layer_rows(spec: ModelSpec) -> list[dict]:
    """A factory's net, one row per leaf layer in the order its traced graph first calls them, with the geometry of
    its output as far as the field walk follows the graph (vggbench.measure.feature_map): none past the feature
    map, nor past a node the walk cannot follow. No blocks: vggbench knows none in another's net."""
    model = build_model(spec).eval()
    macs = _fvcore_macs(model, spec)
    graph_module = traced(model, (spec.in_channels, spec.resolution, spec.resolution))
    fields = node_fields(graph_module, spec.resolution)[0]
    leaves = _leaves(model)
    rows, seen = [], set()
    for node in graph_module.graph.nodes:
        if node.op != "call_module" or node.target not in leaves or node.target in seen:
            continue  # a module called again (shared weights) has its row from its first call
        seen.add(node.target)
        module = leaves[node.target]
        fed = next((fields[each] for each in node.all_input_nodes if each in fields), None)
        placed = None
        if node in fields and fed is not None:
            try:
                placed = (window(module) or Window(1, 1, 0, 1), fields[node])
            except ValueError:  # a window the walk does not model (ceil_mode)
                placed = None
        conv = isinstance(module, nn.Conv2d)
        rows.append(
            _layer_row(
                spec,
                node.target,
                type(module).__name__,
                placed,
                block=None,
                channels=(module.in_channels, module.out_channels) if conv else None,
                params=sum(tensor.numel() for tensor in module.parameters()),
                macs=macs.get(node.target, 0),
                padding_tap_share=padding_tap_share(placed[0], fed.out_px) if conv and placed else math.nan,
            )
        )
    return rows


def layer_table(specs: Iterable[ModelSpec]) -> pd.DataFrame:
    """One row per leaf layer: window, output side, params, MACs and receptive field.

    Window and receptive-field columns are empty for the fully connected head,
    where every unit sees the whole image; `padding_tap_share` is a conv's alone (NaN elsewhere). A factory's
    net has no block numbers, and its geometry stops where the field walk does.
    """
    rows = []
    for spec in _specs(specs):
        rows += _factory_layer_rows(spec) if isinstance(spec.arch, FactoryArch) else _vgg_layer_rows(spec)
    table = pd.DataFrame(rows)
    integer_columns = [
        "block",
        "layer_in_channels",
        "layer_out_channels",
        "kernel_px",
        "stride_px",
        "padding_px",
        "dilation",
        "out_px",
        "rf_px",
        "jump_px",
    ]
    return table.astype({column: "Int64" for column in integer_columns})


def _block_row(spec: ModelSpec, index: int) -> dict:
    cost = analyze(spec)
    name = cost.block_names[index]
    in_channels, out_channels = spec.block_channels(index)
    plan = spec.block_plan(index)
    convs = [conv for conv in cost.padding_tap_share if cost.layer_blocks[conv] == index + 1]
    conv_macs = sum(cost.macs[conv] for conv in convs)
    largest_kernel_px = max(conv.window_px for conv in plan)
    return {
        **identity(spec),
        "block": index + 1,
        "num_convs": spec.arch.convs_per_block[index],
        "kernels_px": "-".join(conv.label for conv in plan),
        "relus": sum(conv.relu for conv in plan),
        "block_in_channels": in_channels,
        "block_out_channels": out_channels,
        "in_eq_out": in_channels == out_channels,
        "params": cost.params[name],
        "macs": cost.macs[name],
        "flops": 2 * cost.macs[name],
        # Weights per (input, output) channel pair, were the block's convs all C = out channels in and out.
        "weights_per_channel_pair": sum(conv.weights_per_channel_pair(out_channels) for conv in plan),
        "conv_rf_px": cost.block_conv_rf_px[index],
        "rf_px": cost.block_rf_px[index],
        "map_px": spec.block_px(index),
        "largest_kernel_px": largest_kernel_px,
        # The share of the block's conv multiply-adds that multiply padding: each conv's share, weighted by its MACs.
        "padding_tap_share": sum(cost.macs[conv] * cost.padding_tap_share[conv] for conv in convs) / conv_macs,
        "kernel_wider_than_map": largest_kernel_px > spec.block_px(index),
    }


def block_table(specs: Iterable[ModelSpec]) -> pd.DataFrame:
    """Per block, the given variants of each model side by side with its stack, params and MACs relative to it.

    `params_vs_stack_if_in_eq_out` is the analytic weight ratio for a block whose convs all have
    C inputs and C outputs ((2n+1)^2 / 9n for single: 25/18 for n=2, 49/27 for n=3); `params_vs_stack`
    is the measured ratio, which differs where the block's first conv changes the width.
    `map_px` is the side of the block's input map and `largest_kernel_px` the widest window of its convs: where
    that is wider (`kernel_wider_than_map`), much of the block's work multiplies padding (`padding_tap_share`).
    """
    bases: dict[ModelSpec, set[str]] = {}
    for spec in _specs(specs):
        bases.setdefault(dataclasses.replace(spec, variant="stack"), {"stack"}).add(spec.variant)
    rows = []
    for base, asked in bases.items():
        for index in range(base.arch.num_blocks):
            stack = _block_row(base, index)
            for variant in (name for name in VARIANTS if name in asked):
                row = _block_row(dataclasses.replace(base, variant=variant), index)
                row["params_vs_stack"] = row["params"] / stack["params"]
                row["params_vs_stack_if_in_eq_out"] = (
                    row["weights_per_channel_pair"] / stack["weights_per_channel_pair"]
                )
                row["macs_vs_stack"] = row["macs"] / stack["macs"]
                rows.append(row)
    return pd.DataFrame(rows)
