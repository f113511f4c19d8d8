"""A single command's one-kind study (`vggbench speed`, `train`, ...), run on the study engine without a
run directory: `Outputs` keeps its results, `measure` runs it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vggbench.engine import study
from vggbench.engine.config import StudyConfig
from vggbench.engine.contract import Kind, Outcome, Trial
from vggbench.engine.executors import LocalExecutor
from vggbench.engine.registry import KINDS
from vggbench.engine.study import Report
from vggbench.util.csvio import write_bytes, write_csv


class Outputs:
    """Where a single command's one-kind study keeps its results instead of a run directory (a
    vggbench.engine._store.Store): rows in memory, the kind's table rewritten to `out` after every trial, and files
    saved under `save_to`."""

    def __init__(self, kind: Kind, out: str | None, save_to: str | None, trials: int) -> None:
        self.kind, self.out, self.save_to, self.several = kind, out, save_to, trials > 1
        self.rows: list[dict] = []
        self.finished: set[tuple[str, str]] = set()

    def done(self, kind: str, key: str) -> bool:
        return (kind, key) in self.finished

    def inputs(self, trial: Trial) -> dict[str, bytes]:
        return {name: Path(name).read_bytes() for name in trial.reads if Path(name).is_file()}

    def place(self, name: str) -> Path:
        """Where a file the trials give back goes: into the folder given, or as the file given."""
        target = Path(self.save_to)
        if not self.kind.files.one_file:
            return target / Path(name).name
        return target.with_name(f"{target.stem}-{Path(name).stem}{target.suffix}") if self.several else target

    def record(self, trial: Trial, outcome: Outcome) -> None:
        self.finished.add((trial.kind, trial.key))
        self.rows += outcome.rows
        if self.save_to:
            for name, content in outcome.files.items():
                write_bytes(self.place(name), content)
        if self.out:
            write_csv(pd.DataFrame(self.rows), self.out)


def measure(
    config: StudyConfig,
    out: str | None = None,
    save_to: str | None = None,
    data_root: str | None = None,
    report: Report = print,
) -> pd.DataFrame:
    """A one-kind study for a single command, every trial in this process: its rows. It stops at the
    first failed trial; `out` and `save_to` are as for Outputs."""
    (name,) = config.kinds
    config.machine.check_available(report)
    plan = study.trials(config)
    for note in config.notes():
        report(note)
    study.check_memory(study.runs(plan))
    study.find_data(plan, data_root, report)
    outputs = Outputs(KINDS[name], out, save_to, len(plan))
    executor = LocalExecutor()
    executor.start(config.machine, data_root, report)
    if KINDS[name].exclusive:  # a timing: say first how far this machine's timings can be trusted now
        study.take_probe(config, report)
    study.execute(plan, executor, outputs, study.Progress(plan, report), keep_going=False)
    return pd.DataFrame(outputs.rows)
