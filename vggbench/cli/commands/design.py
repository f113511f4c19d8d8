"""`vggbench design`: the fixed and the group-sequential design replayed on a run's resampled seeds; or, from a
configuration without a run, its design simulated on its family of accuracy comparisons under no difference
(vggbench.reporting.planning)."""

from __future__ import annotations

import argparse

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import integer, output_file, path
from vggbench.cli._printing import emit
from vggbench.util.validate import InputError
from vggbench.verdicts.designs import MAX_REPLAYS

SHOWN = ["arch", "baseline", "variant", "scenario", "design", "seeds_per_round", "max_seeds", "type1_error"]
SHOWN += ["type1_ci_low", "type1_ci_high", "power", "equivalent_share", "inconclusive_share"]
SHOWN += ["seeds_per_arm_mean", "seeds_per_arm_median", "seeds_per_arm_max"]
FAMILY_SHOWN = ["design", "spending", "seeds_per_round", "max_seeds", "looks", "comparisons", "sd", "margin"]
FAMILY_SHOWN += ["type1_error", "type1_ci_low", "type1_ci_high", "seeds_per_arm_mean", "seeds_per_arm_max"]
REPLAYS = 2000  # per scenario of a run's replay; a configuration's family: design_check.FAMILY_REPLAYS
DEFAULT_SD = 0.01  # one run's spread of accuracy where no run gives it: the published runs' lie 0.002 to 0.04


def add(commands) -> argparse.ArgumentParser:
    from vggbench.engine.config import PRESETS, Margins
    from vggbench.verdicts.designs import Design

    text = "check a design by simulation: on a run's per-seed accuracies, or on a configuration's family"
    what = (
        "With RUN_DIR, replay the fixed and the group-sequential design on seeds resampled from its final "
        "accuracies: with no difference (each arm centred on the common mean: the type-I error, with its "
        "Clopper-Pearson 95% interval) and with the observed one (the power, and the seeds per arm used). With "
        "--config or --preset instead, simulate the design that configuration sets on the family of accuracy "
        "comparisons it would train, every one with no difference (normal runs at --sd), judged by its looks, "
        "spending and Holm: the family-wise type-I error and the seeds per arm. It writes nothing but the file "
        "--out names (overwritten)."
    )
    parser = commands.add_parser("design", help=text, description=what)
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", nargs="?", type=path, help="a directory written by `vggbench run`"
    )
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="simulate this preset's design and family (no run) (default: none, RUN_DIR is replayed)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.toml",
        type=path,
        help="simulate this TOML file's design and family, its keys over --preset's (default: none)",
    )
    parser.add_argument(
        "--sd",
        type=float,
        help=f"with --config or --preset: one run's spread of accuracy, > 0 and <= 1, in every comparison (it sets "
        f"how soon the equivalence margin is shown) (default: {DEFAULT_SD})",
    )
    not_options = {"design", "erf_margin"}  # both designs are replayed; no field is compared
    keys = add_knobs(parser, Design, seen=not_options) + add_knobs(parser, Margins, seen=not_options)
    parser.add_argument(
        "--fixed-seeds", type=integer, help="with RUN_DIR: seeds per arm of the fixed design (default: the run's)"
    )
    parser.add_argument(
        "--replays",
        type=integer,
        help=f"replays per scenario, at most {MAX_REPLAYS:,} (default: {REPLAYS} with RUN_DIR, 200 with --config "
        "or --preset)",
    )
    parser.add_argument("--seed", type=integer, default=0, help="the simulation's random seed (default: 0)")
    parser.add_argument(
        "--out",
        metavar="FILE.csv",
        type=output_file,
        help="also write the table as CSV, overwriting FILE.csv (default: printed, not written)",
    )
    parser.set_defaults(knob_keys=keys)
    return parser


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting import planning

    configured = args.config is not None or args.preset is not None
    if configured == (args.run_dir is not None):
        raise InputError("give either RUN_DIR (replay its seeds) or --config/--preset (simulate its family)")
    wrong = ("--fixed-seeds", args.fixed_seeds) if configured else ("--sd", args.sd)
    if wrong[1] is not None:
        raise InputError(f"{wrong[0]} {wrong[1]} needs {'RUN_DIR' if configured else '--config or --preset'}")
    if configured:
        sd = DEFAULT_SD if args.sd is None else args.sd
        table = planning.family_design(args.preset, args.config, given(args), sd, args.replays, args.seed)
        source = " and ".join(filter(None, [args.preset and f"preset {args.preset}", args.config]))
        title = (
            f"The design of {source} on its family of {table['comparisons'].iloc[0]} accuracy comparisons, none with "
            f"any difference: {table['replays'].iloc[0]} simulated studies, looks, spending and Holm as a run judges "
            f"them (alpha {table['alpha'].iloc[0]:g})"
        )
        emit(table, args.out, FAMILY_SHOWN, title)
        return
    replays = REPLAYS if args.replays is None else args.replays
    replayed = planning.designs(args.run_dir, given(args), replays, args.seed, args.fixed_seeds)
    title = f"Designs replayed {replays} times on seeds resampled from {replayed.root} (alpha 0.05)"
    emit(replayed.table, args.out, SHOWN, title)
