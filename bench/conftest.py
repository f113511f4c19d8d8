"""Shared by the benchmark suites: the device, a timed run that records achieved GFLOP/s, and quality targets.

Every suite runs on CUDA when a GPU is present, else on the CPU, with sizes picked so
that `pytest bench` takes a few minutes on two CPU cores.

A quality target (see quality.py) is reported, not enforced: a miss fails its test only
with `--strict-quality` or VGGBENCH_STRICT=1. The end of the run prints every target.
One target is the session's own: other processes must leave the cores alone while the
suites run. Busy loops beside a benchmark slow it steadily, so its own intervals can
look narrow while every figure is wrong; this check is what says so.
"""

import os

import pytest
import torch
from quality import failure, judge, summary

from vggbench.measure.hardware import device_name
from vggbench.measure.noise import CONTENTION_SLACK_CORES, CpuShare

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
ON_GPU = DEVICE == "cuda"
RECORDS = pytest.StashKey[list]()  # the quality records of this session, for the terminal summary
SESSION = pytest.StashKey[list]()  # the session-wide records (not a benchmark's), for the JSON file
SHARE = pytest.StashKey[CpuShare]()


def pytest_addoption(parser):
    parser.addoption(
        "--strict-quality",
        action="store_true",
        help="fail a benchmark that misses its quality target (also VGGBENCH_STRICT=1); by default a miss is reported",
    )


def _strict(config) -> bool:
    return config.getoption("strict_quality") or os.environ.get("VGGBENCH_STRICT") == "1"


def pytest_sessionstart(session):
    session.config.stash[SHARE] = CpuShare().__enter__()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # outside pytest-benchmark's wrapper, which writes the JSON file
def pytest_sessionfinish(session):
    _judge_the_machine(session)
    yield


def _judge_the_machine(session) -> None:
    share = session.config.stash[SHARE]
    share.__exit__(None, None, None)
    if share.other_cores is None:  # no /proc/stat: nothing to judge
        return
    what = "cores other processes kept busy while the suites ran, on average (this process's own work left out)"
    record = judge("a quiet machine", share.other_cores, CONTENTION_SLACK_CORES, "<", what)
    session.config.stash[SESSION] = [record]
    session.config.stash.setdefault(RECORDS, []).append(record)
    if failure(record, strict=_strict(session.config)):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["quality"] = config.stash.get(SESSION, [])


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


@pytest.fixture
def quality(benchmark, request):
    """Judge `figure comparison target` (">=" or "<"), record it in extra_info["quality"]; fail on a miss if strict."""

    def check(name: str, figure: float, target: float, comparison: str, what: str) -> None:
        record = judge(name, figure, target, comparison, what)
        benchmark.extra_info["quality"] = record
        request.config.stash.setdefault(RECORDS, []).append(record)
        reason = failure(record, strict=_strict(request.config))
        if reason:
            pytest.fail(reason, pytrace=False)

    return check


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables, so that the targets are read last
def pytest_terminal_summary(terminalreporter, config):
    records = config.stash.get(RECORDS, [])
    if records:
        mode = "strict: a miss fails its test" if _strict(config) else "reported, not enforced"
        terminalreporter.write_sep("-", f"quality targets ({mode})")
        for text in summary(records):
            terminalreporter.write_line(text)
