"""What the measurements run on: the device and thread count, the machine's names and versions,
and the process's resident memory."""

from __future__ import annotations

import os
import platform
import resource
from dataclasses import dataclass
from pathlib import Path

from vggbench.util import validate
from vggbench.util.knobs import Setup, knob
from vggbench.util.version import git_commit

MAX_THREADS = 4096  # on any machine (torch crashes on far larger counts)
THREADS_PER_CORE = 4  # on this machine: more threads than 4 per core only share them


def default_threads() -> int:
    """torch's intra-op thread count: by default, the number of cores."""
    import torch  # here, not at the top: the command line's --help should not wait for torch

    return torch.get_num_threads()


@dataclass(frozen=True)
class Machine(Setup):
    """Where a measurement runs; the defaults are resolved when it is made, once."""

    GROUP = "device"

    device: str = knob(
        help="where to run (default: cuda when a GPU is present, else cpu)",
        factory=validate.default_device,
        choices=validate.DEVICES,
    )
    threads: int = knob(
        help=f"intra-op threads, at most {THREADS_PER_CORE} per core (default: torch's default, the number of cores)",
        factory=default_threads,
        minimum=1,
        maximum=MAX_THREADS,
    )

    def check_available(self, report=None) -> None:
        """Refuse a device this machine does not have (a configuration may describe another machine); say
        where the thread count is above the machine's cores (threads then share cores, and timings suffer)."""
        validate.device(self.device)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if cores and self.threads > THREADS_PER_CORE * cores:
            raise validate.InputError(
                f"threads={self.threads:,} is not allowed: at most {THREADS_PER_CORE * cores} ({THREADS_PER_CORE} "
                f"per core of the {cores} this process may use); more threads only share the cores"
            )
        if report is not None and cores and self.threads > cores:
            report(f"warning: threads={self.threads} is more than the {cores} cores this process may use")


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (falls back to the platform string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return torch.cuda.get_device_name()
    return cpu_model()


def _status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except OSError:
        pass
    return None


class ResidentPeak:
    """Increase of the process's peak resident memory (bytes) over a stretch of work.

    On Linux the high-water mark is reset first (/proc/self/clear_refs), so the peak
    belongs to this stretch alone; elsewhere it is the growth of getrusage's lifetime
    peak, which stays 0 when an earlier peak was higher.
    """

    def __enter__(self) -> ResidentPeak:
        try:
            Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
            self._reset = _status_bytes("VmHWM") is not None
        except OSError:
            self._reset = False
        self._before = _status_bytes("VmRSS") if self._reset else self._lifetime_peak()
        self.increase_bytes: int | None = None
        return self

    @staticmethod
    def _lifetime_peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux

    def __exit__(self, *exc_info) -> None:
        after = _status_bytes("VmHWM") if self._reset else self._lifetime_peak()
        self.increase_bytes = max(0, after - self._before)


def environment(machine: Machine) -> dict:
    """Versions, device, CPU model, threads and git commit: what every results folder records."""
    import fvcore
    import pandas
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "fvcore": getattr(fvcore, "__version__", "unknown"),
        "pandas": pandas.__version__,
        "device": machine.device,
        "device_name": device_name(machine.device),
        "cpu_model": cpu_model(),
        "threads": machine.threads,
        "git_commit": git_commit(),  # short, "+changes" where vggbench's files differ from it
    }
