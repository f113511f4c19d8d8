"""The feature map of any net torch.fx can trace, and the theoretical field of its units.

`walk` follows a VGG's layers in the order they are registered, the order a VGG runs them; a factory's net need
not run so, so it is followed along its traced graph instead. Its feature map is the last node whose output is 4-D
at the run's image shape, with both spatial sides > 1 or made by a layer the walk steps (so that a VGG's last pool,
which may leave 1 x 1, ends it as `walk` has it): the map before global pooling, flatten and the head.
`feature_graph` cuts the graph there, a module that takes an image of any side as a VGG's `features` does.

Each node's field follows from its inputs' with `walk`'s arithmetic (`window`, `step`): conv and pool layers and
pooling functions step, elementwise layers and functions keep it. Where branches join (a residual add, a cat of
channels) the field is the smallest interval that holds each branch's, which needs the branches' units as far
apart and their maps as large. Any other node, or a join of unlike maps, cannot be followed: a ValueError names it.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from vggbench.measure._receptive_field import Geometry, step, window
from vggbench.models.twins import activation_of, output_shape, traced

# Functions that pool as the module of the same name and arguments does.
_POOLS = {F.max_pool2d: nn.MaxPool2d, F.avg_pool2d: nn.AvgPool2d}
# Functions and tensor methods that combine their inputs value by value, or act on each value alone.
_ELEMENTWISE_FUNCTIONS = (
    operator.add,
    operator.sub,
    operator.mul,
    operator.truediv,
    operator.neg,
    torch.add,
    torch.sub,
    torch.mul,
    F.dropout,
    F.dropout2d,
)
_ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "contiguous", "clone"}
_CHANNELS = (1, -3)  # the channel dimension of an (N, C, H, W) map


def _ancestors(node: fx.Node) -> set[fx.Node]:
    """`node` and every node its value is computed from."""
    found, pending = set(), [node]
    while pending:
        current = pending.pop()
        if current not in found:
            found.add(current)
            pending.extend(current.all_input_nodes)
    return found


def feature_graph(module: nn.Module, input_shape) -> fx.GraphModule:
    """A traced copy of `module` cut at its feature map on one `input_shape` (channels, height, width) image: the
    graph of the nodes that map is computed from, with the map as its output (shape metadata kept)."""
    graph_module = traced(module, input_shape)
    modules = dict(graph_module.named_modules())
    maps = [node for node in graph_module.graph.nodes if _is_map(node, modules)]
    if not maps:
        raise ValueError(f"no node's output is a 4-D map with both sides > 1 at {tuple(input_shape)}")
    kept = _ancestors(maps[-1])
    graph, copies = fx.Graph(), {}
    for node in graph_module.graph.nodes:
        if node in kept:
            copies[node] = graph.node_copy(node, copies.__getitem__)
    graph.output(copies[maps[-1]])
    return fx.GraphModule(graph_module, graph)


def _op(node: fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        return type(modules[node.target]).__name__
    if node.op == "call_method":
        return f".{node.target}()"
    return getattr(node.target, "__name__", str(node.target))


def _layer(node: fx.Node, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The layer `node` runs: its module, or the module an activation or pooling function stands for."""
    if node.op == "call_module":
        return modules[node.target]
    pool = next((kind for function, kind in _POOLS.items() if function is node.target), None)
    if pool is None:
        return activation_of(node, modules)
    try:
        return pool(*node.args[1:], **node.kwargs)
    except TypeError:  # a setting the module does not take
        return None


def _is_map(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """Whether `node` outputs a 4-D map with both sides > 1, or one a layer the walk steps made (a VGG's last pool
    may leave 1 x 1), which no global pooling is."""
    shape = output_shape(node)
    if node.op == "output" or shape is None or len(shape) != 4:
        return False
    layer = _layer(node, modules) if node.op != "placeholder" else None
    try:
        stepped = layer is not None and window(layer) is not None
    except ValueError:  # a layer the walk does not know
        stepped = False
    return min(shape[-2:]) > 1 or stepped


def _elementwise(node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _ELEMENTWISE_METHODS
    if node.target is torch.cat:
        return node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0) in _CHANNELS
    return node.op == "call_function" and any(function is node.target for function in _ELEMENTWISE_FUNCTIONS)


def _join(fields: list[Geometry]) -> Geometry | str:
    """The field of a unit that reads the same unit of each of `fields`' maps, or why there is none."""
    jumps, sides = sorted({field.jump_px for field in fields}), sorted({field.out_px for field in fields})
    if len(jumps) > 1 or len(sides) > 1:
        return f"it joins maps of sides {sides} px whose units are {jumps} px apart"
    low = min(field.start_px - (field.rf_px - 1) / 2 for field in fields)
    high = max(field.start_px + (field.rf_px - 1) / 2 for field in fields)
    return Geometry(out_px=sides[0], rf_px=round(high - low) + 1, jump_px=jumps[0], start_px=(low + high) / 2)


def _field(node: fx.Node, inputs: list[Geometry], modules: dict[str, nn.Module]) -> Geometry | str:
    """The field of a unit of `node`'s output from its inputs' fields, or why it cannot be followed."""
    layer = _layer(node, modules)
    if layer is not None:
        try:
            win = window(layer)
        except ValueError as error:
            return str(error)
        return step(inputs[0], win) if win is not None else "past it no unit has a spatial place"
    if _elementwise(node):
        return _join(inputs)
    return "its geometry is not known"


def node_fields(graph_module: fx.GraphModule, resolution: int) -> tuple[dict[fx.Node, Geometry], str | None]:
    """The geometry of each node's output of a traced net on a `resolution` px square image, as far as the walk
    can follow it, and why it stopped where it did (None where it followed every node that has one)."""
    modules = dict(graph_module.named_modules())
    fields: dict[fx.Node, Geometry] = {}
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            fields[node] = Geometry(out_px=resolution, rf_px=1, jump_px=1, start_px=0.0)
            continue
        inputs = [fields[each] for each in node.all_input_nodes if each in fields]
        if node.op == "output" or not inputs or output_shape(node) is None:
            continue  # a constant, or no tensor (a size): no field of its own
        found = _field(node, inputs, modules)
        if isinstance(found, str):
            return fields, f"node {node.name} ({_op(node, modules)}) cannot be followed: {found}"
        fields[node] = found
    return fields, None


def field(graph_module: fx.GraphModule, resolution: int) -> Geometry:
    """The geometry of the output of a `feature_graph` on a `resolution` px square image, as `walk` gives it for a
    VGG's last layer; a ValueError names the node it cannot follow, and why."""
    fields, stopped = node_fields(graph_module, resolution)
    if stopped:
        raise ValueError(stopped)
    modules = dict(graph_module.named_modules())
    (feature_map,) = next(reversed(graph_module.graph.nodes)).args
    if feature_map not in fields:
        raise ValueError(
            f"node {feature_map.name} ({_op(feature_map, modules)}) cannot be followed: it does not depend on the image"
        )
    return fields[feature_map]
