"""Tables as the terminal prints them: numbers in human units (121.1 M, 118.8 k, 0.7696), no line wider than
WIDTH characters. Columns that do not fit are left out and named below the table; the CSV files keep every
column at full precision.

`text` prints any table; `summary_text` the study's summary (one row per model) and `claim_text` the claim,
part by part, in the few columns that say what each verdict rests on.
"""

from __future__ import annotations

import math
import numbers
import textwrap
from typing import TYPE_CHECKING

from vggbench.util.validate import printable

if TYPE_CHECKING:
    import pandas as pd

WIDTH = 120
GAP = "  "
MIN_TEXT = 16  # the fewest characters a text column is cut to, at the right edge, before it is left out
# Shorter headers for the terminal (the CSV keeps the full names).
SHORT = {
    "batch_norm": "bn",
    "in_channels": "in_ch",
    "num_classes": "classes",
    "speed_infer_img_per_s": "infer img/s",
    "speed_train_img_per_s": "train img/s",
    "train_loop_img_per_s_median": "loop img/s",
    "test_acc_mean": "acc mean",
    "test_acc_std": "acc std",
    "test_acc_min": "acc min",
    "test_acc_max": "acc max",
    "last_epoch_gain": "last gain",
    "still_learning": "learning",
    "optimizer_steps": "steps",
    "kernels_px": "kernels",
    "block_in_channels": "in_ch",
    "block_out_channels": "out_ch",
    "params_vs_stack": "params/stack",
    "params_vs_stack_if_in_eq_out": "if in=out",
    "macs_vs_stack": "macs/stack",
    "largest_kernel_px": "widest_px",
    "padding_tap_share": "pad_share",
    "rss_peak_increase_bytes": "rss_rise",
    "baseline_img_per_s": "base img/s",
    "variant_img_per_s": "var img/s",
    "time_ratio_median": "time ratio",
    "ci_half_width": "ci_half",
    "seeds_now": "seeds",
    "mde_now": "mde",
    "seeds_needed": "needed",
    "seeds_for_equivalence": "for equiv",
    "sequential_seeds_mean": "seq mean",
    "sequential_seeds_max": "seq max",
    "sequential_power": "seq power",
    "seeds_per_round": "round",
    "max_seeds": "max",
    "type1_error": "type I",
    "type1_ci_low": "low",
    "type1_ci_high": "high",
    "equivalent_share": "equiv",
    "inconclusive_share": "inconcl",
    "seeds_per_arm_mean": "seeds mean",
    "seeds_per_arm_median": "median",
    "seeds_per_arm_max": "max",
}
SUFFIXES = ((1e12, 1e12, "T"), (1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k"))


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def human(value, digits: int = 4) -> str:
    """A number as a reader takes it in: from 10,000 on with a k, M, G or T and `digits` significant digits
    (445,482 -> 445.5 k, 121,091,072 -> 121.1 M), smaller whole numbers whole, others to `digits` significant
    digits; blank for a missing value, anything else as text."""
    if is_missing(value):
        return ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if math.isinf(value):
        return str(float(value))
    for limit, scale, suffix in SUFFIXES:
        if abs(value) >= limit:
            return f"{value / scale:.{digits}g} {suffix}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}g}"


def is_number(values: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _layout(table: pd.DataFrame, width: int, right=()) -> tuple[list[str], list[str]]:
    """The table's lines, no longer than `width`, and the columns left out to get there (rightmost first).
    Numbers, and the columns named in `right`, are aligned right."""
    columns = list(table.columns)
    headers = {column: printable(SHORT.get(column, column)) for column in columns}
    cells = {column: [" ".join(printable(human(value)).split()) for value in table[column]] for column in columns}
    numeric = {column: column in right or is_number(table[column]) for column in columns}
    sizes = {column: max([len(headers[column]), *map(len, cells[column])]) for column in columns}
    left_out = []

    def total(shown) -> int:
        return sum(sizes[column] for column in shown) + len(GAP) * max(len(shown) - 1, 0)

    while columns and total(columns) > width:
        last = columns[-1]
        room = width - total(columns[:-1]) - (len(GAP) if len(columns) > 1 else 0)
        if not numeric[last] and room >= max(MIN_TEXT, len(headers[last])):
            cells[last] = [_cut(cell, room) for cell in cells[last]]
            sizes[last] = room
            break
        left_out.append(columns.pop())

    def line(values) -> str:
        parts = [
            value.rjust(sizes[column]) if numeric[column] else value.ljust(sizes[column])
            for column, value in zip(columns, values, strict=True)
        ]
        return GAP.join(parts).rstrip()

    lines = [line([headers[column] for column in columns])]
    lines += [line([cells[column][index] for column in columns]) for index in range(len(table))]
    return lines, left_out


def wrapped(text: str, width: int = WIDTH, indent: str = "") -> str:
    """`text` in lines of at most `width` characters, the lines after the first indented by `indent`."""
    lines = textwrap.wrap(printable(text), width, break_on_hyphens=False, subsequent_indent=indent)
    return "\n".join(lines) if text else ""


def text(table: pd.DataFrame, where: str = "the CSV", width: int = WIDTH, right=()) -> str:
    """`table` in human units and at most `width` characters a line; the columns that did not fit named below,
    with `where` they are, and the blanks of a summary explained. Columns named in `right` (numbers as text)
    are aligned right, as numbers are."""
    if table.empty and not len(table.columns):  # a kind may say why it made none (DataFrame.attrs["why"])
        return f"(no rows: {table.attrs['why']})" if table.attrs.get("why") else "(no rows)"
    lines, left_out = _layout(table, width, right)
    notes = [blank_accuracy(table)]
    if left_out and len(table) > 1:  # too wide: what every row shares goes below the table, once
        same = [column for column in table.columns if table[column].map(human).nunique() == 1]
        if same:
            lines, left_out = _layout(table.drop(columns=same), width, right)
            shared = ", ".join(f"{SHORT.get(column, column)} {human(table[column].iloc[0])}" for column in same)
            notes.insert(0, f"(the same in every row: {shared})")
    if left_out:
        shown = ", ".join(reversed(left_out))
        notes.append(f"(not shown, to fit {width} columns: {shown}; every column: {where})")
    return "\n".join([*lines, *(wrapped(note, width) for note in notes if note)])


def _model_name(row) -> str:
    name = " ".join(
        str(row[key]) if key in ("arch", "variant") else f"r{row[key]:g}" if key == "ratio" else f"{row[key]:g} px"
        for key in ("arch", "variant", "ratio", "resolution")
        if key in row and not is_missing(row[key])
    )
    normed = row.get("batch_norm")
    return name + (" bn" if not is_missing(normed) and bool(normed) else "")


def blank_accuracy(table: pd.DataFrame) -> str:
    """Where a summary's accuracy is blank because every run of the model failed, say so."""
    if not {"test_acc_mean", "failed", "seeds"} <= set(table.columns):
        return ""
    blank = table[table["test_acc_mean"].isna() & (table["failed"] >= table["seeds"]) & (table["seeds"] > 0)]
    if blank.empty:
        return ""
    named = ", ".join(_model_name(row) for _, row in blank.iterrows())
    return (
        f"Accuracy left blank where every run failed (failed = seeds: its final training loss met the failure rule, "
        f"failure_loss_ratio): {named}."
    )


# The study's summary as the terminal shows it, in this order (those the run has): the model, its cost, its runs
# and accuracy, then the throughputs, which give way first where the line is full.
SUMMARY_SHOWN = (
    "arch",
    "variant",
    "ratio",
    "resolution",
    "batch_norm",
    "schedule_epochs",
    "recipe",
    "params",
    "macs",
    "rf_px",
    "seeds",
    "failed",
    "test_acc_mean",
    "test_acc_std",
    "still_learning",
    "speed_infer_img_per_s",
    "speed_train_img_per_s",
    "train_loop_img_per_s_median",
)


def summary_text(summary: pd.DataFrame, where: str = "summary.csv", width: int = WIDTH) -> str:
    """The study's summary: the model, its counts, its runs (those that failed too) and accuracy, and the
    throughputs; a resolution, schedule or recipe column only where it varies, batch norm only where it is on."""
    from vggbench.models.schema import BESIDE_MODEL

    shown = [column for column in SUMMARY_SHOWN if column in summary]
    for column in BESIDE_MODEL:  # a model's rows at several budgets or recipes differ in these alone
        if len(summary) and column in shown and summary[column].nunique() <= 1:
            shown.remove(column)
    if len(summary) and "batch_norm" in shown and not summary["batch_norm"].astype(bool).any():
        shown.remove("batch_norm")
    return text(summary[shown], where, width)


def _condition(row, several_resolutions: bool) -> str:
    """The model (arch, ratio, resolution where it varies, bn) and where it was measured (device, mode)."""
    parts = []
    if not is_missing(row.get("arch")):
        parts.append(f"{row['arch']} r{row['ratio']:g}")
        if several_resolutions and not is_missing(row.get("resolution")):
            parts.append(f"{row['resolution']:g}px")
        normed = row.get("batch_norm")
        if not is_missing(normed) and bool(normed):
            parts.append("bn")
    parts += [str(row[key]) for key in ("device", "mode") if not is_missing(row.get(key))]
    return " ".join(parts)


def _pair(first, second) -> str:
    """'445.5 k vs 468.9 k', or the one value there is."""
    values = [human(value) for value in (first, second) if not is_missing(value)]
    return " vs ".join(values)


def _interval(low, high) -> str:
    return "" if is_missing(low) or is_missing(high) else f"{human(low, 3)} to {human(high, 3)}"


def _signed(value) -> str:
    return "" if is_missing(value) else f"{value:+.3g}"


def _p(value) -> str:
    return "" if is_missing(value) else f"{value:.2g}"


def _counts(rows: pd.DataFrame) -> str:
    counts = rows["verdict"].dropna().value_counts(sort=False)
    return ", ".join(f"{verdict} {count}" for verdict, count in counts.items())


def _part_table(rows: pd.DataFrame, several_resolutions: bool) -> pd.DataFrame:
    """One part's rows as the terminal shows them: condition, what is compared, verdict, values, the ratio or
    difference with its interval, the Holm-adjusted p and why a row is inconclusive."""
    import pandas as pd

    from vggbench.verdicts import vocabulary

    return pd.DataFrame(
        {
            "condition": [_condition(row, several_resolutions) for _, row in rows.iterrows()],
            "compared": [f"{row['variant']} vs {row['baseline']}" for _, row in rows.iterrows()],
            "vs": rows["baseline"].astype(str).to_numpy(),
            "verdict": rows["verdict"].fillna("").astype(str).to_numpy(),
            "values": [_pair(row["variant_value"], row["baseline_value"]) for _, row in rows.iterrows()],
            "ratio": [human(value) for value in rows["ratio_value"]],
            "difference": [_signed(value) for value in rows["difference"]],
            "95% interval": [_interval(row["ci_low"], row["ci_high"]) for _, row in rows.iterrows()],
            "p Holm": [_p(value) for value in rows["p_value_holm"]],
            "why inconclusive": [vocabulary.reason(row, brief=True) for _, row in rows.iterrows()],
        }
    )


def claim_text(claims: pd.DataFrame, where: str = "claim.md and claim.csv", width: int = WIDTH) -> str:
    """The claim part by part: per part its unit and verdicts, then per primary row the condition, what is
    compared, the verdict, the values (variant vs baseline), the ratio or difference with its interval and the
    Holm-adjusted p-value. Sensitivity rows and the rows at earlier budgets are counted, not shown; the
    flagged comparisons (validity) are named once, below."""
    import pandas as pd

    from vggbench.reporting.claim import at_earlier_budget
    from vggbench.verdicts import flags
    from vggbench.verdicts.vocabulary import PRIMARY, STACK

    if claims.empty:
        return "(no claim rows)"
    earlier = at_earlier_budget(claims)
    parts = claims[~earlier]
    # A part with primary rows shows those; a part without (batch norm x variant: numbers, no verdict) its own.
    with_primary = parts.groupby("claim")["analysis"].transform(lambda analyses: (analyses == PRIMARY).any())
    shown = parts[(parts["analysis"] == PRIMARY) | ~with_primary]
    several_resolutions = claims.get("resolution", pd.Series(dtype=float)).nunique() > 1
    blocks = []
    for claim, rows in shown.groupby("claim", sort=False):
        unit = rows["unit"].dropna().iloc[0] if "unit" in rows and rows["unit"].notna().any() else ""
        head = (
            f"{claim}"
            + (f" ({unit})" if unit else "")
            + (f": {_counts(rows)}" if rows["verdict"].notna().any() else "")
        )
        table = _part_table(rows, several_resolutions)
        # Where the stack is every row's variant, the rival alone says what is compared.
        if (rows["variant"] == STACK).all():
            table = table.drop(columns=["compared"]).rename(columns={"values": "stack vs rival"})
        else:
            table = table.drop(columns=["vs"])
        table = table.loc[:, [(table[column] != "").any() for column in table.columns]]
        right = ("values", "stack vs rival", "ratio", "difference", "95% interval", "p Holm")
        blocks.append(wrapped(head, width) + "\n" + text(table, where, width, right))
    left = {
        "sensitivity rows": int((parts["analysis"] != PRIMARY).sum() - (~with_primary).sum()),
        "accuracy rows at earlier budgets": int(earlier.sum()),
    }
    notes = [
        ", ".join(
            f"{count} {what if count > 1 else what.replace('rows', 'row')}" for what, count in left.items() if count
        )
    ]
    notes = [f"(not shown here: {notes[0]}; {where} hold every row and column)"] if notes[0] else []
    notes = [wrapped(note, width) for note in notes]
    if parts.get("validity", pd.Series(dtype=object)).notna().any():  # a line per flagged comparison, as claim.md
        listed = [wrapped(f"- {comparison}", width, indent="  ") for comparison in flags.flagged(parts)]
        notes.append("\n".join([flags.FLAGGED, *listed, wrapped(flags.rules(), width)]))
    return "\n\n".join([*blocks, *notes])
