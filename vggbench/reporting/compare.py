"""Two runs side by side: `vggbench compare`, a regression gate across commits or machines.

Each measurement both runs hold (the same model and setup, joined on its identity columns)
becomes a ratio of B against A, turned so that above 1 means B is slower, with a 95%
interval on the log scale: each run's value has a standard error of its logarithm (from
the run's own 95% interval, or for older speed tables from the IQR and the number of
runs), and the two are combined as independent,

    ln ratio +- z * sqrt(se_a^2 + se_b^2),  z = 1.96.

A row is `slower` when its whole interval lies above 1 + threshold: B is slower, by more
than the threshold, beyond the noise of both runs. It is a regression unless a side's row is
flagged stable=False (its interval missed its target, or other processes took its cores):
such an interval may understate the noise, so a flagged pair is named and set aside, not
counted, unless the caller includes the flagged rows.

pandas and numpy are imported inside the functions: the command line reads THRESHOLD and
the help from here without loading them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING

from vggbench.util.validate import InputError

if TYPE_CHECKING:
    import pandas as pd

THRESHOLD = 0.05
Z95 = NormalDist().inv_cdf(0.975)
# A normal sample's median has standard error sqrt(pi/2) * sd / sqrt(n), and its sd is about IQR / 1.349.
MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2)
IQR_PER_SD = 1.349
# What metadata.json says of the machine and software; runs that differ in these are compared all the same.
MACHINE_KEYS = ("device_name", "cpu_model", "threads", "torch")
SETUP_KEYS = ("mode", "device", "batch_size", "precision", "channels_last", "compiled")
RESULT_COLUMNS = (
    "value_a",
    "value_b",
    "b_vs_a",
    "ci_low",
    "ci_high",
    "slower",
    "regression",
    "stable_a",
    "stable_b",
    "se_source",
)
FROM_INTERVAL, FROM_IQR, NO_SE = "ci", "iqr", "none"


@dataclass(frozen=True)
class Measure:
    """What is compared in one table, and how its uncertainty is read."""

    table: str
    keys: tuple[str, ...]  # the identity columns its rows join on
    value: str  # the value compared
    interval: tuple[str, str]  # the columns of the value's 95% interval (low, high)
    shown: tuple[str, ...]  # the identity columns printed (others are printed where they vary)
    rate: bool = False  # a rate (higher is faster: B is slower when its value is lower), not a time
    spread: tuple[str, str] | None = None  # (IQR, runs) columns: the standard error where a row has no interval


def measures() -> tuple[Measure, ...]:
    """The tables compared: speed (step time), pairs (paired time ratio), density (achieved GFLOP/s)."""
    from vggbench.models.schema import GROUP_KEYS, MODEL_KEYS, NAME_KEYS

    return (
        Measure(
            "speed",
            (*MODEL_KEYS, *SETUP_KEYS),
            "step_ms_median",
            ("step_ms_ci_low", "step_ms_ci_high"),
            (*NAME_KEYS, "mode", "batch_size"),
            spread=("step_ms_iqr", "runs"),
        ),
        Measure(
            "pairs",
            (*GROUP_KEYS, *SETUP_KEYS, "baseline", "variant"),
            "time_ratio_median",
            ("ci_low", "ci_high"),
            ("arch", "ratio", "resolution", "mode", "batch_size", "baseline", "variant"),
        ),
        Measure(
            "density",
            ("device", "channels", "side_px", "kernel_px", "batch_size"),
            "achieved_gflops",
            ("gflops_ci_low", "gflops_ci_high"),
            ("channels", "side_px", "kernel_px", "batch_size"),
            rate=True,
        ),
    )


def ratio_interval(value_a, value_b, se_a, se_b, rate: bool = False):
    """B against A as a ratio that is above 1 where B is slower (B / A for a time, A / B for a rate), and its
    95% interval, from the standard errors of ln value_a and ln value_b taken as independent. Works on numbers
    and on numpy or pandas arrays alike; returns (ratio, low, high)."""
    import numpy as np

    log_ratio = np.log(value_b) - np.log(value_a)
    if rate:
        log_ratio = -log_ratio
    half_width = Z95 * np.sqrt(np.square(se_a) + np.square(se_b))
    return np.exp(log_ratio), np.exp(log_ratio - half_width), np.exp(log_ratio + half_width)


def log_se(table: pd.DataFrame, measure: Measure) -> tuple[pd.Series, pd.Series]:
    """Each row's standard error of ln value, and where it came from: FROM_INTERVAL, its 95% interval,
    (ln high - ln low) / (2 z); FROM_IQR, for a row without one, the median's standard error from the IQR
    and the number of runs, sqrt(pi/2) (IQR / 1.349) / sqrt(runs), over the median; else NO_SE."""
    import numpy as np
    import pandas as pd

    low, high = measure.interval
    nothing = pd.Series(np.nan, index=table.index)
    se = (np.log(table[high]) - np.log(table[low])) / (2 * Z95) if low in table and high in table else nothing
    source = pd.Series(np.where(se.notna(), FROM_INTERVAL, NO_SE), index=table.index)
    if measure.spread and all(column in table for column in measure.spread):
        iqr, runs = measure.spread
        from_iqr = MEDIAN_SE_FACTOR * (table[iqr] / IQR_PER_SD) / np.sqrt(table[runs]) / table[measure.value]
        missing = se.isna() & from_iqr.notna()
        se = se.where(~missing, from_iqr)
        source = source.where(~missing, FROM_IQR)
    return se, source


@dataclass
class Comparison:
    """The compared rows (one per shared measurement), and what the reader should know besides."""

    rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> pd.DataFrame:
        return self.rows[self.rows["regression"].astype(bool)]

    @property
    def set_aside(self) -> pd.DataFrame:
        """The rows slower beyond the threshold but not counted: a side was flagged stable=False."""
        return self.rows[self.rows["slower"].astype(bool) & ~self.rows["regression"].astype(bool)]


def shown(rows: pd.DataFrame, measure: Measure) -> list[str]:
    """The identity columns that tell `rows` of `measure` apart: its shown ones, and any other that varies among
    rows alike in those (two precisions of one model, say)."""
    named = [key for key in measure.shown if key in rows]
    others = [key for key in measure.keys if key in rows and key not in named]
    if not named or rows.empty:
        return [*named, *others]
    spread = rows.groupby(named, dropna=False)[others].nunique(dropna=False).max()
    return [*named, *(key for key in others if spread[key] > 1)]


def label(row, table: str, columns) -> str:
    """A row as the terminal names it: its table, then `columns` as key=value."""
    return " ".join([table, *(f"{key}={row[key]}" for key in columns)])


def check_threshold(threshold: float) -> None:
    if not (math.isfinite(threshold) and threshold >= 0):
        raise InputError(
            f"threshold={threshold!r} is not allowed: it must be a number >= 0 (the slowdown tolerated, as a "
            "share: 0.05 is 5%)"
        )


def _read(root: str | Path, measure: Measure) -> pd.DataFrame:
    """The measure's table of a run, with its rows whose value is missing left in (they are counted)."""
    from vggbench.engine.registry import KINDS
    from vggbench.engine.rundir import RunDir

    table = RunDir(root, KINDS).table(measure.table)
    if table.empty or measure.value not in table:
        return table.iloc[0:0]
    keys = [key for key in measure.keys if key in table]
    if table.duplicated(keys).any():
        raise InputError(
            f"{Path(root) / measure.table}.csv has {int(table.duplicated(keys).sum())} row(s) repeating another's "
            f"identity ({', '.join(keys)}): which to compare is ambiguous"
        )
    return table


