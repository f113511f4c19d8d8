"""Speed: throughput, step time and memory of each model, per mode and batch size, timed alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.engine.contract import Kind, Outcome, Table, Trial
from vggbench.engine.rundir import spec_key
from vggbench.measure.noise import unstable_reasons
from vggbench.measure.setups import SpeedSetup
from vggbench.models.schema import ARCH, NAME_KEYS, keys_in
from vggbench.util.csvio import POSITIVE, TEXT

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    *NAME_KEYS,
    "mode",
    "device",
    "batch_size",
    "precision",
    "img_per_s",
    "step_ms_median",
    "step_ms_iqr",
    "ci_half_width",
    "stable",
    "runs",
    "achieved_gflops",
    "mfu",
    "peak_mem_bytes",
    "rss_peak_increase_bytes",
    "error",
)


def step_s(spec, setup: SpeedSetup, gflops: float) -> float:
    """A rough time of one training step of `spec` at `setup`'s batch size."""
    from vggbench.measure.flops import step_flops

    return step_flops(spec, "train") * setup.batch_size / (gflops * 1e9)


def flag(row: dict) -> str:
    """A warning for the progress line where a timing missed its interval target or shared its cores."""
    reasons = unstable_reasons(row)
    return f" (WARNING: not stable: {', '.join(reasons)})" if reasons else ""


def setup_key(spec, setup: SpeedSetup, variant: str | None = None) -> str:
    return f"{spec_key(spec, variant)}-{setup.mode}-b{setup.batch_size}"


class Timed(Kind):
    """A kind that times models: it runs alone, and its trials are told apart by mode and batch size."""

    exclusive = True

    def timed_trial(self, spec, setup: SpeedSetup, variant: str | None = None) -> Trial:
        labels = (("mode", setup.mode), ("batch_size", setup.batch_size))
        return Trial(self.name, spec, setup_key(spec, setup, variant), setup, labels=labels)


class Speed(Timed):
    name = "speed"
    setup = SpeedSetup
    tables = (
        Table(
            "speed",
            "Throughput per model (median over runs)",
            COLUMNS,
            reads=(
                ("arch", ARCH),
                *((column, TEXT) for column in ("variant", "device", "mode")),
                ("step_ms_median", POSITIVE),
            ),
            required=("img_per_s", "step_ms_median", "runs"),
            ordered=(("step_ms_ci_low", "step_ms_median", "step_ms_ci_high"),),
        ),
    )
    help = "throughput, step time and memory of each model, inference or training, CPU or CUDA"
    description = (
        "Time each model in blocks of steps (warm-up excluded, device synchronized), on until the 95% interval "
        "of the median step time is within --target-half-width or --max-time has passed: images per second, "
        "median, IQR and interval of the step time, achieved GFLOP/s against the device's measured matmul peak, "
        "peak memory, and stable=False where the target was missed or other processes took the cores. With "
        "--paired, the variants of each model are timed in alternation and compared to the first one as a time "
        "ratio with a bootstrap 95% interval. A short A/A probe first says how finely this machine times now."
    )

    def plan(self, config) -> list[Trial]:
        return [self.timed_trial(spec, setup) for spec in config.models() for setup in config.setups(SpeedSetup)]

    def run(self, trial, inputs, load_data, report) -> Outcome:
        from vggbench.measure import speed

        return Outcome([speed.measure_with_retry(trial.spec, trial.setup)])

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure import speed

        # The minimum of the adaptive timing, and half as much again to narrow the interval (at most the cap).
        step = step_s(trial.spec, trial.setup, gflops)
        least = max(trial.setup.min_time_s, speed.MIN_RUNS * max(step, speed.BLOCK_S))
        return min(1.5 * least, max(least, trial.setup.max_time_s)) + speed.WARMUP_STEPS * step

    def memory(self, trial):
        from vggbench.measure.memory import needed_bytes

        training = trial.setup.mode == "train"
        return needed_bytes(trial.spec, trial.setup.batch_size, training, training), trial.setup.device

    def rows_for(self, trial) -> list[dict]:
        """Its one row, whose batch_size is the one timed (smaller after an out-of-memory retry) and
        requested_batch_size the trial's."""
        identity = trial.identity()
        requested = identity.pop("batch_size")
        return [{**identity, "requested_batch_size": requested}]

    def describe(self, rows) -> str:
        row = rows[0]
        return row["error"] or f"{row['img_per_s']:.1f} img/s at batch {row['batch_size']}" + flag(row)

    def summarize(self, rows: pd.DataFrame) -> pd.DataFrame | None:
        if "img_per_s" not in rows or rows["img_per_s"].isna().all():
            return None
        throughput = rows.pivot_table(index=keys_in(rows), columns="mode", values="img_per_s", aggfunc="median")
        # Named for where they come from: timed steps on one batch (the training loop's is summary's train_loop_*)
        throughput.columns = [f"speed_{mode}_img_per_s" for mode in throughput.columns]
        return throughput.reset_index()

    def figures(self):
        from vggbench.figures import speed as speed_figures

        return speed_figures.FIGURES


KIND = Speed()
