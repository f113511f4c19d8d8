"""Where the study engine keeps the trials' results: the one interface it knows (`Store`).

A run directory (vggbench.engine.rundir.RunDir) keeps them in files, resumably; a single command's
Outputs (vggbench.engine.outputs) keeps them in memory and writes its table and files where the
command was told to.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vggbench.engine.contract import Outcome, Trial


@runtime_checkable
class Store(Protocol):
    """What the engine asks of the place its results go."""

    def done(self, kind: str, key: str) -> bool:
        """Whether the trial has finished (or failed): what a trial that reads its files waits for."""
        ...

    def inputs(self, trial: Trial) -> dict[str, bytes]:
        """The files `trial` reads that exist, by the names it reads them under."""
        ...

    def record(self, trial: Trial, outcome: Outcome) -> None:
        """Keep a finished trial's rows and files."""
        ...
