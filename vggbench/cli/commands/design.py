"""`vggbench design`: the fixed and the group-sequential design replayed on a run's resampled seeds
(vggbench.reporting.planning)."""

from __future__ import annotations

import argparse

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import integer, output_file, run_dir_parser
from vggbench.cli._printing import emit
from vggbench.verdicts.designs import MAX_REPLAYS

SHOWN = ["arch", "baseline", "variant", "scenario", "design", "seeds_per_round", "max_seeds", "type1_error"]
SHOWN += ["type1_ci_low", "type1_ci_high", "power", "equivalent_share", "inconclusive_share"]
SHOWN += ["seeds_per_arm_mean", "seeds_per_arm_median", "seeds_per_arm_max"]


def add(commands) -> argparse.ArgumentParser:
    from vggbench.engine.config import Margins
    from vggbench.verdicts.designs import Design

    text = "check the group-sequential design by simulation on a run's per-seed accuracies, against the fixed one"
    what = (
        "Replay the fixed and the group-sequential design on seeds resampled from RUN_DIR's final accuracies: "
        "with no difference (each arm centred on the common mean: the type-I error, with its Clopper-Pearson 95% "
        "interval) and with the observed one (the power, and the seeds per arm used)."
    )
    parser = run_dir_parser(commands, "design", text, what)
    not_options = {"design", "erf_margin"}  # both designs are replayed; no field is compared
    keys = add_knobs(parser, Design, seen=not_options) + add_knobs(parser, Margins, seen=not_options)
    parser.add_argument("--fixed-seeds", type=integer, help="seeds per arm of the fixed design (default: the run's)")
    parser.add_argument(
        "--replays", type=integer, default=2000, help=f"replays per scenario, at most {MAX_REPLAYS:,} (default: 2000)"
    )
    parser.add_argument("--seed", type=integer, default=0, help="the resampling's random seed (default: 0)")
    parser.add_argument("--out", metavar="FILE.csv", type=output_file, help="also write the table as CSV")
    parser.set_defaults(knob_keys=keys)
    return parser


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting import planning

    replayed = planning.designs(args.run_dir, given(args), args.replays, args.seed, args.fixed_seeds)
    title = f"Designs replayed {args.replays} times on seeds resampled from {replayed.root} (alpha 0.05)"
    emit(replayed.table, args.out, SHOWN, title)
