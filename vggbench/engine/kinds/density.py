"""Computational density: the achieved FLOP/s of one conv layer per kernel size, on the run's device.

RepVGG (Ding et al. 2021, table 1) argues that the hardware favours 3x3 convs: with
Winograd and tuned kernels they reach the highest FLOP/s, so a 3x3 multiply-add costs
less time than a larger kernel's. Per width and map size, one conv of each kernel
size (C in = C out, stride 1, 'same' padding, no bias, inference) is timed in
alternation in one process, as the paired speed comparison times variants, so that
drift hits them alike; each size's achieved GFLOP/s and its density relative to 3x3
come with two-stage bootstrap intervals (rebuilds, then pairs). `macs` counts every tap,
those on the zero border included; `macs_real` and `achieved_gflops_real_taps` count
only the taps on real pixels, which the verdict uses (vggbench.verdicts.density).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vggbench.engine.contract import Kind, Outcome, Table, Trial
from vggbench.engine.kinds.pairs import MAX_PAIRS, MAX_REBUILDS
from vggbench.measure.hardware import Machine, device_name
from vggbench.measure.noise import CpuShare, contended
from vggbench.measure.setups import seconds_knob
from vggbench.util.csvio import COUNT, POSITIVE, TEXT
from vggbench.util.knobs import knob
from vggbench.util.validate import InputError

if TYPE_CHECKING:
    import numpy as np

REFERENCE = 3  # the kernel side every other one is compared with
COLUMNS = (
    "device",
    "channels",
    "side_px",
    "kernel_px",
    "batch_size",
    "achieved_gflops",
    "achieved_gflops_real_taps",
    "gflops_ci_low",
    "gflops_ci_high",
    "density_vs_3x3",
    "ci_low",
    "ci_high",
    "stable",
    "pairs",
)


@dataclass(frozen=True)
class DensitySetup(Machine):
    """Which conv layers to time, and how long."""

    GROUP = "density"

    kernels: tuple[int, ...] = knob(
        (1, 3, 5, 7), "kernel sides timed against each other (3 among them)", key="density_kernels", minimum=1
    )
    channels: int = knob(64, "input and output channels of the conv", key="density_channels", minimum=1, axis=(32, 128))
    side: int = knob(56, "map side in pixels", key="density_sides", flags=("--side",), minimum=1, axis=(14, 56))
    batch_size: int = knob(8, "images per timed step", key="density_batch_size", minimum=1)
    pairs: int = knob(16, "at least this many pairs in all", key="density_pairs", minimum=1, maximum=MAX_PAIRS)
    rebuilds: int = knob(
        4, "build the convs afresh this many times", key="density_rebuilds", minimum=1, maximum=MAX_REBUILDS
    )
    min_time_s: float = seconds_knob(
        0.0, "seconds of timed blocks per kernel size, at least", "density_min_time_s", "--min-time"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if REFERENCE not in self.kernels:
            raise InputError(f"density_kernels={self.kernels} is not allowed: it must hold {REFERENCE}")

    def macs(self, kernel: int) -> int:
        """Multiply-adds of one step, the taps on the zero border included."""
        return self.channels * self.channels * kernel * kernel * self.side * self.side * self.batch_size

    def macs_real(self, kernel: int) -> int:
        """Multiply-adds of one step on real pixels only."""
        from vggbench.verdicts.density import real_taps

        return self.channels * self.channels * real_taps(kernel, self.side) * self.batch_size


def conv_step(kernel: int, setup: DensitySetup):
    """One inference step of a fresh conv layer on fixed random data."""
    import torch
    from torch import nn

    device = torch.device(setup.device)
    conv = nn.Conv2d(setup.channels, setup.channels, kernel, padding=kernel // 2, bias=False).to(device).eval()
    images = torch.rand(setup.batch_size, setup.channels, setup.side, setup.side, device=device)

    def step() -> None:
        with torch.inference_mode():
            conv(images)

    return step


class Density(Kind):
    name = "density"
    help = "achieved FLOP/s of one conv layer per kernel size (1, 3, 5, 7): is 3x3 the densest?"
    description = (
        "Per width and map size, one conv layer of each kernel size (C in = C out, stride 1, 'same' padding) "
        "timed in alternation: achieved GFLOP/s, and density relative to 3x3, with bootstrap intervals."
    )
    tables = (
        Table(
            "density",
            "Achieved GFLOP/s of one conv layer per kernel size",
            COLUMNS,
            reads=(
                ("device", TEXT),
                *((column, COUNT) for column in ("channels", "side_px", "kernel_px")),
                ("achieved_gflops", POSITIVE),
            ),
            required=("achieved_gflops",),
            ordered=(("gflops_ci_low", "achieved_gflops", "gflops_ci_high"), ("ci_low", "density_vs_3x3", "ci_high")),
        ),
    )
    setup, exclusive, uses_models = DensitySetup, True, False

    def plan(self, config) -> list[Trial]:
        trials = []
        for setup in config.setups(DensitySetup):
            key = f"c{setup.channels}-px{setup.side}-b{setup.batch_size}"
            trials.append(Trial(self.name, None, key, setup, (("channels", setup.channels), ("side_px", setup.side))))
        return trials

    def run(self, trial, inputs, load_data, report) -> Outcome:
        import numpy as np

        from vggbench.measure import speed

        setup = trial.setup
        makers = [functools.partial(conv_step, kernel, setup) for kernel in setup.kernels]
        with CpuShare() as share:
            times = speed.interleaved_times(makers, setup, setup.pairs, setup.rebuilds)  # (rebuilds, pairs, kernels)
        gflops = np.stack([2 * setup.macs(k) / times[..., i] / 1e9 for i, k in enumerate(setup.kernels)], axis=-1)
        reference = gflops[..., setup.kernels.index(REFERENCE)]
        # A fixed design (no interval target): a row is flagged only where other processes took our cores.
        trust = {"other_cores": share.other_cores, "stable": not contended(share.other_cores, setup.threads)}
        rows = [self._row(setup, kernel, gflops[..., i], reference) for i, kernel in enumerate(setup.kernels)]
        return Outcome([{**row, **trust} for row in rows])

    @staticmethod
    def _row(setup: DensitySetup, kernel: int, gflops: np.ndarray, reference: np.ndarray) -> dict:
        import numpy as np
        import torch

        from vggbench.measure import speed

        low, high = speed.ratio_interval(gflops)  # the percentile bootstrap of the median applies to any sample
        density_low, density_high = speed.ratio_interval(gflops / reference)
        return {
            "device": setup.device,
            "device_name": device_name(setup.device),
            "threads": setup.threads,
            "torch_version": torch.__version__,
            "channels": setup.channels,
            "side_px": setup.side,
            "kernel_px": kernel,
            "batch_size": setup.batch_size,
            "macs": setup.macs(kernel),
            "macs_real": setup.macs_real(kernel),
            "achieved_gflops": float(np.median(gflops)),
            "achieved_gflops_real_taps": float(np.median(gflops)) * setup.macs_real(kernel) / setup.macs(kernel),
            "gflops_ci_low": low,
            "gflops_ci_high": high,
            "density_vs_3x3": float(np.median(gflops / reference)),
            "ci_low": density_low,
            "ci_high": density_high,
            "pairs": gflops.size,
            "rebuilds": setup.rebuilds,
        }

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure import speed

        setup = trial.setup
        steps_s = [max(2 * setup.macs(kernel) / (gflops * 1e9), speed.BLOCK_S) for kernel in setup.kernels]
        return sum(steps_s) * (setup.pairs + setup.rebuilds * speed.WARMUP_STEPS)

    def memory(self, trial):
        setup = trial.setup
        maps = 2 * setup.batch_size * setup.channels * setup.side**2  # input and output of each conv
        weights = sum(setup.channels**2 * kernel**2 for kernel in setup.kernels)
        return 4 * (weights + len(setup.kernels) * maps), setup.device

    def rows_for(self, trial) -> list[dict]:
        """A row per kernel side, in order."""
        return [{**trial.identity(), "kernel_px": kernel} for kernel in trial.setup.kernels]

    def describe(self, rows) -> str:
        return ", ".join(f"{row['kernel_px']}x{row['kernel_px']} {row['achieved_gflops']:.1f} GFLOP/s" for row in rows)

    def judge(self, tables, rules) -> list[dict]:
        from vggbench.verdicts import density as density_verdicts

        return density_verdicts.claims(tables["density"])


KIND = Density()
