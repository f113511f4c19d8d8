"""Nets a user's function builds: a factory 'package.module:function', called as function(input_shape, num_classes)
with input_shape = (channels, height, width), returning an nn.Module. Its `stack` is the module as built; its other
variants are its torch.fx twins (vggbench.models.twins).

The function is imported as `python -m` imports a module (vggbench.models._source). Every way a factory can fail (a
malformed string, a module that does not import, a missing function, a call that raises or returns no module) is one
line naming the value.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from vggbench.models._source import function, refuse, source_sha256
from vggbench.models.arch import FactoryArch, ModelSpec
from vggbench.models.twins import twin
from vggbench.models.vgg import build_spec as build_vgg
from vggbench.util.validate import InputError


def build_factory(spec: ModelSpec) -> nn.Module:
    """The module of a factory's `spec`: the factory's net (stack) or its twin, refused where the factory's source is
    no longer the one `spec` was made with (a checkpoint or a run of the function as it was)."""
    arch = spec.arch
    current = source_sha256(arch.target)
    if current != arch.source_sha256:
        raise InputError(
            f"factory {arch.target}'s source changed (sha256 {arch.source_sha256[:12]} when this model was made, "
            f"{current[:12]} now): rebuild it from the current source, or restore the source"
        )
    shape = (spec.in_channels, spec.resolution, spec.resolution)
    called = f"calling it with {shape}, {spec.num_classes}"
    try:
        module = function(arch.target)(shape, spec.num_classes)
    except Exception as error:  # the factory's own code
        first = next(iter(str(error).strip().splitlines()), "")
        raise refuse(arch.target, f"{called} raises {type(error).__name__}: {first}") from None
    if not isinstance(module, nn.Module):
        raise refuse(arch.target, f"{called} returns {type(module).__name__}")
    return module if spec.variant == "stack" else twin(module, shape, spec.variant).module


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
