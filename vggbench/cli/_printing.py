"""How the commands print: tables in human units (each also written as CSV where asked), the claim, progress."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from vggbench.cli._parsing import STDOUT
from vggbench.util.validate import printable

if TYPE_CHECKING:
    import pandas as pd


def readable(table: pd.DataFrame, where: str = "the CSV") -> str:
    """The table in human units (121.1 M), at most 120 characters a line (vggbench.reporting.terminal)."""
    from vggbench.reporting import terminal

    return terminal.text(table, where)


def emit(table: pd.DataFrame, destination: str | None, shown_columns, title: str) -> None:
    """Print `table` (those of `shown_columns` it has) and write all of it as CSV to `destination`."""
    emit_all([(table, destination, shown_columns, title)])


def emit_all(emitted: list[tuple[pd.DataFrame, str | None, list[str], str]]) -> None:
    """emit each (table, destination, shown_columns, title), every file written before anything is printed: a
    closed pipe (`| head`) ends the printing, and must not cost a file."""
    from vggbench.reporting.terminal import wrapped
    from vggbench.util.csvio import write_csv

    for table, destination, _, _ in emitted:
        if destination not in (None, STDOUT):
            write_csv(table, destination)
    for table, destination, shown_columns, title in emitted:
        where = destination if destination not in (None, STDOUT) else "the table's CSV option (--help)"
        print(f"{wrapped(title)}\n{readable(table[[column for column in shown_columns if column in table]], where)}\n")
        if destination not in (None, STDOUT):
            print(f"wrote {len(table)} rows to {destination}\n")


def progress(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def print_claims(claims: pd.DataFrame, run_dir) -> None:
    from vggbench.reporting import terminal

    print(terminal.wrapped(f"The claim, part by part (written to {run_dir}/claim.md and claim.csv)") + "\n")
    print(terminal.claim_text(claims))


def print_report(path) -> None:
    print(f"report: {path} (figures as PNG and SVG in {path.parent / 'figures'})")
