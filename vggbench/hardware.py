"""What the measurements ran on: device names, and the process's resident memory."""

from __future__ import annotations

import platform
import resource
from pathlib import Path

import torch


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (falls back to the platform string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name()
    return cpu_model()


def _status_bytes(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
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
            Path("/proc/self/clear_refs").write_text("5")
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
