"""Any `nn.Module`, measured as the kinds measure vggbench's own models: its static cost (parameters, and MACs
counted by fvcore for one image, as the static kind counts them) and its speed (the speed kind's timing and
statistics, `speed.timed_row`).

The module is never changed: the timing steps a copy of it (a training step updates weights), and the counts
run it on one image in eval mode, then put its mode back.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vggbench.measure import memory, speed
from vggbench.measure.setups import SpeedSetup
from vggbench.util.validate import InputError, shown


def image_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """One image's shape (channels, height, width; no batch dimension), checked."""
    values = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else ()
    if not values or not all(isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in values):
        raise InputError(
            f"input_shape={shown(shape)} is not allowed: give one image's shape as positive integers, without the "
            "batch dimension, e.g. (3, 224, 224)"
        )
    return values


def _module(model) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise InputError(f"model={type(model).__name__} is not allowed: give a torch.nn.Module")
    return model


def _check_runs(model: nn.Module, shape: tuple[int, ...], batch: int, device: str) -> None:
    """Refuse a batch of `shape` images that would not fit in `device`'s memory, and a module that fails on one
    image of `shape` or returns anything but a tensor (tried on its own device in eval mode, then put back)."""
    what = f"a batch of {batch} image(s) of input_shape={shape}"
    memory.check_fits(batch * math.prod(shape) * memory.BYTES_PER_VALUE, device, what)
    name, was_training = type(model).__name__, model.training
    try:
        with torch.no_grad():
            output = model.eval()(torch.zeros(1, *shape, device=_device(model)))
    except Exception as error:  # the module's own code, whatever it raises
        first = shown(next(iter(str(error).strip().splitlines()), ""), quoted=False)
        raise InputError(
            f"model={name} fails on one image of input_shape={shape}: {type(error).__name__}: {first}"
        ) from error
    finally:
        model.train(was_training)
    if not isinstance(output, torch.Tensor):
        raise InputError(
            f"model={name} returns {type(output).__name__}, not a tensor: measure a module whose forward returns "
            "one tensor (wrap it to return the output to time)"
        )


def _device(model: nn.Module) -> torch.device:
    """Where the module's weights are (the CPU for a module without any)."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


def fvcore_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one image of `shape` through `model`, as fvcore counts them (convolutions, linear layers
    and norms; not activations or pooling), in eval mode; the module's mode is put back."""
    was_training = model.training
    image = torch.zeros(1, *shape, device=_device(model))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # fvcore's TorchScript tracing warns of deprecation
            from fvcore.nn import FlopCountAnalysis  # slow import, needed only here

            counter = FlopCountAnalysis(model.eval(), image)
            return int(counter.unsupported_ops_warnings(False).uncalled_modules_warnings(False).total())
    finally:
        model.train(was_training)


def static_cost(model, input_shape: Sequence[int]) -> dict:
    """Parameters (all, and those that require gradients), MACs and FLOPs (2 x MACs) of one image."""
    model, shape = _module(model), image_shape(input_shape)
    _check_runs(model, shape, 1, _device(model).type)
    macs = fvcore_macs(model, shape)
    return {
        "model": type(model).__name__,
        "input_shape": shape,
        "params": sum(tensor.numel() for tensor in model.parameters()),
        "trainable_params": sum(tensor.numel() for tensor in model.parameters() if tensor.requires_grad),
        "macs": macs,
        "flops": 2 * macs,
    }


def _loss_for(output: torch.Tensor, batch: int, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """The training step's loss: cross-entropy against random labels where the output is (batch, classes)
    logits, as vggbench's models are trained; the mean of the squared output otherwise."""
    if output.ndim == 2 and output.shape[0] == batch:
        labels = torch.randint(0, output.shape[1], (batch,), device=device)
        return lambda logits: nn.functional.cross_entropy(logits.float(), labels)
    return lambda values: values.float().square().mean()


def _make(model: nn.Module, shape: tuple[int, ...], setup: SpeedSetup) -> Callable[[], None]:
    """A step of a fresh copy of `model` on the setup's device, on fixed random images."""
    torch.backends.cudnn.benchmark = setup.cudnn_benchmark
    device = torch.device(setup.device)
    copied = copy.deepcopy(model).to(device)
    images = torch.rand((setup.batch_size, *shape), device=device)
    with torch.no_grad():
        loss = _loss_for(copied.eval()(images), setup.batch_size, device) if setup.mode == "train" else None
    return speed.model_step(copied, images, setup, loss)


def step_flops(model: nn.Module, shape: tuple[int, ...], mode: str) -> int:
    """FLOPs of one image's step, counted by torch as the speed kind counts them: the forward pass (infer), or
    forward, loss and backward (train); on a copy without storage where the module allows, else on a copy."""
    try:
        copied, device = copy.deepcopy(model).to("meta"), torch.device("meta")
        return _count(copied, shape, mode, device)
    except (NotImplementedError, RuntimeError):  # an operation without a meta implementation
        copied = copy.deepcopy(model)
        return _count(copied, shape, mode, _device(copied))


def _count(model: nn.Module, shape: tuple[int, ...], mode: str, device: torch.device) -> int:
    image = torch.zeros(1, *shape, device=device)
    model.train(mode == "train")
    with FlopCounterMode(display=False) as counter:
        if mode == "train":
            output = model(image)
            _loss_for(output, 1, device)(output).backward()
        else:
            with torch.no_grad():
                model(image)
    return int(counter.get_total_flops())


def measure_speed(model, input_shape: Sequence[int], setup: SpeedSetup) -> dict:
    """Time `model` on batches of `input_shape` images as the speed kind times a model under `setup`: one row
    with the setup's columns, images per second, the step time's median, IQR and 95% interval, stability, MACs,
    achieved GFLOP/s and peak memory (error='oom' instead where it ran out of memory)."""
    model, shape = _module(model), image_shape(input_shape)
    setup.check_available()
    if setup.mode == "train" and not any(tensor.requires_grad for tensor in model.parameters()):
        raise InputError(
            f"model={type(model).__name__} has no parameters to train: mode='train' steps an optimizer over them "
            "(time it with mode='infer')"
        )
    _check_runs(model, shape, setup.batch_size, setup.device)
    columns = {"model": type(model).__name__, "input_shape": shape, **setup.columns()}
    row = {**columns, "params": sum(tensor.numel() for tensor in model.parameters()), **speed.empty_result()}

    def macs() -> int | float:
        try:
            return fvcore_macs(model, shape)
        except RuntimeError:  # a module fvcore's tracer cannot follow: the timing stands without its count
            return math.nan

    return speed.timed_row(
        row, lambda: _make(model, shape, setup), setup, macs, lambda: step_flops(model, shape, setup.mode)
    )
