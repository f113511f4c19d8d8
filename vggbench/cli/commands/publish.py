"""`vggbench publish`: a finished run copied into results/ and listed in its index."""

from __future__ import annotations

import argparse

from vggbench.cli._parsing import output_folder, run_dir_parser
from vggbench.cli._printing import progress


def add(commands) -> argparse.ArgumentParser:
    text = "copy a finished run's tables, reports and figures into results/ and index it"
    what = (
        "Copy a finished run's tables, reports and figures into the folder RESULTS/RUN-DEVICE-DATE (an earlier "
        "publication of that name is replaced as a whole), and list it in RESULTS/README.md, which is rewritten. "
        "RUN_DIR is not written."
    )
    parser = run_dir_parser(commands, "publish", text, what)
    parser.add_argument(
        "--results",
        default="results",
        metavar="DIR",
        type=output_folder,
        help="where published runs go (default: results)",
    )
    return parser


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting.publish import publish

    target = publish(args.run_dir, args.results, progress)
    print(f"published {args.run_dir} to {target} and listed it in {args.results}/README.md")
