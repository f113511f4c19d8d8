"""How far this machine's timings can be trusted: what else runs on its cores, and how finely it times.

Shared machines (laptops, cloud VMs, CI runners) slow a timing by 8-50x when other work
shares the cores, and even idle ones differ by 10-15% between two timings of the same
model. So every study and every `vggbench speed` starts with a probe (`Probe`, taken by
vggbench.measure.speed.noise_probe): the load average, the idle cores measured over a
short window, and an A/A paired timing (one small model against itself), whose interval
says how small a time ratio this machine can tell from 1 right now. During each timing,
`CpuShare` measures the CPU time that other processes took; a timing that had to share
its cores is flagged.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

IDLE_WINDOW_S = 0.5  # how long the idle cores are watched
# Other processes may use this many cores beside ours before a timing counts as contended: the kernel,
# the shell and the monitor of a VM use a little of an idle machine.
CONTENTION_SLACK_CORES = 0.25
TIMED_TABLES = ("speed", "pairs", "density")  # a run's tables whose rows carry `stable`


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _machine_busy_s() -> float | None:
    """CPU seconds all cores have spent on anything but idling since boot (Linux: /proc/stat), or None."""
    try:
        fields = Path("/proc/stat").read_text(encoding="utf-8").split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    # user, nice, system, idle, iowait, irq, softirq, steal: all but idle and iowait are work.
    user, nice, system, _, _, irq, softirq, steal = (int(value) for value in fields[:8])
    # Steal is time the hypervisor gave to other guests: lost to this machine's work as surely as a busy process.
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Cores used by other processes over a stretch of work (`other_cores`; None where /proc/stat is missing).

    The machine's busy time (/proc/stat) less this process's own CPU time, over the wall time."""

    def __enter__(self) -> CpuShare:
        self._start = (time.perf_counter(), _machine_busy_s(), time.process_time())
        self.other_cores: float | None = None
        return self

    def __exit__(self, *exc_info) -> None:
        wall_0, busy_0, own_0 = self._start
        busy_1 = _machine_busy_s()
        wall = time.perf_counter() - wall_0
        if busy_0 is None or busy_1 is None or wall <= 0:
            return
        self.other_cores = max(0.0, (busy_1 - busy_0 - (time.process_time() - own_0)) / wall)


def contended(other_cores: float | None, threads: int, cores: int | None = None) -> bool:
    """Whether other processes took cores that `threads` threads needed (False where it could not be measured)."""
    if other_cores is None:
        return False
    cores = cores or usable_cores()
    return other_cores > max(0, cores - threads) + CONTENTION_SLACK_CORES


def unstable_reasons(row) -> list[str]:
    """Why a timed row (a dict or a table's row) is flagged stable=False: the interval's missed target, and the
    cores other processes took from its threads; none for a stable row or one from before the flag."""
    stable = row.get("stable")
    if stable is None or stable != stable or bool(stable):  # `stable != stable`: NaN, a table row without it
        return []
    width, target = row.get("ci_half_width"), row.get("target_half_width")
    reasons = []
    if width is not None and target is not None and width > target:
        reasons.append(f"interval +-{width:.1%} missed its +-{target:.1%} target")
    if contended(row.get("other_cores"), int(row.get("threads", 1))):
        reasons.append(f"other processes used {row['other_cores']:.1f} cores")
    return reasons


def idle_cores(window_s: float = IDLE_WINDOW_S) -> float | None:
    """Cores left idle by every process over `window_s` seconds of this one sleeping (None: not measurable)."""
    with CpuShare() as share:
        time.sleep(window_s)
    return None if share.other_cores is None else max(0.0, usable_cores() - share.other_cores)


def threads_warning(threads: int, idle: float | None, load_average: float | None, cores: int) -> str | None:
    """A warning where more threads are asked for than cores are idle: they will wait for the other work."""
    if idle is None or threads <= idle + CONTENTION_SLACK_CORES:
        return None
    load = "" if load_average is None else f", load average {load_average:.2f}"
    return (
        f"warning: threads={threads} but only {idle:.1f} of {cores} cores are idle{load}: other work shares "
        "the cores, so timings will be slow and noisy (rows that miss their interval target are flagged "
        "stable=False)"
    )


@dataclass(frozen=True)
class Probe:
    """The machine at the start of a study: its load, and how finely it times a ratio."""

    cores: int
    threads: int
    load_average_1min: float | None
    idle_cores: float | None
    aa_time_ratio: float | None  # the A/A ratio's median (1 on a perfect machine)
    aa_ci_low: float | None
    aa_ci_high: float | None
    aa_pairs: int | None
    device: str
    probe_s: float

    @property
    def resolves(self) -> float | None:
        """The half-width of the A/A interval around 1: time ratios closer to 1 than this are not resolved."""
        if self.aa_ci_low is None or self.aa_ci_high is None:
            return None
        return max(1 - self.aa_ci_low, self.aa_ci_high - 1, 0.0)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "resolves_time_ratio": self.resolves}

    def sentence(self) -> str:
        """One line for claim.md, report.html and the terminal."""
        parts = []
        if self.resolves is not None:
            parts.append(
                f"this machine resolved time ratios to +-{self.resolves:.1%} (an A/A paired timing of a small model "
                f"against itself, {self.aa_pairs} pairs, 95% interval {self.aa_ci_low:.3f}-{self.aa_ci_high:.3f}, "
                f"on {self.device}; longer timings resolve finer)"
            )
        if self.idle_cores is not None:
            parts.append(f"{self.idle_cores:.1f} of {self.cores} cores idle at the start, {self.threads} threads used")
        if self.load_average_1min is not None:
            parts.append(f"load average {self.load_average_1min:.2f} (1 min)")
        return "; ".join(parts) or "no noise probe on this machine"


def probe_from(metadata: dict) -> Probe | None:
    """The probe a run's metadata.json recorded (None for a run from before the probe)."""
    recorded = metadata.get("noise_probe")
    if not isinstance(recorded, dict):
        return None
    fields = {field.name for field in dataclasses.fields(Probe)}
    return Probe(**{name: recorded.get(name) for name in fields})


def trust_sentences(metadata: dict, timed: dict) -> list[str]:
    """What claim.md and report.html say of the timings: the probe, and the rows flagged in each timed table
    (`timed`: table name -> DataFrame, e.g. speed and pairs)."""
    probe = probe_from(metadata)
    sentences = [f"At the start of the run, {probe.sentence()}."] if probe else []
    for name, table in timed.items():
        if table.empty or "stable" not in table:
            continue
        flagged = table[table["stable"].astype("boolean").eq(False).fillna(False)]
        target = table["target_half_width"].dropna().unique() if "target_half_width" in table else []
        missed = f"their 95% interval missed +-{target[0]:.1%} within the time cap, or " if len(target) == 1 else ""
        heed = "." if flagged.empty else "; read their figures and verdicts with that in mind."
        sentences.append(
            f"{name}.csv: {len(flagged)} of {len(table)} rows flagged stable=False ({missed}other processes took "
            f"cores the timing needed){heed}"
        )
    return sentences
