"""`vggbench claim`: the verdicts on each part of the claim, from a run directory's tables."""

from __future__ import annotations

import argparse

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import run_dir_parser
from vggbench.cli._printing import print_claims


def add(commands) -> argparse.ArgumentParser:
    from vggbench.engine.config import Margins

    text = "verdicts on each part of the claim (claim.md, claim.csv) from a run directory's tables"
    what = (
        "Verdicts on each part of the claim from a run directory's tables, printed and written into RUN_DIR: "
        "claim.csv and claim.md are overwritten, and reports.json records which vggbench wrote them."
    )
    parser = run_dir_parser(commands, "claim", text, what)
    parser.set_defaults(knob_keys=add_knobs(parser, Margins))
    return parser


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting import claim

    claims, _ = claim.report(args.run_dir, **given(args))
    print_claims(claims, args.run_dir)
