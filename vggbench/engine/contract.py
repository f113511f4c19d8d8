"""What a measurement kind is: the contract between a kind's module and the study engine.

A kind (static cost, speed, paired speed, training, effective field) declares
everything about itself in one module under `vggbench/engine/kinds/`: its setup (a dataclass
of knobs, see `vggbench.util.knobs`), how it plans trials for a study, how it runs one trial
(rows and files, nothing written), how it runs several trials as one (batch and split: training
groups a model's seeds, while each seed keeps its own trial and file), its time estimate, whether it must run alone, its
tables and their shown columns, its per-model summary, its verdicts on the claim and its figures.
`vggbench.engine.registry` lists the kinds; the study, the command line and the executors know them only through it.

The command line imports every kind module to build its options, so a kind module
imports torch (and vggbench/measure/) only inside the methods that measure or
estimate: `vggbench --help` imports no torch (tests/test_startup.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vggbench.models.arch import ModelSpec, spec_to_dict
from vggbench.models.schema import identity

if TYPE_CHECKING:
    import pandas as pd

    from vggbench.figures.figure import Figure

Report = Callable[[str], None]
LoadData = Callable[[], object]  # returns the FashionMNIST data set, loaded once per process


@dataclass(frozen=True)
class Trial:
    """One unit of work. `key` names its result (unique within its kind); `setup` is everything it needs
    besides the model, so it can run anywhere."""

    kind: str
    spec: ModelSpec | None  # None for a kind that measures no model (as density, one conv layer)
    key: str
    setup: object = None
    labels: tuple[tuple[str, object], ...] = ()  # columns beyond the model's that identify it (mode, seed, ...)
    needs: tuple[tuple[str, str], ...] = ()  # (kind, key) of the trials whose files it reads: it runs after them
    reads: tuple[str, ...] = ()  # the files it reads (a run directory's relative names, or paths)
    # What it reads, by content: the fingerprints of the trials it needs (set by the study when it plans), or the
    # digests of files it reads from outside the run. A trial upstream that changes changes this one.
    upstream: tuple[str, ...] = ()

    def identity(self) -> dict:
        """The columns that identify this trial's rows; a failed trial's row has these and its error."""
        return {**(identity(self.spec) if self.spec else {}), **dict(self.labels)}

    @property
    def fingerprint(self) -> str:
        """A digest of everything the trial ran under (model, setup, inputs, and what it reads by content): a file
        recorded under another fingerprint is another configuration's result, redone rather than relabelled."""
        described = {
            "kind": self.kind,
            "key": self.key,
            "spec": spec_to_dict(self.spec) if self.spec else None,
            "setup": dataclasses.asdict(self.setup) if dataclasses.is_dataclass(self.setup) else self.setup,
            "labels": self.labels,
            "needs": self.needs,
            "reads": self.reads,
        }
        if self.upstream:  # only where there is one, so that the fingerprints of trials that read nothing stay
            described["upstream"] = self.upstream
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Outcome:
    """What a trial gives back: its rows, files for the run directory (relative name -> bytes), or the error
    that stopped it. Trials return their files instead of writing them, so that one can run on another machine."""

    rows: list[dict]
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Table:
    """A table a kind writes: `name`.csv in a run directory; on the command line printed under `title`
    (its `columns`, every column in the CSV) and written to the file given to `flag`."""

    name: str
    title: str
    columns: tuple[str, ...]
    flag: str = "--out"
    help: str = "write the table as CSV (rewritten after every trial)"
    on_request: bool = False  # printed only when its option is given (as static's --blocks)
    reads: tuple[tuple[str, str], ...] = ()  # (column, type: csvio.NUMBER, ...) the claim and the report read
    required: tuple[str, ...] = ()  # the columns every row fills but a failed trial's (one with an error)
    ordered: tuple[tuple[str, ...], ...] = ()  # columns whose values never decrease along a row (low, median, high)
    # (column, type) of other columns, which a table may lack (older code) and a row leave empty: the dtypes they
    # read back as (`schema`), beside csvio.TYPED_WHERE_PRESENT, whose type for the column they replace
    types: tuple[tuple[str, str], ...] = ()

    @property
    def schema(self) -> dict[str, str]:
        """The type of every column the table declares (csvio.with_dtypes reads a table back by them)."""
        from vggbench.util.csvio import TYPED_WHERE_PRESENT

        return {**TYPED_WHERE_PRESENT, **dict(self.types), **dict(self.reads)}

    def checked(self, table: pd.DataFrame, path, rows: bool = False) -> pd.DataFrame:
        """`table`, read from `path`, once every column it is read for is there, of its type and in its range, and
        its rows fill what they must in order (csvio.check_columns; `rows`: messages count rows, not a file's
        lines)."""
        from vggbench.util.csvio import check_columns

        why = f" that the {self.name} table is read for"
        return check_columns(table, path, dict(self.reads), why, self.required, self.ordered, rows)


@dataclass(frozen=True)
class Files:
    """Files a kind's trials give back (under `folder` in a run directory), and the command-line option
    that saves them elsewhere: into the folder it names, or (`one_file`) as the file it names."""

    folder: str
    flag: str
    metavar: str
    help: str
    one_file: bool = False