def flagged_in(row) -> str:
    """Which run flagged a compared row stable=False: 'A', 'B', 'A and B', or '' (neither, or unknown: a table
    from before the flag)."""
    import pandas as pd

    flags = [row[f"stable_{run.lower()}"] for run in "AB"]
    return " and ".join(run for run, flag in zip("AB", flags, strict=True) if not pd.isna(flag) and not flag)


def _stable(table: pd.DataFrame) -> pd.Series:
    """A table's `stable` flags as True, False or missing (a table from before the flag has none)."""
    import pandas as pd

    if "stable" not in table:
        return pd.Series(pd.NA, index=table.index, dtype="boolean")
    return table["stable"].astype("boolean")


def compare_table(
    a: pd.DataFrame, b: pd.DataFrame, measure: Measure, threshold: float, include_unstable: bool = False
) -> Comparison:
    """The rows of one table that both runs hold, compared; the rest counted in the notes. A slower row that
    either run flagged stable=False is a regression only with `include_unstable`; the notes name such rows."""
    import pandas as pd

    keys = [key for key in measure.keys if key in a and key in b]
    notes = []
    left_out = [key for key in measure.keys if (key in a) != (key in b)]
    if left_out:
        notes.append(f"{measure.table}: joined without {', '.join(left_out)} (a column only one run has)")
    sides = []
    for table in (a, b):
        se, source = log_se(table, measure)
        sides.append(table[keys].assign(value=table[measure.value], se=se, source=source, stable=_stable(table)))
    joined = pd.merge(*sides, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True, sort=False)
    for side, run in (("left_only", "A"), ("right_only", "B")):
        alone = joined[joined["_merge"] == side]
        if not alone.empty:
            columns = shown(alone, measure)
            examples = "; ".join(label(row, measure.table, columns) for _, row in alone.head(3).iterrows())
            more = ", ..." if len(alone) > 3 else ""
            notes.append(f"{measure.table}: {len(alone)} row(s) only in {run}, not compared ({examples}{more})")
    both = joined[joined["_merge"] == "both"]
    valued = both["value_a"].gt(0) & both["value_b"].gt(0)
    if not valued.all():
        notes.append(
            f"{measure.table}: {int((~valued).sum())} shared row(s) without a value in a run (an error "
            "such as oom), not compared"
        )
    both = both[valued]
    ratio, low, high = ratio_interval(both["value_a"], both["value_b"], both["se_a"], both["se_b"], measure.rate)
    same = both["source_a"] == both["source_b"]
    rows = both[keys].assign(
        value_a=both["value_a"],
        value_b=both["value_b"],
        b_vs_a=ratio,
        ci_low=low,
        ci_high=high,
        se_source=both["source_a"].where(same, "A " + both["source_a"] + ", B " + both["source_b"]),
        stable_a=both["stable_a"],
        stable_b=both["stable_b"],
        slower=low > 1 + threshold,
    )
    flagged = rows["stable_a"].eq(False).fillna(False) | rows["stable_b"].eq(False).fillna(False)
    rows["regression"] = rows["slower"] & (include_unstable | ~flagged)
    rows = rows.reset_index(drop=True)
    if flagged.any():
        notes.append(_flagged_note(rows[flagged.to_numpy()], len(rows), measure, include_unstable))
    return Comparison(rows, notes)


