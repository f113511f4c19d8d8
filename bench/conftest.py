"""Shared by the benchmark suites: the device, and a timed run that records achieved GFLOP/s.

Every suite runs on CUDA when a GPU is present, else on the CPU, with sizes picked so
that `pytest bench` takes a few minutes on two CPU cores.
"""

import pytest
import torch

from vggbench.hardware import device_name

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
ON_GPU = DEVICE == "cuda"


def _synchronize() -> None:
    if ON_GPU:
        torch.cuda.synchronize()


@pytest.fixture
def timed(benchmark):
    """Benchmark `work()` (device synchronized inside the target); `flops` is per call."""

    def run(work, flops: float, rounds: int, warmup_rounds: int = 2, **info) -> float:
        def target():
            work()
            _synchronize()

        benchmark.pedantic(target, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
        median_s = benchmark.stats.stats.median
        benchmark.extra_info.update(
            device=DEVICE,
            device_name=device_name(DEVICE),
            threads=torch.get_num_threads(),
            torch_version=torch.__version__,
            flops=flops,
            achieved_gflops=flops / median_s / 1e9,
            **info,
        )
        return median_s

    return run
