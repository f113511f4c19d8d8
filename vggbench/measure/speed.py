"""Throughput and memory of a model, for inference or a training step, on CPU or CUDA.

Two measurements:
- `measure`: one model, timed by `torch.utils.benchmark.Timer.blocked_autorange`
  (explicit thread count, CUDA synchronized by the Timer, warm-up excluded); one row
  with median and IQR of the step time, throughput, achieved GFLOP/s and model FLOP
  utilisation against the device's measured matmul rate, and peak memory.
- `paired`: several variants of one model timed in alternation (A B, then B A, ...)
  in one process, so that drift of a shared machine hits them alike; one row per
  variant with the median time ratio to the baseline and a bootstrap 95% interval.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import nn

from vggbench.arch import ModelSpec
from vggbench.hardware import ResidentPeak
from vggbench.measure.flops import step_flops
from vggbench.measure.static import analyze
from vggbench.models import build_spec
from vggbench.schema import PAIRED_COLUMNS, identity
from vggbench.setups import SpeedSetup

if TYPE_CHECKING:
    from torch.utils.benchmark import Measurement

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
WARMUP_STEPS = 3  # untimed steps first: lazy initialisation, cuDNN autotuning, compilation
MIN_RUNS = 10  # time at least this many steps, however long --min-time is
IQR_TARGET = 0.1  # keep timing until IQR/median is below this ...
MAX_TIME_FACTOR = 5  # ... or this many times --min-time has passed
PAIR_BLOCK_S = 0.05  # each timed block of a pair lasts at least this long
OOM = "oom"


def _timer(stmt: str, globals: dict, threads: int):
    """A torch.utils.benchmark Timer (it synchronizes CUDA around each timed block)."""
    # Importing torch.utils.benchmark warns, on a CUDA build without a GPU, that no CUDA
    # runtime is found: expected on CPU machines, and nothing to do with timing.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    return benchmark.Timer(stmt, globals=globals, num_threads=threads)


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
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
    memory_format = torch.channels_last if setup.channels_last else torch.contiguous_format
    with device:  # initialise the weights where they will live
        model = build_spec(spec)
    model = model.to(memory_format=memory_format)
    shape = (setup.batch_size, spec.in_channels, spec.resolution, spec.resolution)
    images = torch.rand(shape, device=device).contiguous(memory_format=memory_format)
    labels = torch.randint(0, spec.num_classes, (setup.batch_size,), device=device)
    forward = torch.compile(model) if setup.compiled else model
    dtype = PRECISIONS[setup.precision]

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=setup.precision != "fp32")

    if setup.mode == "infer":
        model.eval()

        def step() -> None:
            with torch.inference_mode(), autocast():
                forward(images)

        return step, model

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)  # the seed's optimizer
    scaler = torch.amp.GradScaler(device.type, enabled=setup.precision == "fp16")
    loss_function = nn.CrossEntropyLoss()

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_function(forward(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return train_step, model


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


def _empty_result() -> dict:
    return dict.fromkeys(
        [
            "img_per_s",
            "step_ms_median",
            "step_ms_iqr",
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


def _timed(spec: ModelSpec, setup: SpeedSetup) -> Measurement:
    """Warm up, then time steps; the model and its data are freed when this returns."""
    step, _ = make_step(spec, setup)
    with _torch_threads(setup.threads):
        for _ in range(WARMUP_STEPS - 1):
            step()
        step_s = time_block(step, 1, setup.device)  # the last warm-up step sizes the run
    if setup.device == "cuda":
        # Count the steady state: cuDNN's autotuning in the warm-up borrows large workspaces once.
        torch.cuda.reset_peak_memory_stats()
    timer = _timer("step()", {"step": step}, setup.threads)
    # At least min_time_s and MIN_RUNS steps; then on until IQR/median < IQR_TARGET,
    # for at most MAX_TIME_FACTOR times as long.
    min_time_s = max(setup.min_time_s, MIN_RUNS * step_s)
    return timer.adaptive_autorange(IQR_TARGET, min_run_time=min_time_s, max_run_time=MAX_TIME_FACTOR * min_time_s)


def measure(spec: ModelSpec, setup: SpeedSetup) -> dict:
    """Time one model; an out-of-memory gives a row with error='oom' instead of numbers."""
    row = {**identity(spec), **setup.columns(), **_empty_result()}
    try:
        with _peak_memory(setup, row):
            measurement = _timed(spec, setup)
    except (torch.OutOfMemoryError, RuntimeError) as error:
        if not _is_oom(error):
            raise
        row["error"] = OOM
        return row
    finally:
        _release(setup.device)
    macs = analyze(spec).macs[""]
    flops = step_flops(spec, setup.mode)  # counted by torch, the backward pass's included
    achieved = flops * setup.batch_size / measurement.median / 1e9
    peak = peak_gflops(setup.device, setup.precision, setup.threads, setup.tf32)
    row.update(
        img_per_s=setup.batch_size / measurement.median,
        step_ms_median=measurement.median * 1e3,
        step_ms_iqr=measurement.iqr * 1e3,
        runs=len(measurement.times),
        steps_per_run=measurement.number_per_run,
        macs=macs,
        step_flops_per_image=flops,
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


def ratio_interval(ratios: np.ndarray, confidence: float = 0.95, resamples: int = 10_000) -> tuple[float, float]:
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


def interleaved_times(
    makers: list[Callable[[], Callable[[], None]]], setup, min_pairs: int, rebuilds: int
) -> np.ndarray:
    """Seconds per step of the steps that `makers` build, timed in alternation: shape (rebuilds, pairs per
    rebuild, steps). Each maker builds a fresh step (model and data) at every rebuild; `setup` gives the
    device, threads and min_time_s."""
    per_block = pairs = None
    times = []
    for _ in range(rebuilds):
        steps = [make() for make in makers]  # fresh instances each rebuild
        with _torch_threads(setup.threads):
            for step in steps:
                for _ in range(WARMUP_STEPS):
                    step()
            if per_block is None:  # sized once, on the first instances: each block lasts about PAIR_BLOCK_S
                step_s = [time_block(step, 1, setup.device) for step in steps]
                per_block = [max(1, math.ceil(PAIR_BLOCK_S / seconds)) for seconds in step_s]
                shortest = min(count * seconds for count, seconds in zip(per_block, step_s, strict=True))
                pairs = math.ceil(max(min_pairs, math.ceil(setup.min_time_s / shortest)) / rebuilds)
            block = np.zeros((pairs, len(steps)))
            for pair in range(pairs):
                order = range(len(steps)) if pair % 2 == 0 else reversed(range(len(steps)))
                for index in order:
                    block[pair, index] = time_block(steps[index], per_block[index], setup.device)
        times.append(block)
        del steps
        _release(setup.device)
    return np.stack(times)


def paired(specs: list[ModelSpec], setup: SpeedSetup, min_pairs: int = 64, rebuilds: int = 16) -> list[dict]:
    """Time `specs` interleaved; one row per spec after the first (the baseline).

    Each pair times every model once for a block of steps (at least PAIR_BLOCK_S
    seconds), in forward order on even pairs and reverse order on odd ones, so no
    model always runs first. The models are built afresh `rebuilds` times, and the
    pairs split between the builds. Pairs go on until each model has run
    `setup.min_time_s` seconds and at least `min_pairs` pairs exist. The time ratio
    of a pair is variant / baseline.
    """
    for name, value in (("min_pairs", min_pairs), ("rebuilds", rebuilds)):
        if value < 1:
            raise ValueError(f"{name}={value} is not allowed: it must be >= 1")
    baseline = specs[0]
    common = {**setup.columns(), "baseline": baseline.variant}
    try:
        times = interleaved_times(
            [functools.partial(_step_of, spec, setup) for spec in specs], setup, min_pairs, rebuilds
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
        rows.append(
            {
                **identity(spec),
                **common,
                "baseline_img_per_s": setup.batch_size / np.median(times[..., 0]),
                "variant_img_per_s": setup.batch_size / np.median(times[..., index]),
                "time_ratio_median": float(np.median(ratios)),
                "ci_low": low,
                "ci_high": high,
                "pairs": ratios.size,
                "rebuilds": rebuilds,
                "error": None,
            }
        )
    return rows


def paired_table(rows) -> pd.DataFrame:
    """Paired rows (a list of dicts or a table) with the identifying columns first."""
    table = pd.DataFrame(rows)
    first = [column for column in PAIRED_COLUMNS if column in table]
    return table[first + [column for column in table.columns if column not in first]]
