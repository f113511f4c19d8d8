"""A run's reports, made from its tables in the order they read each other: claim.csv and claim.md, then the
figures and report.html, which show the claim. The engine ends at the tables (vggbench.engine.study.finish); what
finishes a run (`vggbench run`, publish, the tests) makes its reports here, not the two steps itself."""

from __future__ import annotations

from pathlib import Path

from vggbench.reporting import claim, report


def write(run_dir: str | Path) -> Path:
    """claim.csv, claim.md, the figures and report.html in `run_dir`, from its tables; returns the page's path."""
    claim.report(run_dir)
    return report.write(run_dir)
