"""How many seeds a study needs, from a finished run's training rows: the tables of `vggbench power` (the seeds
per arm each accuracy contrast needs) and `vggbench design` (the fixed and the group-sequential design replayed on
resampled seeds). The statistics are the verdicts layer's; this reads the run and checks what is asked of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vggbench.engine import registry, study
from vggbench.engine.config import Margins, load_config, run_config
from vggbench.engine.rundir import RunDir
from vggbench.util import knobs
from vggbench.util.validate import InputError, at_most, number
from vggbench.verdicts.design_check import FAMILY_REPLAYS, design_table, null_family
from vggbench.verdicts.designs import FIXED, GROUP_SEQUENTIAL, MAX_REPLAYS, MAX_SEEDS, Design
from vggbench.verdicts.train import power_table, unplanned


@dataclass(frozen=True)
class Planned:
    """A table from the run in `root`; `left_out`: the contrasts it does not size, in words ('' where none)."""

    table: pd.DataFrame
    root: Path
    left_out: str = ""


@dataclass(frozen=True)
class _TrainingRun:
    root: Path
    train: pd.DataFrame
    config: dict
    margin: float  # the equivalence margin: given, or the run's


def _training_run(run_dir: str | Path, purpose: str, given: dict) -> _TrainingRun:
    """The run in `run_dir`, whose training rows must be there (else nothing to `purpose`)."""
    directory = RunDir(run_dir, registry.KINDS)
    train = directory.table("train")
    if train.empty or "test_acc" not in train:
        raise InputError(f"{directory.root} has no training rows (train.csv): nothing to {purpose}")
    config = run_config(directory, missing_ok=True)
    margin = Margins(**knobs.settings(Margins, {**config, **given})).equivalence_margin  # checked, as the run's
    return _TrainingRun(directory.root, train, config, margin)


def power(run_dir: str | Path, effect: float, given: dict) -> Planned:
    """The seeds per arm each accuracy contrast of the run needs to detect `effect` (verdicts.train.power_table),
    under the run's design and margins, or those `given` (knob values by config key)."""
    number("--effect", effect, above=0, maximum=1)  # an accuracy difference: a share
    run = _training_run(run_dir, "size from", given)
    table = power_table(run.train, effect, run.margin, Design(**knobs.settings(Design, run.config)))
    left_out = unplanned(run.train)
    if table.empty:
        raise InputError(f"cannot size any accuracy contrast from {run.root}: {left_out}")
    return Planned(table, run.root, left_out)


def designs(run_dir: str | Path, given: dict, replays: int, seed: int, fixed_seeds: int | None = None) -> Planned:
    """The fixed design (`fixed_seeds` per arm, default: the fewest the run has) and the group-sequential one (set
    by `given`) replayed `replays` times per scenario on the run's resampled seeds (verdicts.design_check)."""
    run = _training_run(run_dir, "resample", given)
    at_most("--replays", replays, MAX_REPLAYS, "each scenario holds its replays in memory")
    chosen = {key: value for key, value in given.items() if key != "equivalence_margin"}
    sequential = Design(**knobs.settings(Design, {**chosen, "design": GROUP_SEQUENTIAL}))
    seeds = int(run.train.groupby("variant")["seed"].nunique().min()) if fixed_seeds is None else fixed_seeds
    if seeds < 2:
        raise InputError(f"--fixed-seeds {seeds} is not allowed: a Welch test needs at least 2 seeds per arm")
    at_most("--fixed-seeds", seeds, MAX_SEEDS, "seeds per arm a design may plan")
    plans = {FIXED: Design(design=FIXED, max_seeds=seeds).rule, GROUP_SEQUENTIAL: sequential.rule}
    return Planned(design_table(run.train, plans, run.margin, replays, seed), run.root)


def family_design(preset: str | None, toml_path: str | None, given: dict, sd: float, replays: int | None, seed: int):
    """The design a configuration (a preset, then a TOML file's keys, then `given`) sets for its accuracy family,
    simulated under no difference (verdicts.design_check.null_family) on the family its trials would train, every
    comparison at one run's spread `sd`: one row, with the family-wise type-I error and the seeds per arm."""
    number("--sd", sd, above=0, maximum=1)  # one run's spread of accuracy: a share
    replays = FAMILY_REPLAYS if replays is None else replays
    at_most("--replays", replays, MAX_REPLAYS, "each replay simulates the whole family")
    config = load_config(preset, toml_path, **given)
    family = study.accuracy_family(study.trials(config)) if "train" in config.kinds else []
    if not family:
        raise InputError(
            f"the configuration trains no accuracy comparison (kinds: {', '.join(config.kinds) or 'none'}; variants: "
            f"{', '.join(config.grid.variants)}): a family needs the train kind, the stack and a rival"
        )
    found = null_family(config.design.rule, (sd,) * len(family), config.equivalence_margin, replays, seed)
    return pd.DataFrame([{"design": config.design.design, **found, "sd": sd}])
