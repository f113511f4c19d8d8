"""`vggbench power`: the seeds per arm each accuracy contrast needs, from a run's observed spread
(vggbench.reporting.planning)."""

from __future__ import annotations

import argparse

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import output_file, run_dir_parser
from vggbench.cli._printing import emit
from vggbench.util.validate import printable

SHOWN = ["claim", "arch", "ratio", "resolution", "batch_norm", "baseline", "variant", "sd", "level", "seeds_now"]
SHOWN += ["mde_now"]
SHOWN += ["effect", "seeds_needed", "margin", "seeds_for_equivalence", "sequential_seeds_mean"]
SHOWN += ["sequential_seeds_max", "sequential_power"]


def add(commands) -> argparse.ArgumentParser:
    from vggbench.engine.config import Margins

    text = "seeds per arm needed to decide each accuracy contrast, from a run's observed spread"
    what = (
        "Seeds per arm needed to decide each accuracy contrast, from a run's observed spread. Reads RUN_DIR, "
        "writes nothing there; the table is printed, and it writes nothing but the file --out names (overwritten)."
    )
    parser = run_dir_parser(commands, "power", text, what)
    # The effective-field margin sizes nothing here: power sizes accuracy contrasts only.
    parser.set_defaults(knob_keys=add_knobs(parser, Margins, seen={"erf_margin"}))
    parser.add_argument(
        "--effect",
        type=float,
        default=0.01,
        help="the accuracy difference to detect, > 0 and <= 1 (default: 0.01); a size above a "
        "million seeds per arm shows as inf",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.csv",
        type=output_file,
        help="also write the table as CSV, overwriting FILE.csv (default: printed, not written)",
    )
    return parser


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting import planning

    sized = planning.power(args.run_dir, args.effect, given(args))
    first = sized.table.iloc[0]
    title = (
        f"Seeds per arm for 80% power (two-sided) at level {first['level']:.3g}: alpha 0.05 / "
        f"{first['comparisons']}, the first Holm step of the run's {first['comparisons']} accuracy comparisons, "
        f"from {sized.root}; and what a group-sequential design spends at that effect with that share of alpha "
        "(sequential_*: 400 simulated studies)"
    )
    emit(sized.table, args.out, SHOWN, title)
    if sized.left_out:
        print(printable(f"Not sized: {sized.left_out}"))
