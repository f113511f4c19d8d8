"""Time estimates calibrated on this machine, for the dry run and the progress line.

A kind estimates a trial's time from its work in FLOPs and a rate (`Kind.estimate_s`).
The rate is measured here, per model, before the estimates are made: a few training
steps of the model exactly as the study will train it (its seeds grouped and in lanes,
its precision and memory format, this machine's threads), so the estimate follows the
machine's real speed and its current load. Work that is no model's (density's single
conv layers on large maps, which run close to the matmul peak: 110-160 GFLOP/s against
a peak of about that on two CPU cores) takes the measured matmul rate.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

from vggbench.engine.contract import Trial
from vggbench.models.arch import ModelSpec

PROBE_STEPS = 3  # timed training steps per model, after one untimed
PROBE_IMAGES = 256  # random images in the probe's data set (shapes matter, contents do not)


@dataclass(frozen=True)
class Rates:
    """The GFLOP/s each model's training step reached on this machine, and the rate for other work."""

    by_model: dict[ModelSpec, float]
    other: float

    def of(self, trial: Trial) -> float:
        return self.by_model.get(trial.spec, self.other)


def matmul_rate(device: str, threads: int) -> float:
    """The measured fp32 matmul peak, in GFLOP/s."""
    from vggbench.measure.setups import SpeedSetup
    from vggbench.measure.speed import peak_gflops

    timing = SpeedSetup(device=device, threads=threads)
    return peak_gflops(timing.device, "fp32", timing.threads, timing.tf32)


def _probe_data():
    import torch

    from vggbench.measure.data import FashionMNIST

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (PROBE_IMAGES, 28, 28), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (PROBE_IMAGES,), generator=generator)
    return FashionMNIST(images, labels, images, labels, source=None)


def _train_setups(plan: list[Trial], device: str, threads: int) -> dict[ModelSpec, object]:
    """Per model of `plan`, how it is trained: its first training trial's setup (its seeds grouped as the study
    groups them), or, for a model that is not trained, one seed with the device's defaults."""
    from vggbench.measure.setups import TrainConfig

    setups = {trial.spec: trial.setup for trial in reversed(plan) if trial.kind == "train"}
    for trial in plan:
        if trial.spec is not None and trial.spec not in setups:
            setups[trial.spec] = TrainConfig(device=device, threads=threads, seed=0)
    return setups


def _model_rate(spec: ModelSpec, setup, data) -> float:
    """GFLOP/s of `spec`'s training step under `setup`: the median of PROBE_STEPS timed steps."""
    from vggbench.measure import speed, train
    from vggbench.measure.flops import step_flops

    seeds = setup.trained_seeds
    setup = dataclasses.replace(setup, batch_size=min(setup.batch_size, PROBE_IMAGES))
    step = train.training_step(spec, setup, seeds, data)
    with speed.torch_threads(setup.threads):
        step()  # lazy initialisation, the allocator, cuDNN's choice of algorithms
        seconds = statistics.median(speed.time_block(step, 1, setup.device) for _ in range(PROBE_STEPS))
    return len(seeds) * step_flops(spec, "train") * setup.batch_size / seconds / 1e9


def measure_rates(plan: list[Trial], device: str, threads: int) -> Rates:
    """Time a few training steps of every model in `plan` (a second or so each on a CPU)."""
    data = _probe_data()
    by_model = {spec: _model_rate(spec, setup, data) for spec, setup in _train_setups(plan, device, threads).items()}
    other = matmul_rate(device, threads) if any(trial.spec is None for trial in plan) else 0.0
    return Rates(by_model, other)