class Kind:
    """Base of every measurement kind; a kind module makes one instance of its subclass.

    `config` below is a vggbench.engine.config.StudyConfig (which imports the registry, hence not here).
    """

    name: str = ""
    setup: type | None = None  # its setup dataclass (a knobs.Setup); None: nothing to set
    exclusive: bool = False  # must run alone: no other trial of the run in flight (timings)
    by_default: bool = True  # runs in a study whose config names no kinds (False: only where `kinds` names it)
    needs_data: bool = False  # reads Fashion-MNIST
    uses_seeds: bool = False  # reads the study's seeds
    uses_models: bool = True  # measures the grid's models (its command takes the model options)
    models_from: str = ""  # a config key that, when set, gives the models instead of the grid
    tables: tuple[Table, ...] = ()  # the first holds the kind's rows
    summary_table: Table | None = None  # its per-model summary, as its command shows it
    files: Files | None = None
    command: str = ""  # the command that runs it alone (default: its name)
    switch: tuple[str, str] | None = None  # (flag, help): it runs under another kind's command when given
    help: str = ""
    description: str = ""

    def check(self, config) -> None:
        """Raise ValueError where `config` asks for this kind but it cannot run (default: it always can)."""

    def plan(self, config) -> list[Trial]:
        raise NotImplementedError

    def count(self, config) -> int:
        """How many trials `plan` makes, told before they are made (default: by making them; a kind whose
        trials multiply, as training's by the seeds, counts them without)."""
        return len(self.plan(config))

    def run(self, trial: Trial, inputs: dict[str, bytes], load_data: LoadData, report: Report | None) -> Outcome:
        """Measure `trial`, reading only `inputs` (its `reads`) and the data set; write nothing."""
        raise NotImplementedError

    def batch(self, todo: list[Trial]) -> list[tuple[Trial, list[Trial]]]:
        """How to run `todo` (this kind's trials still to do): pairs of the trial to run (needing and reading what
        its members do) and the trials of `todo` it does, whose outcomes `split` gives back (default: each trial
        runs as itself)."""
        return [(trial, [trial]) for trial in todo]

    def split(self, outcome: Outcome, members: list[Trial]) -> list[Outcome]:
        """The outcome of a trial made by `batch` as one outcome per member of it, in their order (default: the
        outcome of a trial that ran as itself)."""
        return [outcome]

    def estimate_s(self, trial: Trial, gflops: float) -> float:
        """A rough duration of `trial` in seconds at a sustained rate of `gflops` GFLOP/s."""
        raise NotImplementedError

    def memory(self, trial: Trial) -> tuple[int, str]:
        """(bytes, device) the trial needs at most, estimated before it runs (default: one image's forward pass
        of its model on the CPU, as a static count takes)."""
        from vggbench.measure.memory import needed_bytes

        return needed_bytes(trial.spec, 1, backward=False, optimizer=False), "cpu"

    def describe(self, rows: list[dict]) -> str:
        """A few words on a finished trial's result, for the progress line."""
        return ""

    def rows_for(self, trial: Trial) -> list[dict]:
        """The identifying columns of each row `trial` gives, in their order (default: one row, the trial's
        identity)."""
        return [trial.identity()]

    def damage(self, trial: Trial, rows: list, error: str | None) -> str | None:
        """What is wrong with `rows`, read back from `trial`'s file (`error`: its error, where it failed): rows
        not those the trial gives (another model, seed or variant, one missing or repeated), or values its first
        table would refuse on reading (Table.checked: types, ranges, required and ordered columns); None where
        nothing is."""
        import pandas as pd

        from vggbench.util.validate import InputError, shown

        expected = [trial.identity()] if error else self.rows_for(trial)
        if len(rows) != len(expected):
            return f"{len(rows)} row(s) where its trial gives {len(expected)}"
        for number, (row, wanted) in enumerate(zip(rows, expected, strict=True), start=1):
            if not isinstance(row, dict):
                return f"row {number} is not a row of columns"
            for column, value in wanted.items():
                if type(row.get(column)) is not type(value) or row.get(column) != value:  # 1 is no True
                    return f"row {number} has {column} {shown(row.get(column))} where its trial has {value!r}"
        if error or not self.tables:
            return None
        try:
            self.row_table(trial).checked(pd.DataFrame(rows), "it", rows=True)
        except InputError as refused:
            return str(refused)
        return None

    def row_table(self, trial: Trial) -> Table:
        """The table whose declaration `trial`'s rows are checked against (default: the kind's first)."""
        return self.tables[0]

    def make_tables(self, rows: pd.DataFrame, config) -> dict[str, pd.DataFrame]:
        """The kind's tables from its rows, which may be none (default: the rows as its one table)."""
        return {self.tables[0].name: rows}

    def summarize(self, rows: pd.DataFrame) -> pd.DataFrame | None:
        """Per-model columns for the study's summary, with the identity columns (None: it adds none, as
        where `rows` are none or all failed)."""
        return None

    def judge(self, tables: dict[str, pd.DataFrame], rules) -> list[dict]:
        """The rows of claim.csv this kind's tables decide (vggbench.verdicts.vocabulary has their words), from `tables`
        (the run's tables by name, each of this kind's there, empty where missing) and `rules` (a
        vggbench.engine.config.Rules: the margins and the design of the run); default: none."""
        return []

    def figures(self) -> tuple[Figure, ...]:
        """The figures this kind's tables are drawn in (each a function in its module of vggbench.figures, imported
        here when asked: the command line never imports them); the report draws them after its own; default: none."""
        return ()
