"""Nets a user's function builds: a factory 'package.module:function', called as function(input_shape, num_classes)
with input_shape = (channels, height, width), returning an nn.Module. Its `stack` is the module as built; its other
variants are its torch.fx twins (vggbench.models.twins).

The function is imported as `python -m` imports a module: the current directory first, so that
`examples.small_cnn:build` works from a checkout. Every way a factory can fail (a malformed string, a module that
does not import, a missing function, a call that raises or returns no module) is one line naming the value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import inspect
import os
import sys
from pathlib import Path

from torch import nn

from vggbench.models.arch import FactoryArch, ModelSpec, is_target
from vggbench.models.twins import twin
from vggbench.util.validate import InputError, shown

ALLOWED = "'package.module:function', a function called as function((channels, height, width), num_classes) that "
ALLOWED += "returns a torch.nn.Module"


def _refuse(target, why: str) -> InputError:
    return InputError(f"factory={shown(target)} is not allowed: {why} (give {ALLOWED})")


@contextlib.contextmanager
def _current_directory_first():
    """sys.path with the current directory first while importing, as `python -m` has it."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(here)


def function(target):
    """The function `target` names, imported; an InputError in one line where it cannot be."""
    if not is_target(target):
        raise _refuse(target, "it is not written as package.module:function")
    module_name, name = target.split(":")
    try:
        with _current_directory_first():
            module = importlib.import_module(module_name)
    except Exception as error:  # the module's own code runs: whatever it raises
        first = next(iter(str(error).strip().splitlines()), "")
        raise _refuse(target, f"module {module_name} cannot be imported: {type(error).__name__}: {first}") from None
    found = getattr(module, name, None)
    if not callable(found):
        raise _refuse(target, f"module {module_name} has no function {name}")
    return found


def factory_arch(target) -> FactoryArch:
    """The identity of the factory `target`: its name and the digest of the source file that defines it."""
    source = inspect.getsourcefile(function(target))
    if source is None:
        raise _refuse(target, "its source file cannot be found (a compiled or built-in function)")
    return FactoryArch(target, hashlib.sha256(Path(source).read_bytes()).hexdigest())


def build_factory(spec: ModelSpec) -> nn.Module:
    """The module of a factory's `spec`: the factory's net (stack) or its twin, refused where the factory's source is
    no longer the one `spec` was made with (a checkpoint or a run of the function as it was)."""
    arch = spec.arch
    current = factory_arch(arch.target)
    if current.source_sha256 != arch.source_sha256:
        raise InputError(
            f"factory {arch.target}'s source changed (sha256 {arch.source_sha256[:12]} when this model was made, "
            f"{current.source_sha256[:12]} now): rebuild it from the current source, or restore the source"
        )
    shape = (spec.in_channels, spec.resolution, spec.resolution)
    called = f"calling it with {shape}, {spec.num_classes}"
    try:
        module = function(arch.target)(shape, spec.num_classes)
    except Exception as error:  # the factory's own code
        first = next(iter(str(error).strip().splitlines()), "")
        raise _refuse(arch.target, f"{called} raises {type(error).__name__}: {first}") from None
    if not isinstance(module, nn.Module):
        raise _refuse(arch.target, f"{called} returns {type(module).__name__}")
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
