"""Nets a user's function builds: a factory 'package.module:function', called as function(input_shape, num_classes)
with input_shape = (channels, height, width), returning an nn.Module. Its `stack` is the module as built; its other
variants are its torch.fx twins (vggbench.models.twins).

The function is imported as `python -m` imports a module (vggbench.models._source). Every way a factory can fail (a
malformed string, a module that does not import, a missing function, a call that raises or returns no module) is one
line naming the value. In Python, the function itself or an nn.Module may stand for the factory (ObjectArch): a
module is copied for each model and its parameters drawn again.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from vggbench.models._source import function, refuse, source_sha256
from vggbench.models.arch import FactoryArch, ModelSpec, ObjectArch
from vggbench.models.twins import twin
from vggbench.models.vgg import build_spec as build_vgg
from vggbench.util.validate import InputError


def build_factory(spec: ModelSpec) -> nn.Module:
    """The module of a factory's `spec`: the factory's net (stack) or its twin, refused where the factory's source is
    no longer the one `spec` was made with (a checkpoint or a run of the function as it was)."""
    arch = spec.arch
    shape = (spec.in_channels, spec.resolution, spec.resolution)
    if isinstance(arch, ObjectArch) and isinstance(arch.make, nn.Module):
        module = fresh_copy(arch.make)
    else:
        module = _called(arch, shape, spec.num_classes)
    return module if spec.variant == "stack" else twin(module, shape, spec.variant).module


def _called(arch: FactoryArch, shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """What the factory's function returns for `shape` and `num_classes`, checked to be a module."""
    if not isinstance(arch, ObjectArch):
        current = source_sha256(arch.target)
        if current != arch.source_sha256:
            raise InputError(
                f"factory {arch.target}'s source changed (sha256 {arch.source_sha256[:12]} when this model was made, "
                f"{current[:12]} now): rebuild it from the current source, or restore the source"
            )
    called = f"calling it with {shape}, {num_classes}"
    try:
        module = (arch.make if isinstance(arch, ObjectArch) else function(arch.target))(shape, num_classes)
    except Exception as error:  # the factory's own code
        first = next(iter(str(error).strip().splitlines()), "")
        raise refuse(arch.target, f"{called} raises {type(error).__name__}: {first}") from None
    if not isinstance(module, nn.Module):
        raise refuse(arch.target, f"{called} returns {type(module).__name__}")
    return module


def fresh_copy(module: nn.Module) -> nn.Module:
    """A copy of `module` with every parameter drawn again by its layer's reset_parameters (torch's default
    initialisation, from torch's generator): what a factory called after the seed would build. An InputError where a
    parameter's layer has no reset_parameters, since that parameter would start every seed from the same value."""
    fresh = copy.deepcopy(module).to(torch.get_default_device())  # e.g. meta, where a model is built to be counted
    layers = [layer for layer in fresh.modules() if callable(getattr(layer, "reset_parameters", None))]
    reset = {id(parameter) for layer in layers for parameter in layer.parameters()}
    kept = [name for name, parameter in fresh.named_parameters() if id(parameter) not in reset]
    if kept:
        raise InputError(
            f"{type(module).__name__}'s parameter {kept[0]} cannot be drawn again for each seed: its layer has no "
            "reset_parameters() (give a function that builds the module instead: it is called once per seed)"
        )
    for layer in layers:
        layer.reset_parameters()
    return fresh


def chain_table(specs: list[ModelSpec]) -> str:
    """Per factory model and variant but the stack, the chains its twin rewrote and the convs it left, with reasons,
    as lines to print; an InputError where a variant rewrites nothing (it would train an identical twin)."""
    import pandas as pd

    lines = []
    for spec in specs:
        if spec.variant == "stack":
            continue
        module = build_factory(dataclasses.replace(spec, variant="stack"))
        rows = pd.DataFrame(twin(module, (spec.in_channels, spec.resolution, spec.resolution), spec.variant).table())
        if rows.empty or not rows["rewritten"].any():
            reasons = "; ".join(dict.fromkeys(rows["reason"])) if not rows.empty else "it has no nn.Conv2d"
            raise InputError(
                f"{spec.variant} changes nothing in {spec.arch.target} at {spec.resolution} px: {reasons} (leave "
                f"{spec.variant} out of variants)"
            )
        lines += [f"{spec.arch.target} {spec.variant} at {spec.resolution} px:", rows.to_string(index=False)]
    return "\n".join(lines)


def build_model(spec: ModelSpec) -> nn.Module:
    """The module of any validated `ModelSpec`: a VGG, or the net (or twin) a factory builds."""
    return build_factory(spec) if isinstance(spec.arch, FactoryArch) else build_vgg(spec)
