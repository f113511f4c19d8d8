"""Throughput and memory of a model, for inference or a training step, on CPU or CUDA.

Two measurements:
- `measure`: one model, timed in blocks of steps (explicit thread count, device
  synchronized, warm-up excluded); one row with median, IQR and a 95% interval of the
  step time, throughput, achieved GFLOP/s and model FLOP utilisation against the
  device's measured matmul rate, and peak memory.
- `paired`: several variants of one model timed in alternation (A B, then B A, ...)
  in one process, so that drift of a shared machine hits them alike; one row per
  variant with the median time ratio to the baseline and a bootstrap 95% interval.

Both adapt to the machine (`sample_until_narrow`): after their minimum, they keep
sampling until the interval's half-width is within the setup's target share of the
median, or its time cap has passed; the row records the half-width reached and
`stable` says whether it met the target while no other process took the cores the
timing needed (vggbench.measure.noise).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from vggbench.measure.flops import step_flops
from vggbench.measure.hardware import ResidentPeak
from vggbench.measure.noise import CpuShare, Probe, contended, idle_cores, usable_cores
from vggbench.measure.setups import SpeedSetup
from vggbench.measure.static import model_row
from vggbench.models.arch import ModelSpec
from vggbench.models.factory import build_model
from vggbench.models.schema import PAIRED_COLUMNS, identity
from vggbench.stats import hypothesis as stats

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
WARMUP_STEPS = 3  # untimed steps first: lazy initialisation, cuDNN autotuning, compilation
MIN_RUNS = 10  # time at least this many steps, however long --min-time is
# The A/A probe (`noise_probe`): vgg11 at ratio 8 and 32 px, inference at batch 64 (a few ms per step on a
# CPU core), timed against itself in short interleaved blocks over 8 builds; about three seconds in all.
PROBE_PAIRS, PROBE_REBUILDS = 32, 8
BLOCK_S = 0.05  # each timed block of steps lasts at least this long (timer resolution, Python overhead)
CONFIDENCE = stats.BOOTSTRAP_LEVEL
OOM = "oom"


def _timer(stmt: str, globals: dict, threads: int):
    """A torch.utils.benchmark Timer (it synchronizes CUDA around each timed block)."""
    # Importing torch.utils.benchmark warns, on a CUDA build without a GPU, that no CUDA
    # runtime is found: expected on CPU machines, and nothing to do with timing.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    return benchmark.Timer(stmt, globals=globals, num_threads=threads)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def make_step(spec: ModelSpec, setup: SpeedSetup) -> tuple[Callable[[], None], nn.Module]:
    """A closure that runs one step (inference, or forward-loss-backward-Adam) on fixed random data,
    and the model it steps."""
    torch.backends.cudnn.benchmark = setup.cudnn_benchmark
    device = torch.device(setup.device)
    with device:  # initialise the weights where they will live
        model = build_model(spec)
    shape = (setup.batch_size, spec.in_channels, spec.resolution, spec.resolution)
    images = torch.rand(shape, device=device)
    labels = torch.randint(0, spec.num_classes, (setup.batch_size,), device=device)
    loss_function = nn.CrossEntropyLoss()
    return model_step(model, images, setup, lambda logits: loss_function(logits, labels)), model


def model_step(
    model: nn.Module, images: torch.Tensor, setup: SpeedSetup, loss: Callable[[torch.Tensor], torch.Tensor] | None
) -> Callable[[], None]:
    """One step of `model` (on the setup's device) on `images` as `setup` says: inference, or forward, `loss` of
    the output (needed in train mode only), backward and an Adam step; in its precision, memory format, compiled
    or not."""
    device = torch.device(setup.device)
    memory_format = torch.channels_last if setup.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    images = images.contiguous(memory_format=memory_format)
    forward = torch.compile(model) if setup.compiled else model
    dtype = PRECISIONS[setup.precision]

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=setup.precision != "fp32")

    if setup.mode == "infer":
        model.eval()

        def step() -> None:
            with torch.inference_mode(), autocast():
                forward(images)

        return step

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # the book's optimizer
    scaler = torch.amp.GradScaler(device.type, enabled=setup.precision == "fp16")

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            value = loss(forward(images))
        scaler.scale(value).backward()
        scaler.step(optimizer)
        scaler.update()

    return train_step


@functools.cache
def peak_gflops(device: str, precision: str, threads: int, tf32: bool) -> float:
    """The device's dense matmul rate in GFLOP/s in `precision`, measured once per process."""
    side = 4096 if device == "cuda" else 1024
    left = torch.randn(side, side, device=device, dtype=PRECISIONS[precision])
    right = torch.randn(side, side, device=device, dtype=PRECISIONS[precision])
    tf32_before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32  # match what the convolutions are allowed
    try:
        timer = _timer("left @ right", {"left": left, "right": right}, threads)
        seconds = timer.blocked_autorange(min_run_time=0.5).median
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32_before
    return 2 * side**3 / seconds / 1e9


def _is_oom(error: BaseException) -> bool:
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)  # the CPU allocator


