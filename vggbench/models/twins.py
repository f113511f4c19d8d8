"""Twins of any module: vggbench's kernel variants applied to a user's own net, by rewriting its torch.fx graph.

vggbench's variants replace a VGG block's n stacked kxk convs. A twin does the same to any net torch.fx can trace:
it finds the chains of same-size kxk convs (each followed by at most a BatchNorm2d and an elementwise activation)
and replaces each by the layers vggbench builds for that variant (`vgg.conv_layers` from the variant's own plan),
so that a VGG's twin and vggbench's own VGG agree layer for layer. Every conv left as it is comes with a reason.

What a replacement keeps of the chain it replaces:
- its first conv's input channels, its last conv's output channels, and norms where the chain's convs have them
  (BatchNorm2d with torch's defaults, as vggbench's own);
- a bias on its convs unless no conv of the chain has one (ResNet's convs, followed by norms, have none);
- its last activation's type and settings (a GELU stays a GELU); a chain that ends without an activation (a ResNet
  block before its residual add) gets none after its last conv either.
A chain's replacement is the module at its first conv's path; its other convs, norms and activations are removed.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from vggbench.models.arch import VARIANTS
from vggbench.models.vgg import conv_layers
from vggbench.util.validate import InputError, one_of, shown

# Elementwise activations a chain may hold between its convs: modules as they are, and the functions and tensor
# methods that have a module of the same name and arguments (F.leaky_relu(x, negative_slope=0.2) is
# nn.LeakyReLU(negative_slope=0.2)).
_ACTIVATION_MODULES = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Sigmoid,
    nn.Tanh,
)
_ACTIVATION_FUNCTIONS = {
    F.relu: nn.ReLU,
    torch.relu: nn.ReLU,
    torch.relu_: nn.ReLU,
    F.relu6: nn.ReLU6,
    F.leaky_relu: nn.LeakyReLU,
    F.elu: nn.ELU,
    F.gelu: nn.GELU,
    F.silu: nn.SiLU,
    F.mish: nn.Mish,
    F.hardswish: nn.Hardswish,
    torch.sigmoid: nn.Sigmoid,
    torch.tanh: nn.Tanh,
}
_ACTIVATION_METHODS = {"relu": nn.ReLU, "relu_": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


@dataclass(frozen=True)
class Chain:
    """A run of stacked same-size convs that a variant may replace, or (`left`) a conv that can be in no run.

    `convs` are the convs' module paths in the original module; `side_px` is the smaller side of the first conv's
    input map (for the image shape given); `field_px` is the run's receptive field, n(k-1)+1, or a left conv's own
    window. `reason` says, in plain words, why the chain was not rewritten ('' where it was).
    """

    convs: tuple[str, ...]
    kernel: int | tuple[int, int]  # the side of a square kernel, else (height, width)
    side_px: int
    field_px: int
    left: bool
    rewritten: bool
    reason: str

    @property
    def num_convs(self) -> int:
        return len(self.convs)

    def row(self) -> dict:
        """The chain as one row of a printed table."""
        return {
            "convs": " -> ".join(self.convs),
            "what": "left conv" if self.left else "chain",
            "num_convs": self.num_convs,
            "kernel": self.kernel,
            "side_px": self.side_px,
            "field_px": self.field_px,
            "rewritten": self.rewritten,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Twin:
    """A module rewritten as `variant`, and what became of each of its chains and convs (in the graph's order)."""

    module: fx.GraphModule
    variant: str
    chains: tuple[Chain, ...]

    def table(self) -> list[dict]:
        """One row per chain or left conv, to print (e.g. with pandas.DataFrame)."""
        return [chain.row() for chain in self.chains]


@dataclass(frozen=True)
class _Link:
    """One conv of a chain, with the norm and activation it feeds directly (each the only reader of its input)."""

    conv: fx.Node
    norm: fx.Node | None
    activation: fx.Node | None
    activation_module: nn.Module | None  # the activation as a module: a function call is turned into one

    @property
    def nodes(self) -> list[fx.Node]:
        return [node for node in (self.conv, self.norm, self.activation) if node is not None]

    @property
    def end(self) -> fx.Node:
        return self.nodes[-1]


def _label(node: fx.Node) -> str:
    return str(node.target) if node.op == "call_module" else node.name


def _only_user(node: fx.Node) -> fx.Node | None:
    return next(iter(node.users)) if len(node.users) == 1 else None


def _pair(value) -> int | tuple:
    """A conv's (height, width) setting as a message shows it: one number where both agree."""
    return value[0] if isinstance(value, tuple) and len(set(value)) == 1 else value


def _fault(node: fx.Node, conv: nn.Conv2d, calls: Counter) -> str:
    """Why `conv` can be in no chain ('' where it can): every broken condition, in plain words."""
    problems = []
    height, width = conv.kernel_size
    if type(conv) is not nn.Conv2d:
        problems.append(f"is a {type(conv).__name__}, not nn.Conv2d itself")
    if height != width:
        problems.append(f"has a {height}x{width} kernel (not square)")
    elif height == 1:
        problems.append("is 1x1")
    elif height % 2 == 0:
        problems.append(f"has an even {height}x{height} kernel")
    elif conv.padding not in ("same", keeps := tuple(dilation * (height - 1) // 2 for dilation in conv.dilation)):
        problems.append(f"has padding {_pair(conv.padding)}, not {_pair(keeps)} (which keeps the map's size)")
    for setting in ("stride", "dilation"):
        if getattr(conv, setting) != (1, 1):
            problems.append(f"has {setting} {_pair(getattr(conv, setting))}")
    if conv.groups != 1:
        problems.append(f"has groups {conv.groups}")
    if conv.padding_mode != "zeros":
        problems.append(f"has padding_mode {conv.padding_mode!r}")
    if calls[node.target] > 1:
        problems.append(f"is called {calls[node.target]} times (its weights are shared)")
    return f"conv {node.target} {' and '.join(problems)}" if problems else ""


def activation_of(node: fx.Node, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The elementwise activation `node` computes, as a module, or None where it is none a chain may hold."""
    if node.op == "call_module":
        module = modules[node.target]
        return module if isinstance(module, _ACTIVATION_MODULES) else None
    if node.op == "call_function":  # compared by identity: a traced function need not be hashable
        kind = next((kind for function, kind in _ACTIVATION_FUNCTIONS.items() if function is node.target), None)
    else:
        kind = _ACTIVATION_METHODS.get(node.target) if node.op == "call_method" else None
    settings = (*node.args[1:], *node.kwargs.values())
    if kind is None or any(isinstance(value, fx.Node) for value in settings):
        return None
    try:
        return kind(*node.args[1:], **node.kwargs)
    except TypeError:  # a setting the module does not take
        return None


def _follow(conv: fx.Node, modules: dict[str, nn.Module]) -> _Link:
    """`conv` with the BatchNorm2d that is its only reader, and the activation that is the only reader after."""
    norm = activation = activation_module = None
    user = _only_user(conv)
    if user is not None and user.op == "call_module" and isinstance(modules[user.target], nn.BatchNorm2d):
        norm = user
        user = _only_user(norm)
    if user is not None and user.args[:1] == (norm or conv,):
        activation_module = activation_of(user, modules)
        activation = user if activation_module is not None else None
    return _Link(conv, norm, activation, activation_module)


def output_shape(node: fx.Node) -> torch.Size | None:
    """The shape ShapeProp recorded for `node`'s output (None where it is no tensor)."""
    meta = node.meta.get("tensor_meta")
    return meta.shape if hasattr(meta, "shape") else None


def _side(conv: fx.Node) -> int:
    return min(output_shape(conv.args[0])[-2:])


def _readers(link: _Link, links: dict[fx.Node, _Link]) -> tuple[list[fx.Node], str]:
    """The convs that read `link`'s last value and why no chain can go on to them ('' where one might)."""
    end = link.end
    if len(end.users) > 1:
        convs = [user for user in end.users if user in links]
        readers = ", ".join(_label(user) for user in end.users)
        return convs, (f"the value after {_label(end)} is read by {readers}" if convs else "")
    user = _only_user(end)
    if user is None or user in links:
        return [user] if user is not None else [], ""
    after = _only_user(user)
    # A layer that resizes the map (a pool) ends a block.
    if after not in links or output_shape(user) != output_shape(end):
        return [], ""
    return [after], (
        f"{_label(user)} sits between conv {link.conv.target} and conv {after.target} "
        "(a chain allows only a BatchNorm2d, then an elementwise activation, between two convs)"
    )


def _link_fault(before: _Link, after: _Link, faults: dict[fx.Node, str], modules: dict[str, nn.Module]) -> str:
    """Why conv `after`, the only reader of `before`'s last value, does not continue its chain ('' where it does)."""
    if faults[before.conv] or faults[after.conv]:
        return faults[before.conv] or faults[after.conv]
    first, second = (modules[link.conv.target].kernel_size[0] for link in (before, after))
    if first != second:
        return f"conv {before.conv.target} is {first}x{first} and conv {after.conv.target} is {second}x{second}"
    if (before.norm is None) != (after.norm is None):
        normed, bare = (before, after) if after.norm is None else (after, before)
        readers = ", ".join(_label(user) for user in bare.conv.users)
        shared = f" (its value is read by {readers})" if len(bare.conv.users) > 1 else ""
        return f"conv {normed.conv.target} has a norm after it and conv {bare.conv.target} has none{shared}"
    return ""


@dataclass(frozen=True)
class _Found:
    """A chain or left conv as the graph has it: the record, its links (none for a left conv), why a one-conv
    chain goes no further."""

    chain: Chain
    links: tuple[_Link, ...]
    breaks: tuple[str, ...]


def _analyse(graph_module: fx.GraphModule) -> list[_Found]:
    """Each chain and each left conv of a shape-propagated graph, in the order their first convs run."""
    modules = dict(graph_module.named_modules())
    nodes = graph_module.graph.nodes
    calls = Counter(node.target for node in nodes if node.op == "call_module")
    convs = [node for node in nodes if node.op == "call_module" and isinstance(modules[node.target], nn.Conv2d)]
    faults = {node: _fault(node, modules[node.target], calls) for node in convs}
    links = {node: _follow(node, modules) for node in convs}
    following: dict[fx.Node, fx.Node] = {}
    breaks: dict[fx.Node, list[str]] = {node: [] for node in convs}
    for node in convs:
        readers, why = _readers(links[node], links)
        if len(readers) == 1 and not why:
            why = _link_fault(links[node], links[readers[0]], faults, modules)
            if not why:
                following[node] = readers[0]
        for reader in readers if why else ():
            breaks[node].append(why)
            breaks[reader].append(why)
    found = []
    for node in convs:
        conv = modules[node.target]
        if faults[node]:
            spans = zip(conv.dilation, conv.kernel_size, strict=True)
            window = max(dilation * (size - 1) + 1 for dilation, size in spans)
            chain = Chain(
                (node.target,),
                _pair(conv.kernel_size),
                _side(node),
                window,
                left=True,
                rewritten=False,
                reason=faults[node],
            )
            found.append(_Found(chain, (), ()))
        elif node not in following.values():
            run = [node]
            while run[-1] in following:
                run.append(following[run[-1]])
            kernel = conv.kernel_size[0]
            targets = tuple(step.target for step in run)
            field = len(run) * (kernel - 1) + 1
            chain = Chain(targets, kernel, _side(node), field, left=False, rewritten=False, reason="")
            found.append(_Found(chain, tuple(links[step] for step in run), tuple(dict.fromkeys(breaks[node]))))
    return found


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def traced(module: nn.Module, input_shape) -> fx.GraphModule:
    """A traced copy of `module`, each node's output shape recorded for a batch of one `input_shape` image."""
    if not isinstance(module, nn.Module):
        raise InputError(f"module={type(module).__name__} is not allowed: give a torch.nn.Module")
    shape_ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3
    if not shape_ok or any(isinstance(side, bool) or not isinstance(side, int) or side < 1 for side in input_shape):
        raise InputError(
            f"input_shape={shown(input_shape)} is not allowed: give one image's (channels, height, width), "
            "three integers >= 1"
        )
    try:
        graph_module = fx.symbolic_trace(copy.deepcopy(module))
    except Exception as error:  # fx raises many kinds (TraceError, TypeError, NotImplementedError, ...)
        first = _first_line(error)
        raise InputError(
            f"module={type(module).__name__} cannot be traced by torch.fx: {first}. Twins need a forward whose steps "
            "do not depend on its input's values (no if or loop on a tensor); wrap such parts in leaf modules"
        ) from None
    graph_module.training = module.training  # the submodules keep theirs
    parameter = next(module.parameters(), None)
    like = {"dtype": parameter.dtype, "device": parameter.device} if parameter is not None else {}
    modes = {layer: layer.training for layer in graph_module.modules()}
    graph_module.eval()  # one image: a norm in training mode would refuse a 1x1 map, and would update its statistics
    try:  # ShapeProp prints the module's own error's traceback, and raises its own error from it
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ShapeProp(graph_module).propagate(torch.zeros(1, *input_shape, **like))
    except Exception as error:
        first = _first_line(error.__cause__ or error)
        raise InputError(
            f"input_shape={tuple(input_shape)} is not allowed for module={type(module).__name__}: "
            f"a batch of that shape fails in it: {first}"
        ) from None
    for layer, training in modes.items():
        layer.training = training
    return graph_module


def _one_conv(breaks: tuple[str, ...], changing: str) -> str:
    """A one-conv chain's reason: which variants replace its conv (`changing`), and why the chain goes no further."""
    what = f"only {changing} replaces it" if changing else "nothing to replace"
    return f"one conv: {what}" + (f" ({'; '.join(breaks)})" if breaks else "")


def find_chains(module: nn.Module, input_shape) -> tuple[Chain, ...]:
    """The chains of stacked same-size convs of `module` on one image of `input_shape` (channels, height, width),
    and the convs that can be in none, in the order they run. Nothing is rewritten: a chain's reason is '' where
    it has two convs or more, else says which variants would replace its one conv."""
    chains = []
    for found in _analyse(traced(module, input_shape)):
        chain = found.chain
        if not chain.left and chain.num_convs == 1:
            stack = VARIANTS["stack"](1, chain.kernel, chain.side_px)
            changing = [name for name, plan in VARIANTS.items() if plan(1, chain.kernel, chain.side_px) != stack]
            reason = _one_conv(found.breaks, " and ".join(changing))
            chain = dataclasses.replace(chain, reason=reason)
        chains.append(chain)
    return tuple(chains)


def _replace(graph_module: fx.GraphModule, links: tuple[_Link, ...], plan) -> None:
    """Put the layers `plan` gives in place of the chain `links`, as the module at its first conv's path."""
    modules = dict(graph_module.named_modules())
    convs = [modules[link.conv.target] for link in links]
    last = links[-1].activation_module
    if last is None:  # the chain ends without an activation, so does its replacement
        plan = (*plan[:-1], dataclasses.replace(plan[-1], relu=False))
    layers = conv_layers(
        convs[0].in_channels,
        convs[-1].out_channels,
        plan,
        batch_norm=links[0].norm is not None,
        bias=any(conv.bias is not None for conv in convs),
        activation=nn.ReLU if last is None else functools.partial(copy.deepcopy, last),
    )
    weight = convs[0].weight
    replacement = nn.Sequential(*layers).to(device=weight.device, dtype=weight.dtype).train(convs[0].training)
    first = links[0].conv
    graph_module.add_submodule(first.target, replacement)
    with graph_module.graph.inserting_before(first):
        node = graph_module.graph.call_module(first.target, first.args, first.kwargs)
    links[-1].end.replace_all_uses_with(node)
    for old in reversed([old for link in links for old in link.nodes]):
        graph_module.graph.erase_node(old)


def twin(module: nn.Module, input_shape, variant: str) -> Twin:
    """`module`'s twin for `variant` (a name of vggbench.VARIANTS): each chain of n stacked kxk convs replaced by
    the layers `variant` builds in a VGG block of n kxk convs on the chain's input map. `module` is not changed;
    the twin is a torch.fx.GraphModule, in the same training mode, on the same device."""
    one_of("variant", variant, VARIANTS)
    graph_module = traced(module, input_shape)
    chains = []
    for found in _analyse(graph_module):
        chain = found.chain
        if chain.left:
            chains.append(chain)
            continue
        size, kernel, side = chain.num_convs, chain.kernel, chain.side_px
        plan = VARIANTS[variant](size, kernel, side)
        if plan != VARIANTS["stack"](size, kernel, side):
            _replace(graph_module, found.links, plan)
            chains.append(dataclasses.replace(chain, rewritten=True))
        elif size == 1:
            chains.append(dataclasses.replace(chain, reason=_one_conv(found.breaks, "")))
        else:
            reason = f"{variant} keeps these {size} convs as they are on a {side} px map"
            chains.append(dataclasses.replace(chain, reason=reason))
    graph_module.delete_all_unused_submodules()
    graph_module.graph.lint()
    graph_module.recompile()
    return Twin(graph_module, variant, tuple(chains))