def _flagged_note(flagged: pd.DataFrame, compared: int, measure: Measure, include_unstable: bool) -> str:
    """What the reader must know of the rows either run flagged stable=False: how many, in which run, and each
    one slower beyond the threshold by name, counted as a regression or set aside."""
    by_run = ", ".join(f"{run} {int(flagged[f'stable_{run.lower()}'].eq(False).sum())}" for run in "AB")
    note = (
        f"{measure.table}: {len(flagged)} of {compared} compared row(s) flagged stable=False ({by_run}; columns "
        "stable_a, stable_b), whose intervals may understate the noise"
    )
    slower = flagged[flagged["slower"]]
    if slower.empty:
        return note + "; none of them is slower beyond the threshold"
    columns = shown(slower, measure)
    named = "; ".join(
        f"{label(row, measure.table, columns)}: {row['b_vs_a']:.3f} (flagged in {flagged_in(row)})"
        for _, row in slower.iterrows()
    )
    if include_unstable:
        return note + f"; {len(slower)} of them slower beyond the threshold, counted as regressions: {named}"
    return (
        note + f"; {len(slower)} of them slower beyond the threshold, set aside, not counted as regressions "
        f"(--include-unstable counts them): {named}"
    )


def machine_notes(root_a: str | Path, root_b: str | Path) -> list[str]:
    """Where the two runs' machines or software differ (from metadata.json): a note naming what differs."""
    from vggbench.engine.rundir import RunDir

    metadata = [RunDir(root).metadata() for root in (root_a, root_b)]
    lacking = [run for run, values in zip("AB", metadata, strict=True) if not values]
    if lacking:
        verb = "has" if len(lacking) == 1 else "have"
        return [f"{' and '.join(lacking)} {verb} no metadata.json: whether the machines differ is unknown"]
    differ = [
        f"{key} (A: {metadata[0].get(key)}, B: {metadata[1].get(key)})"
        for key in MACHINE_KEYS
        if metadata[0].get(key) != metadata[1].get(key)
    ]
    if not differ:
        return []
    return [f"the runs differ in {'; '.join(differ)}: compared all the same, read the ratios with that in mind"]


