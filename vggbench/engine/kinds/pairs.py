"""Paired speed: the variants of each model timed in alternation, as time ratios with bootstrap intervals."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vggbench.engine.contract import Outcome, Table, Trial
from vggbench.engine.kinds.speed import Timed, flag, step_s
from vggbench.measure.setups import SpeedSetup
from vggbench.models.schema import ARCH, PAIRED_COLUMNS, identity
from vggbench.util.csvio import POSITIVE, TEXT
from vggbench.util.knobs import knob
from vggbench.util.validate import InputError

# The most pairs and rebuilds a paired timing may ask for: its bootstrap holds 200 resamples of every pair.
MAX_PAIRS, MAX_REBUILDS = 100_000, 1_000


@dataclass(frozen=True)
class PairsSetup(SpeedSetup):
    """A speed setup with the size of the paired comparison."""

    pairs: int = knob(
        64,
        "with --paired: at least this many pairs in all (with 16 rebuilds, 64 resolve a 5%% difference on "
        "2 shared CPU cores)",
        minimum=1,
        maximum=MAX_PAIRS,
    )
    rebuilds: int = knob(
        16,
        "with --paired: build the models afresh this many times and split the pairs between the builds, "
        "so the interval covers instance-to-instance spread",
        minimum=1,
        maximum=MAX_REBUILDS,
    )
    variants: tuple[str, ...] = ()  # set per trial: the variants compared, the first is the baseline


class Pairs(Timed):
    name = "pairs"
    setup = PairsSetup
    tables = (
        Table(
            "pairs",
            "Paired time ratios (variant / baseline)",
            PAIRED_COLUMNS,
            reads=(
                ("arch", ARCH),
                *((column, TEXT) for column in ("baseline", "variant", "device", "mode")),
                *((column, POSITIVE) for column in ("time_ratio_median", "ci_low", "ci_high")),
            ),
            required=("baseline_img_per_s", "variant_img_per_s", "time_ratio_median", "ci_low", "ci_high", "pairs"),
            ordered=(("ci_low", "time_ratio_median", "ci_high"),),
        ),
    )
    command = "speed"
    switch = ("--paired", "time the variants of each model interleaved and compare them to the first --variant")

    def check(self, config) -> None:
        if len(config.variants) < 2:
            raise InputError(f"--paired needs at least two --variant values (got {' '.join(config.variants)})")

    def plan(self, config) -> list[Trial]:
        baselines = dict.fromkeys(dataclasses.replace(spec, variant=config.variants[0]) for spec in config.models())
        setups = config.setups(PairsSetup, variants=config.variants)
        return [self.timed_trial(baseline, setup, variant="paired") for baseline in baselines for setup in setups]

    def run(self, trial, inputs, load_data, report) -> Outcome:
        from vggbench.measure import speed

        setup = trial.setup
        group = [dataclasses.replace(trial.spec, variant=variant) for variant in setup.variants]
        return Outcome(speed.paired(group, setup, setup.pairs, setup.rebuilds))

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure import speed

        setup = trial.setup
        step = step_s(trial.spec, setup, gflops)
        block_s = max(step, speed.BLOCK_S)
        planned = len(setup.variants) * (setup.pairs * block_s + setup.rebuilds * speed.WARMUP_STEPS * step)
        # Adaptive sampling goes on towards the interval's target: assume it doubles the planned pairs, which
        # on a CPU's paired timings often ends at the time cap.
        return min(max(planned, setup.max_time_s), 2 * planned)

    def memory(self, trial):
        from vggbench.measure.memory import needed_bytes

        setup, training = trial.setup, trial.setup.mode == "train"
        models = [dataclasses.replace(trial.spec, variant=variant) for variant in setup.variants]
        return sum(needed_bytes(spec, setup.batch_size, training, training) for spec in models), setup.device

    def rows_for(self, trial) -> list[dict]:
        """A row per variant after the baseline (the trial's model), in order."""
        variants = trial.setup.variants[1:]
        labels = {**dict(trial.labels), "baseline": trial.spec.variant}
        return [{**identity(dataclasses.replace(trial.spec, variant=variant)), **labels} for variant in variants]

    def describe(self, rows) -> str:
        ratios = ", ".join(
            f"{row['variant']} {row.get('time_ratio_median', float('nan')):.3f}{flag(row)}" for row in rows
        )
        return f"time vs {rows[0]['baseline']}: {ratios}"

    def make_tables(self, rows, config):
        from vggbench.measure import speed

        return {"pairs": speed.paired_table(rows)}

    def judge(self, tables, rules) -> list[dict]:
        from vggbench.verdicts import pairs as pairs_verdicts

        return pairs_verdicts.claims(tables["pairs"])

    def figures(self):
        from vggbench.figures import pairs as pairs_figures

        return pairs_figures.FIGURES


KIND = Pairs()
