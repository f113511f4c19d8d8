"""The report of a finished run directory: its figures, drawn as PNG and SVG into RUN_DIR/figures/, and
RUN_DIR/report.html (vggbench.reporting.page), from the tables that `vggbench run` wrote and its metadata.

The figures are the report's own (those of the whole run: vggbench.reporting.run_figures) and each kind's
(`Kind.figures`, drawn from its tables): `catalogue` lists them, so that a new figure is one function beside its kind.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from vggbench.engine.config import run_config
from vggbench.engine.contract import Kind
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import FIGURES, REPORT, RunDir
from vggbench.figures.figure import Figure, Sources
from vggbench.reporting import page, recipes, run_figures
from vggbench.reporting.page import Drawn
from vggbench.util.csvio import write_bytes
from vggbench.util.validate import InputError

SVG_METADATA = {"Date": None}  # no timestamp: with fixed ids, the same run draws the same SVG


def catalogue(kinds: Iterable[Kind] | None = None) -> list[Figure]:
    """Every figure of a report, in the page's order: the report's own, then each of `kinds`' (default: every
    registered kind, in the registry's order)."""
    kinds = KINDS.values() if kinds is None else kinds
    return [*run_figures.FIGURES, *(figure for kind in kinds for figure in kind.figures())]


def _tables(directory: RunDir, given: Mapping[str, pd.DataFrame], names: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The tables `names` by name: those `given`, the others read from the run (empty where it has none)."""
    return {name: given[name] if name in given else directory.table(name) for name in dict.fromkeys(names)}


def write(run_dir: str | Path | RunDir, tables: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Draw the run's figures and write RUN_DIR/report.html from its tables (`tables`: those already in memory, by
    name; the others are read); returns the page's path. `run_dir`: a folder, or a RunDir (that may remember the
    tables it read)."""
    directory = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, KINDS)
    if not directory.has("summary.csv") or not directory.has("metadata.json"):
        raise InputError(
            f"{directory.root} has no summary.csv or metadata.json: is it a finished `vggbench run` directory?"
        )
    metadata = directory.metadata()
    tables = _tables(
        directory, tables or {}, [*page.TABLES, *(name for figure in catalogue() for name in figure.reads)]
    )
    drawn = draw(directory, tables)
    directory.write_text(REPORT, page.page(directory.root.name, metadata, tables, drawn, recipes.read(directory)))
    directory.record_writer(REPORT)
    return directory.path(REPORT)


def _save(figure, path: Path, **options) -> None:
    """The figure written as every output is: atomically, and only as a regular file (csvio)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix[1:], **options)
    write_bytes(path, buffer.getvalue())


def draw(directory: RunDir, tables: Mapping[str, pd.DataFrame] | None = None) -> list[Drawn]:
    """Every figure of the `catalogue` in RUN_DIR/figures/ as PNG and SVG, from `tables` (by name; the others are
    read); a figure the run has no data for is listed undrawn, and no file of an earlier run is left for it."""
    from matplotlib import rc_context

    figures = catalogue()
    tables = _tables(directory, tables or {}, [name for figure in figures for name in figure.reads])
    config = run_config(directory, missing_ok=True)
    folder = directory.path(FIGURES)
    folder.mkdir(exist_ok=True)
    drawn = []
    for figure in figures:
        made = figure.draw(Sources({name: tables[name] for name in figure.reads}, config, directory.own))
        if made is None:  # nothing to draw: no figure of an earlier run left behind
            for suffix in (".png", ".svg"):
                stale = folder / f"{figure.name}{suffix}"
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            drawn.append(Drawn(figure.name, figure.title, figure.caption, None))
            continue
        _save(made, folder / f"{figure.name}.png", dpi=120)
        with rc_context({"svg.hashsalt": "vggbench"}):  # fixed element ids
            _save(made, folder / f"{figure.name}.svg", metadata=SVG_METADATA)
        drawn.append(Drawn(figure.name, figure.title, figure.caption, folder / f"{figure.name}.png"))
    return drawn