def compare(
    root_a: str | Path, root_b: str | Path, threshold: float = THRESHOLD, include_unstable: bool = False
) -> Comparison:
    """Every measurement run B shares with run A (speed, pairs, density), as a ratio above 1 where B is slower,
    with its 95% interval; `slower` where the interval's lower end is above 1 + threshold, and a `regression`
    where it is slower and neither run flagged the row stable=False (or, with `include_unstable`, wherever it is
    slower)."""
    import pandas as pd

    check_threshold(threshold)
    for root in (root_a, root_b):
        if not Path(root).is_dir():
            raise InputError(f"{root} is not a folder: give two run directories (or published folders in results/)")
    tables = [[_read(root, measure) for measure in measures()] for root in (root_a, root_b)]
    for root, read in zip((root_a, root_b), tables, strict=True):
        if all(table.empty for table in read):
            names = ", ".join(f"{measure.table}.csv" for measure in measures())
            raise InputError(f"{root} has nothing to compare: no rows in {names} (the tables compare reads)")
    parts, notes, absent = [], machine_notes(root_a, root_b), []
    for measure, a, b in zip(measures(), *tables, strict=True):
        if a.empty or b.empty:
            if len(a) or len(b):
                holder, count = ("A", len(a)) if len(a) else ("B", len(b))
                notes.append(f"{measure.table}: only {holder} has {measure.table} rows ({count}), not compared")
            else:
                absent.append(f"{measure.table}.csv")
            continue
        part = compare_table(a, b, measure, threshold, include_unstable)
        parts.append(part.rows.assign(table=measure.table))
        notes += part.notes
    if absent:
        notes.append(f"neither run has {', '.join(absent)}")
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["table", *RESULT_COLUMNS])
    if rows.empty:
        notes.append("no measurement is in both runs: nothing compared")
    identity = list(dict.fromkeys(key for measure in measures() for key in measure.keys if key in rows))
    # A column one table lacks is blank in the others' rows: keep integers integers around those blanks.
    rows[identity] = rows[identity].convert_dtypes()
    return Comparison(rows[["table", *identity, *RESULT_COLUMNS]], notes)


def _named(rows: pd.DataFrame) -> list[str]:
    """Each row by name, with its ratio, its interval and the run that flagged it stable=False (if any)."""
    named = []
    for measure in measures():
        part = rows[rows["table"] == measure.table]
        columns = shown(part, measure)
        for _, row in part.iterrows():
            flagged = flagged_in(row)
            named.append(
                f"{label(row, measure.table, columns)}: {row['b_vs_a']:.3f} [{row['ci_low']:.3f}, "
                f"{row['ci_high']:.3f}]" + (f" (flagged stable=False in {flagged})" if flagged else "")
            )
    return named


def summary(comparison: Comparison, threshold: float) -> str:
    """One line naming the regressions: each row, its ratio and its interval."""
    named = _named(comparison.regressions)
    return (
        f"{len(named)} regression(s), B slower than A by more than {threshold * 100:g}% beyond the noise (95% interval "
        f"above {1 + threshold:g}): {'; '.join(named)}"
    )


def set_aside_summary(comparison: Comparison) -> str:
    """One line naming the rows slower beyond the threshold that were not counted, a run having flagged them."""
    named = _named(comparison.set_aside)
    return (
        f"{len(named)} row(s) slower beyond the threshold not counted as regressions, flagged stable=False (their "
        f"intervals may understate the noise; --include-unstable counts them): {'; '.join(named)}"
    )
