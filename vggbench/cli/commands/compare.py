"""`vggbench compare`: two runs' shared speed measurements as ratios with intervals, a regression gate."""

from __future__ import annotations

import argparse
import sys

from vggbench.cli._parsing import output_file, path
from vggbench.cli._printing import emit
from vggbench.util.validate import printable

REGRESSION = 4  # the exit status where run B is significantly slower than run A somewhere


def add(commands) -> argparse.ArgumentParser:
    from vggbench.reporting.compare import THRESHOLD

    text = "compare two runs' speed, paired speed and density: ratios B / A with 95%% intervals, a regression gate"
    parser = commands.add_parser(
        "compare",
        help=text,
        description="Compare each measurement two runs share (speed.csv: step time; pairs.csv: paired time "
        "ratio; density.csv: achieved GFLOP/s), joined on the model and setup, as a ratio above 1 where B is "
        "slower, with a 95% interval from both runs' noise. A row either run flagged stable=False (its "
        "interval missed its target, or other processes took its cores) is named, and where it is slower it is "
        "set aside rather than counted, unless --include-unstable. Exits with status 4 where some counted "
        "interval lies above 1 + --threshold (a significant slowdown beyond it), else 0. It writes nothing but "
        "the file --out names (overwritten).",
    )
    parser.add_argument("run_a", metavar="RUN_A", type=path, help="the reference: a run directory or published folder")
    parser.add_argument("run_b", metavar="RUN_B", type=path, help="the run checked against RUN_A")
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"the slowdown tolerated, as a share (>= 0): a row is a regression where its 95%% interval lies "
        f"above 1 + THRESHOLD (default: {THRESHOLD})",
    )
    parser.add_argument(
        "--include-unstable",
        action="store_true",
        help="count a slower row as a regression even where A or B flagged it stable=False (default: such rows "
        "are named and set aside)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.csv",
        type=output_file,
        help="also write the compared rows as CSV, overwriting FILE.csv (default: printed, not written)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from vggbench.reporting import compare
    from vggbench.util.csvio import write_csv

    result = compare.compare(args.run_a, args.run_b, args.threshold, args.include_unstable)
    counted = "counted whether or not" if args.include_unstable else "unless"
    print(
        f"B ({args.run_b}) against A ({args.run_a}): a ratio above 1 means B is slower; a row is `slower` where its "
        f"95% interval lies above {1 + args.threshold:g}, and a `regression` where it is slower, {counted} a run "
        "flagged it stable=False\n"
    )
    for note in result.notes:
        print(printable(f"note: {note}"))
    if result.notes:
        print()
    for measure in compare.measures():
        rows = result.rows[result.rows["table"] == measure.table]
        if not rows.empty:
            direction = "A / B (a rate)" if measure.rate else "B / A"
            title = f"{measure.table}: {measure.value}, ratio {direction}, 95% interval"
            emit(rows, None, [*compare.shown(rows, measure), *compare.RESULT_COLUMNS], title)
    if args.out is not None:
        write_csv(result.rows, args.out)
        print(f"wrote {len(result.rows)} rows to {args.out}")
    if not result.set_aside.empty:
        print(printable(f"vggbench compare: {compare.set_aside_summary(result)}"), file=sys.stderr)
    if not result.regressions.empty:
        print(printable(f"vggbench compare: {compare.summary(result, args.threshold)}"), file=sys.stderr)
        return REGRESSION
    return 0
