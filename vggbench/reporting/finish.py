"""What finishes a run once the engine has written its tables (vggbench.engine.study.finish): claim.csv and
claim.md, then the figures and report.html, which show the claim. `vggbench run`, publish and the tests call this
one function rather than the two steps."""

from __future__ import annotations

from pathlib import Path

from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import RunDir
from vggbench.reporting import claim, report


def write_reports(run_dir: str | Path) -> Path:
    """claim.csv, claim.md, the figures and report.html in `run_dir`, from its tables, each read once; returns the
    page's path."""
    directory = RunDir(run_dir, KINDS, remember=True)
    claim.report(directory)
    return report.write(directory)
