"""How much memory a measurement of a model needs, estimated from its shapes before anything is allocated.

A study refuses a trial that cannot fit, with the figure, instead of crashing or
swapping for minutes. The estimate counts 4-byte floats: the weights (with their
gradients and Adam's two moments when training), and every layer's output for each
image of the batch (twice when a backward pass keeps them and sends gradients back).
It is a rough upper bound, not a measurement.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from vggbench.models.arch import FactoryArch, ModelSpec, conv_channels
from vggbench.models.factory import build_model
from vggbench.util.validate import InputError

BYTES_PER_VALUE = 4
HEADROOM = 0.9  # the share of available memory a trial may plan to use


def shapes(spec: ModelSpec, resolution: int | None = None) -> tuple[int, int]:
    """(parameters, values of every layer's output for one image) of `spec`, at `resolution` (default the
    spec's) for the convolutional part; counted from the spec, as the model would be built (nothing is built:
    a block of a million convs is counted at once)."""
    return _counts(spec, resolution)[:2]


def _counts(spec: ModelSpec, resolution: int | None) -> tuple[int, int, int]:
    """(parameters, output values, largest conv workspace) for one image; runs of identical convs (a stack) are
    counted once and multiplied. The workspace is the largest buffer a conv unfolds its input into (im2col:
    input channels x kernel taps x output positions), the working memory a direct convolution takes."""
    if isinstance(spec.arch, FactoryArch):
        return _built_counts(spec)
    side, parameters, values, widest = resolution or spec.resolution, 0, 0, 0
    per_output = 3 if spec.batch_norm else 2  # a conv's output, its norm's, its ReLU's (where it has one)
    for block in range(spec.arch.num_blocks):
        convs = _runs(spec.block_plan(block), spec.block_channels(block)[0], spec.block_widths(block))
        channels = convs[-1][0][2]
        for (conv, conv_in, conv_out, groups), repeats in convs:
            taps = conv.kernel * conv.kernel
            parameters += repeats * (conv_out * (conv_in // groups) * taps + conv_out * (3 if spec.batch_norm else 1))
            layers = per_output - (0 if conv.relu else 1)
            values += repeats * layers * conv_out * side * side
            widest = max(widest, conv_in * taps * side * side)
        side //= 2
        values += channels * side * side  # the pool
    hidden = spec.fc_hidden_units  # 0 for the gap head: its one linear layer maps the pooled channels to classes
    parameters += spec.fc_features * hidden + hidden + hidden * hidden + hidden + hidden * spec.num_classes
    parameters += spec.num_classes + (0 if hidden else spec.fc_features * spec.num_classes)
    values += 2 * hidden * 3 + spec.num_classes + (0 if hidden else spec.fc_features)  # gap: the pooled channels
    return parameters, values, widest


def _built_counts(spec: ModelSpec) -> tuple[int, int, int]:
    """`_counts` of a model whose plan vggbench does not know (a factory's): its parameters, and its leaf layers'
    outputs and largest conv workspace on one image, from one forward pass on the meta device (no memory taken)."""
    with torch.device("meta"):
        model = build_model(spec).eval()
    values, widest = [0], [0]

    def count(layer, inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            values[0] += output[0].numel()
        if isinstance(layer, torch.nn.Conv2d):
            taps = layer.kernel_size[0] * layer.kernel_size[1]
            widest[0] = max(widest[0], layer.in_channels // layer.groups * taps * output[0, 0].numel())

    leaves = [layer for layer in model.modules() if next(layer.children(), None) is None]
    handles = [layer.register_forward_hook(count) for layer in leaves]
    with torch.no_grad():
        model(torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution, device="meta"))
    for handle in handles:
        handle.remove()
    return sum(tensor.numel() for tensor in model.parameters()), values[0], widest[0]


def _runs(plan, in_channels: int, out_channels) -> list[tuple[tuple, int]]:
    """The convs of a block's `plan` with their channels (as `conv_channels` gives them), each run of equal
    convs with equal channels as one entry and its length. Per-conv widths (a tuple) were listed by hand, one
    per conv: those convs are taken one by one."""
    if isinstance(out_channels, tuple):
        return [(conv, 1) for conv in conv_channels(plan, in_channels, out_channels)]
    runs: list[tuple[tuple, int]] = []
    for conv, repeats in ((conv, len(list(run))) for conv, run in itertools.groupby(plan)):
        (first,) = conv_channels([conv], in_channels, out_channels)  # fed the previous conv's output
        (rest,) = conv_channels([conv], first[2], out_channels)  # fed its own
        runs += [(first, 1)] + ([(rest, repeats - 1)] if repeats > 1 else [])
        in_channels = first[2]
    return runs


def needed_bytes(spec: ModelSpec, batch: int, backward: bool, optimizer: bool, resolution: int | None = None) -> int:
    """Bytes a step on `batch` images needs: weights (x4 with gradients and Adam's moments), outputs (x2 with a
    backward pass), and the largest conv's unfolded input."""
    parameters, values, widest = _counts(spec, resolution)
    weights = parameters * (4 if optimizer else 2 if backward else 1)
    return BYTES_PER_VALUE * (weights + batch * (values * (2 if backward else 1) + widest))


def available_bytes(device: str) -> int:
    """Memory this process may still take on `device`: CUDA's free memory, or the kernel's MemAvailable."""
    if device == "cuda":
        return torch.cuda.mem_get_info()[0]
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf  # not known here: do not refuse


def check_fits(needed: int, device: str, what: str) -> None:
    """Refuse `what` where it needs more than HEADROOM of the memory available on `device`."""
    available = available_bytes(device)
    if needed > HEADROOM * available:
        raise InputError(
            f"{what} needs about {needed / 2**30:,.1f} GiB of memory, more than the {available / 2**30:,.1f} GiB "
            f"available on {device}: make the model, its input side or the batch smaller"
        )


def present(device: str) -> bool:
    """Whether this machine has `device` (every machine has a CPU)."""
    return device != "cuda" or torch.cuda.is_available()


def _gib(count: float) -> str:
    return f"{count / 2**30:,.1f} GiB"


@dataclass(frozen=True)
class Need:
    """The memory one run needs on its device, and what this machine has there (None: not this device)."""

    device: str
    needed: int  # bytes, estimated from the shapes (`needed_bytes`)
    what: str  # the run, in words
    available: float | None  # bytes this process may still take there; None where the machine lacks the device

    @classmethod
    def of(cls, needed: int, device: str, what: str) -> Need:
        return cls(device, needed, what, available_bytes(device) if present(device) else None)

    @property
    def fits(self) -> bool:
        """Whether the run may start here: the device is here, with at least needed / HEADROOM bytes free."""
        return self.available is not None and self.needed <= HEADROOM * self.available

    def sentence(self) -> str:
        """The need and whether this machine meets it, in words."""
        start = f"memory on {self.device}: the largest run, {self.what}, needs about {_gib(self.needed)}"
        if self.available is None:
            return f"{start}; this machine has no CUDA GPU"
        if math.isinf(self.available):
            return f"{start}; how much this machine has is not known here"
        has = f"this machine has {_gib(self.available)} available, of which a run may plan on {HEADROOM:.0%}"
        verdict = "enough" if self.fits else "not enough: here the run would be refused"
        return f"{start}; {has} ({_gib(HEADROOM * self.available)}): {verdict}"


def largest(needs: list[Need]) -> list[Need]:
    """The largest need on each device, in the order the devices first come."""
    found: dict[str, Need] = {}
    for need in needs:
        if need.device not in found or need.needed > found[need.device].needed:
            found[need.device] = need
    return list(found.values())
