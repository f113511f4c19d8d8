"""`vggbench report`: the figures and report.html of a run directory."""

from __future__ import annotations

import argparse

from vggbench.cli._parsing import run_dir_parser
from vggbench.cli._printing import print_report


def add(commands) -> argparse.ArgumentParser:
    text = "figures (PNG and SVG) and a self-contained report.html from a run directory's tables"
    what = (
        "Figures and a self-contained report.html from a run directory's tables, written into RUN_DIR: "
        "report.html and the figures in figures/ (PNG and SVG) are overwritten, a figure the tables no longer "
        "make is removed, and reports.json records which vggbench wrote the page."
    )
    return run_dir_parser(commands, "report", text, what)


def run(args: argparse.Namespace) -> None:
    from vggbench.reporting import report

    print_report(report.write(args.run_dir))