def _release(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def _peak_memory(setup: SpeedSetup, row: dict) -> Iterator[None]:
    """Fill `peak_mem_bytes` (CUDA allocator) or `rss_peak_increase_bytes` (CPU) in `row`.

    On CUDA `_timed` resets the peak again after the warm-up, so the figure is the
    timed steps' peak: weights, optimizer state and activations, without cuDNN's
    one-off autotuning workspace.
    """
    if setup.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        yield
        row["peak_mem_bytes"] = torch.cuda.max_memory_allocated()
        return
    with ResidentPeak() as resident:
        yield
    row["rss_peak_increase_bytes"] = resident.increase_bytes


def empty_result() -> dict:
    """The columns a timing fills, blank until it does."""
    return dict.fromkeys(
        [
            "img_per_s",
            "step_ms_median",
            "step_ms_iqr",
            "step_ms_ci_low",
            "step_ms_ci_high",
            "ci_half_width",
            "stable",
            "other_cores",
            "runs",
            "steps_per_run",
            "macs",
            "achieved_gflops",
            "peak_gflops",
            "mfu",
            "peak_mem_bytes",
            "rss_peak_increase_bytes",
            "error",
        ]
    )


def _median_rank(count: int, confidence: float) -> int:
    """The 1-based rank k of the lower end of the median's interval [x_(k), x_(n+1-k)] over `count` samples: the
    largest k with P(B <= k - 1) <= (1 - confidence) / 2 for B ~ Binomial(n, 1/2) (at least 1)."""
    tail, rank = (1 - confidence) / 2, 1
    below = math.comb(count, 0) + math.comb(count, 1)  # 2**n P(B <= rank), exact in integers
    while rank < count // 2 and below / 2**count <= tail:
        rank += 1
        below += math.comb(count, rank)
    return rank


def median_interval(samples, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """A distribution-free interval of the median: two order statistics of the samples, chosen by the binomial
    distribution as the sign test chooses them. Below 6 samples no pair reaches 95%: it is then (min, max)."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    rank = _median_rank(len(ordered), confidence)
    return float(ordered[rank - 1]), float(ordered[len(ordered) - rank])


def relative_half_width(center: float, low: float, high: float) -> float:
    """The larger distance from `center` to an end of its interval, as a share of `center`."""
    return max(center - low, high - center) / center


def sample_until_narrow(
    draw: Callable[[], object],
    half_width: Callable[[list], float],
    target: float,
    min_samples: int,
    min_time_s: float,
    max_time_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list, float, bool]:
    """Draw samples: at least `min_samples` of them for at least `min_time_s` seconds, then on until
    `half_width(samples)` is at most `target`, or `max_time_s` seconds have passed since the start (the
    minimum is drawn whatever the cap). Returns the samples, the half-width reached and whether it met the
    target."""
    start, samples = clock(), []
    while True:
        samples.append(draw())
        elapsed = clock() - start
        if len(samples) < min_samples or elapsed < min_time_s:
            continue
        width = half_width(samples)
        if width <= target or elapsed >= max_time_s:
            return samples, width, width <= target


@dataclass(frozen=True)
class Timing:
    """Seconds per step in each timed block of one model, and how the sampling ended."""

    block_s: np.ndarray
    steps_per_block: int
    half_width: float  # of the median's interval, as a share of the median
    reached: bool  # whether the half-width met the setup's target before its time cap
    other_cores: float | None  # cores that other processes used meanwhile (vggbench.measure.noise)


def _timed(make: Callable[[], Callable[[], None]], setup: SpeedSetup) -> Timing:
    """Warm up the step that `make` builds, then time blocks of steps until the median's interval is narrow
    enough (see `sample_until_narrow`); the model and its data are freed when this returns."""
    step = make()
    with torch_threads(setup.threads):
        for _ in range(WARMUP_STEPS - 1):
            step()
        step_s = time_block(step, 1, setup.device)  # the last warm-up step sizes the blocks
        if setup.device == "cuda":
            # Count the steady state: cuDNN's autotuning in the warm-up borrows large workspaces once.
            torch.cuda.reset_peak_memory_stats()
        per_block = max(1, math.ceil(BLOCK_S / step_s))

        def width(samples: list) -> float:
            return relative_half_width(float(np.median(samples)), *median_interval(samples))

        with CpuShare() as share:
            samples, reached_width, reached = sample_until_narrow(
                lambda: time_block(step, per_block, setup.device),
                width,
                setup.target_half_width,
                MIN_RUNS,
                setup.min_time_s,
                setup.max_time_s,
            )
    return Timing(np.array(samples), per_block, reached_width, reached, share.other_cores)


def _stability(half_width: float, reached: bool, other_cores: float | None, threads: int) -> dict:
    """The columns that say how far a timing can be trusted."""
    shared = contended(other_cores, threads)
    return {"ci_half_width": half_width, "other_cores": other_cores, "stable": reached and not shared}


def measure(spec: ModelSpec, setup: SpeedSetup) -> dict:
    """Time one model; an out-of-memory gives a row with error='oom' instead of numbers."""
    row = {**identity(spec), **setup.columns(), **empty_result()}
    return timed_row(
        row,
        lambda: make_step(spec, setup)[0],
        setup,
        lambda: model_row(spec)["macs"],
        lambda: step_flops(spec, setup.mode),  # counted by torch, the backward pass's included
    )


def timed_row(
    row: dict, make: Callable[[], Callable[[], None]], setup: SpeedSetup, macs: Callable[[], int], flops: Callable
) -> dict:
    """`row` with the timing of the step that `make` builds (see `_timed`) and its statistics: images per second,
    the median step time with its IQR and 95% interval, stability, and the achieved GFLOP/s from `flops()` per
    image against the device's matmul peak; an out-of-memory gives error='oom' instead of numbers."""
    try:
        with _peak_memory(setup, row):
            timing = _timed(make, setup)
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_oom(error):
            raise
        row["error"] = OOM
        return row
    finally:
        _release(setup.device)
    median = float(np.median(timing.block_s))
    low, high = median_interval(timing.block_s)
    quartile_1, quartile_3 = np.percentile(timing.block_s, [25, 75])
    per_image = flops()
    achieved = per_image * setup.batch_size / median / 1e9
    peak = peak_gflops(setup.device, setup.precision, setup.threads, setup.tf32)
    row.update(
        img_per_s=setup.batch_size / median,
        step_ms_median=median * 1e3,
        step_ms_iqr=(quartile_3 - quartile_1) * 1e3,
        step_ms_ci_low=low * 1e3,
        step_ms_ci_high=high * 1e3,
        **_stability(timing.half_width, timing.reached, timing.other_cores, setup.threads),
        runs=len(timing.block_s),
        steps_per_run=timing.steps_per_block,
        macs=macs(),
        step_flops_per_image=per_image,
        achieved_gflops=achieved,
        peak_gflops=peak,
        mfu=achieved / peak,
    )
    return row


def measure_with_retry(spec: ModelSpec, setup: SpeedSetup) -> dict:
    """`measure`; with `setup.oom_retry`, halve the batch after an out-of-memory until it fits.

    The row records the batch size actually used and the one asked for.
    """
    requested = setup.batch_size
    while True:
        row = measure(spec, setup)
        if row["error"] != OOM or not setup.oom_retry or setup.batch_size == 1:
            return {**row, "requested_batch_size": requested}
        setup = dataclasses.replace(setup, batch_size=setup.batch_size // 2)


def time_block(step: Callable[[], None], steps: int, device: str) -> float:
    """Seconds per step over `steps` consecutive steps, device synchronized at both ends."""
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    return (time.perf_counter() - start) / steps


def ratio_interval(ratios: np.ndarray, confidence: float = CONFIDENCE, resamples: int = 10_000) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median time ratio.

    `ratios` has one row per rebuild of the models and one column per pair. The
    bootstrap resamples rebuilds, then pairs within each (a two-stage bootstrap), so
    the interval covers the spread between model instances (memory placement, machine
    state), not only between pairs of one instance.
    """
    ratios = np.atleast_2d(ratios)
    rebuilds, pairs = ratios.shape
    rng = np.random.default_rng(0)
    chosen_rebuilds = rng.integers(0, rebuilds, size=(resamples, rebuilds, 1))
    chosen_pairs = rng.integers(0, pairs, size=(resamples, rebuilds, pairs))
    medians = np.median(ratios[chosen_rebuilds, chosen_pairs].reshape(resamples, -1), axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def _step_of(spec: ModelSpec, setup: SpeedSetup) -> Callable[[], None]:
    return make_step(spec, setup)[0]


class _Alternation:
    """The steps of `makers`, built afresh for each rebuild and timed in alternation (see interleaved_times)."""

    def __init__(self, makers: list[Callable[[], Callable[[], None]]], setup, min_pairs: int, rebuilds: int) -> None:
        self.makers, self.setup, self.min_pairs, self.rebuilds = makers, setup, min_pairs, rebuilds
        self.per_block: list[int] | None = None
        self.pairs = 0

    def _size(self, steps: list[Callable[[], None]]) -> None:
        """Blocks of about BLOCK_S each, and enough pairs per rebuild for min_pairs and min_time_s in all."""
        step_s = [time_block(step, 1, self.setup.device) for step in steps]
        self.per_block = [max(1, math.ceil(BLOCK_S / seconds)) for seconds in step_s]
        shortest = min(count * seconds for count, seconds in zip(self.per_block, step_s, strict=True))
        self.pairs = math.ceil(max(self.min_pairs, math.ceil(self.setup.min_time_s / shortest)) / self.rebuilds)

    def _timed_rebuild(self) -> np.ndarray:
        steps = [make() for make in self.makers]  # fresh instances each rebuild
        with torch_threads(self.setup.threads):
            for step in steps:
                for _ in range(WARMUP_STEPS):
                    step()
            if self.per_block is None:  # sized once, on the first instances
                self._size(steps)
            block = np.zeros((self.pairs, len(steps)))
            for pair in range(self.pairs):
                order = range(len(steps)) if pair % 2 == 0 else reversed(range(len(steps)))
                for index in order:
                    block[pair, index] = time_block(steps[index], self.per_block[index], self.setup.device)
        return block

    def __call__(self) -> np.ndarray:
        """One rebuild's (pairs, steps) seconds per step; its models are freed before this returns."""
        block = self._timed_rebuild()
        _release(self.setup.device)
        return block


def interleaved_times(
    makers: list[Callable[[], Callable[[], None]]],
    setup,
    min_pairs: int,
    rebuilds: int,
    half_width: Callable[[np.ndarray], float] | None = None,
) -> np.ndarray:
    """Seconds per step of the steps that `makers` build, timed in alternation: shape (rebuilds, pairs per
    rebuild, steps). Each maker builds a fresh step (model and data) at every rebuild; `setup` gives the
    device, threads and min_time_s. With `half_width` (of the times so far), rebuilds go on past `rebuilds`
    until it is at most `setup.target_half_width` or `setup.max_time_s` has passed since the start."""
    rebuild = _Alternation(makers, setup, min_pairs, rebuilds)
    if half_width is None:
        return np.stack([rebuild() for _ in range(rebuilds)])
    blocks, _, _ = sample_until_narrow(
        rebuild, lambda blocks: half_width(np.stack(blocks)), setup.target_half_width, rebuilds, 0.0, setup.max_time_s
    )
    return np.stack(blocks)


def _ratio_half_width(ratios: np.ndarray) -> float:
    return relative_half_width(float(np.median(ratios)), *ratio_interval(ratios))


def paired(specs: list[ModelSpec], setup: SpeedSetup, min_pairs: int = 64, rebuilds: int = 16) -> list[dict]:
    """Time `specs` interleaved; one row per spec after the first (the baseline).

    Each pair times every model once for a block of steps (at least BLOCK_S seconds),
    in forward order on even pairs and reverse order on odd ones, so no model always
    runs first. The models are built afresh `rebuilds` times, and the pairs split
    between the builds. Pairs go on until each model has run `setup.min_time_s`
    seconds and at least `min_pairs` pairs exist; then further rebuilds until every
    ratio's interval is within `setup.target_half_width` or `setup.max_time_s` has
    passed. The time ratio of a pair is variant / baseline.
    """
    for name, value in (("min_pairs", min_pairs), ("rebuilds", rebuilds)):
        if value < 1:
            raise ValueError(f"{name}={value} is not allowed: it must be >= 1")
    baseline = specs[0]
    common = {**setup.columns(), "baseline": baseline.variant}

    def widest(times: np.ndarray) -> float:
        return max(_ratio_half_width(times[..., index] / times[..., 0]) for index in range(1, len(specs)))

    try:
        with CpuShare() as share:
            times = interleaved_times(
                [functools.partial(_step_of, spec, setup) for spec in specs], setup, min_pairs, rebuilds, widest
            )
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_oom(error):
            raise
        return [{**identity(spec), **common, "error": OOM} for spec in specs[1:]]
    finally:
        _release(setup.device)
    rows = []
    for index, spec in enumerate(specs[1:], start=1):
        ratios = times[..., index] / times[..., 0]
        low, high = ratio_interval(ratios)
        width = relative_half_width(float(np.median(ratios)), low, high)  # the bootstrap above, not a second one
        rows.append(
            {
                **identity(spec),
                **common,
                "baseline_img_per_s": setup.batch_size / np.median(times[..., 0]),
                "variant_img_per_s": setup.batch_size / np.median(times[..., index]),
                "time_ratio_median": float(np.median(ratios)),
                "ci_low": low,
                "ci_high": high,
                **_stability(width, width <= setup.target_half_width, share.other_cores, setup.threads),
                "pairs": ratios.size,
                "rebuilds": times.shape[0],
                "error": None,
            }
        )
    return rows


def noise_probe(device: str, threads: int) -> Probe:
    """How far timings can be trusted now: the load average, the idle cores, then a small model timed against
    itself (A/A) without sampling past the fixed pairs (the probe measures the noise, it does not fight it)."""
    started = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    idle = idle_cores()
    spec = ModelSpec("vgg11", "stack", ratio=8, resolution=32)
    setup = SpeedSetup(mode="infer", device=device, threads=threads, batch_size=64, min_time_s=0, max_time_s=0)
    row = paired([spec, spec], setup, min_pairs=PROBE_PAIRS, rebuilds=PROBE_REBUILDS)[0]
    aa = (None,) * 4 if row["error"] else (row["time_ratio_median"], row["ci_low"], row["ci_high"], row["pairs"])
    return Probe(usable_cores(), threads, load, idle, *aa, device, time.perf_counter() - started)


def paired_table(rows) -> pd.DataFrame:
    """Paired rows (a list of dicts or a table) with the identifying columns first."""
    table = pd.DataFrame(rows)
    first = [column for column in PAIRED_COLUMNS if column in table]
    return table[first + [column for column in table.columns if column not in first]]
