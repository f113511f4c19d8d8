"""The report's own figures, those of the run as a whole: every comparison of claim.csv (the forest), the recipe
search's validation accuracy against the learning rate (vggbench.figures.tuning), the accuracy at each training
budget, and accuracy against compute from summary.csv (training's and the static count's columns). Each kind's
figures are its own (vggbench.figures, `Kind.figures`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure
from vggbench.figures.tuning import LR_SENSITIVITY
from vggbench.reporting.claim import at_earlier_budget
from vggbench.verdicts.vocabulary import ACCURACY, NON_LINEARITY, PRIMARY

# The families a forest plot shows: their claims, and the unit their differences are drawn in, claim.csv's (a
# share from 0 to 1, as the tables of claim.md and report.html give it).
FOREST_PARTS = (
    (("higher accuracy", "more non-linearity helps"), "stack - rival, test accuracy (0 to 1)"),
    (("same effective receptive field",), "stack - rival, share of the image holding half the gradient (0 to 1)"),
)
MIN_MACS_SPAN = 2.0  # accuracy_vs_macs's x axis spans at least this factor: a 1% gap never fills its width

VERDICT_COLOURS = {
    "supported": "#2ca02c",
    "contradicted": "#d62728",
    "equivalent": "#1f77b4",
    "inconclusive": "#bcbd22",
}


def _comparison_label(row: pd.Series, varying: list[str]) -> str:
    """A claim row's condition, naming only what varies between the rows drawn, then its rival."""
    parts = []
    for column in varying:
        value = row[column]
        if column == "batch_norm":
            parts.append("bn" if value else "no bn")
        elif column == "ratio":
            parts.append(f"r{value:g}")
        elif column == "resolution":
            parts.append(f"{value:g}px")
        elif column == "schedule_epochs":
            parts.append(f"{value:g} ep")
        elif pd.notna(value):
            parts.append(str(value))
    return " ".join([*parts, f"vs {row['baseline']}"])


def forest(claims: pd.DataFrame):
    """Each primary accuracy and effective-field comparison of the run as its difference (stack - rival) with its
    95% interval, coloured by its verdict, the equivalence margin shaded; one panel per family."""
    needed = {"claim", "analysis", "difference", "ci_low", "ci_high", "margin", "verdict"}
    if claims.empty or not needed <= set(claims.columns):
        return None
    primary = claims[claims["analysis"] == "primary"]
    parts = [(primary[primary["claim"].isin(names)], unit) for names, unit in FOREST_PARTS]
    parts = [(rows.dropna(subset=["difference"]), unit) for rows, unit in parts if rows["difference"].notna().any()]
    if not parts:
        return None
    figure = look.new_figure(7.5, 1.2 + 0.22 * sum(len(rows) for rows, _ in parts) + 0.6 * len(parts))
    grid = figure.add_gridspec(len(parts), 1, height_ratios=[len(rows) + 2 for rows, _ in parts])
    for index, (rows, unit) in enumerate(parts):
        axes = figure.add_subplot(grid[index])
        candidates = [c for c in ("arch", "ratio", "resolution", "batch_norm", "schedule_epochs", "mode") if c in rows]
        varying = [column for column in candidates if rows[column].nunique(dropna=False) > 1]
        positions = np.arange(len(rows))[::-1]
        margin = rows["margin"].dropna().max()
        axes.axvspan(-margin, margin, color="#dddddd", alpha=0.6, lw=0)
        axes.axvline(0, color="black", lw=0.8)
        for position, row in zip(positions, (row for _, row in rows.iterrows()), strict=True):
            colour = VERDICT_COLOURS.get(row["verdict"], "#7f7f7f")
            low, high = look.clipped(row[["ci_low", "ci_high"]], -1, 1)  # shares differ by 1 at most
            axes.plot([low, high], [position, position], color=colour, lw=2, solid_capstyle="butt")
            axes.plot(row["difference"], position, "o", color=colour, ms=5)
        axes.set_yticks(positions, [_comparison_label(row, varying) for _, row in rows.iterrows()], fontsize=7)
        axes.set_xlabel(unit, fontsize=8)
        axes.grid(True, axis="x", alpha=0.3)
        axes.set_ylim(-1, len(rows))
    handles = [_verdict_handle(word, colour) for word, colour in VERDICT_COLOURS.items()]
    figure.legend(handles=handles, loc="outside upper center", ncols=len(handles), fontsize=7, frameon=False)
    return figure


def _verdict_handle(word: str, colour: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, marker="o", lw=2, label=word)


def accuracy_vs_macs(summary: pd.DataFrame):
    """Final test accuracy (mean, error bar one std over seeds, held to 0..1) against MACs per image, one marker
    per variant; a thin line joins the variants of a model, named once beside them where no other label is; the
    x axis spans at least a factor of MIN_MACS_SPAN, so that close counts look close. A
    model trained but not counted (its static trial failed) is named as not drawn under the axis title."""
    if not {"test_acc_mean", "macs"} <= set(summary.columns) or summary["test_acc_mean"].isna().all():
        return None  # no accuracy, or no static counts (a run without the static kind)
    trained = summary.dropna(subset=["test_acc_mean"])
    uncounted = trained[trained["macs"].isna()]
    table = trained.dropna(subset=["macs"]).assign(mmacs=lambda rows: rows["macs"] / 1e6)
    if table.empty:
        return None
    variants = look.ordered(table["variant"])
    named = look.varying(trained)  # what tells the models apart besides their names: their budgets, say
    figure = look.new_figure(7.4, 4.2)  # 6.4 in for the axes, 1 in for the legend beside them
    axes = figure.add_subplot()
    for variant in variants:
        rows = table[table["variant"] == variant]
        colour, marker = look.style(variant, variants)
        mean, spread = rows["test_acc_mean"], rows["test_acc_std"].fillna(0)
        below, above = mean - look.clipped(mean - spread, 0, 1), look.clipped(mean + spread, 0, 1) - mean
        axes.errorbar(rows["mmacs"], mean, yerr=[below, above], fmt=marker, color=colour, capsize=3, label=variant)
    models = table.assign(model=[look.model_label(row, named) for row in table.itertuples()])
    labels = []
    for model, rows in models.groupby("model", sort=True):
        rows = rows.sort_values("mmacs")
        axes.plot(rows["mmacs"], rows["test_acc_mean"], color="#bbbbbb", linewidth=0.8, zorder=0)
        labels.append((model, rows["mmacs"].iloc[-1], rows["test_acc_mean"].iloc[-1]))
    seeds = ", ".join(str(int(count)) for count in sorted(table["seeds"].unique()))
    epochs = ", ".join(str(int(count)) for count in sorted(table["epochs"].unique()))
    look.plain_log_ticks(axes)
    low, high = table["mmacs"].min(), table["mmacs"].max()
    if high < low * MIN_MACS_SPAN:  # centred on the points, on the log scale
        middle, half = np.sqrt(low * high), np.sqrt(MIN_MACS_SPAN)
        axes.set_xlim(middle / half, middle * half)
    axes.set_xlabel("MACs per image (millions, log scale)")
    axes.set_ylabel(f"final test accuracy\n(mean ± std over {seeds} seeds)")
    axes.set_title(f"Accuracy against compute after {epochs} epoch(s)")
    axes.grid(True, alpha=0.3)
    look.legend_outside(figure)
    look.label_points(axes, labels)
    if not uncounted.empty:  # under the axis title, where the layout makes room for it
        names = ", ".join(f"{look.model_label(row, named)} {row.variant}" for row in uncounted.itertuples())
        axes.set_xlabel(f"{axes.get_xlabel()}\nnot drawn, no MACs counted (static trial failed): {names}")
    return figure


def accuracy_budgets(claims: pd.DataFrame):
    """The stack's accuracy difference from each rival (0 to 1, as claim.csv) against optimizer steps, one panel per
    comparison: each budget's claim row (the earlier budgets' and the final one) with its 95% interval as a
    band held to the possible -1..1, the equivalence margin shaded and zero marked; a comparison without a
    difference at any budget says why in its panel. None without rows at earlier budgets."""
    if claims.empty or "optimizer_steps" not in claims or not at_earlier_budget(claims).any():
        return None
    final = claims["claim"].isin([ACCURACY, NON_LINEARITY]) & (claims["analysis"] == PRIMARY)
    rows = claims[final | at_earlier_budget(claims)].dropna(subset=["optimizer_steps"])
    keys = [key for key in ("arch", "ratio", "resolution", "batch_norm", "baseline") if key in rows]
    panels = [panel.sort_values("optimizer_steps") for _, panel in rows.groupby(keys, sort=False, dropna=False)]
    named = look.varying(rows) & {"resolution"}  # a panel spans the budgets
    variants = look.ordered(rows["baseline"])
    figure, add = look.panels(len(panels))
    for index, panel in enumerate(panels, start=1):
        first = panel.iloc[0]
        axes = add(index, f"{look.model_label(first, named)}: stack - {first['baseline']}")
        drawn = panel.dropna(subset=["difference"])
        if drawn.empty:
            look.say(axes, _no_difference(first))
            continue
        colour, marker = look.style(first["baseline"], variants)
        margin = panel["margin"].max()
        axes.axhspan(-margin, margin, color="#d9e6f7", linewidth=0, label=f"±{margin:g}: equivalent")
        axes.axhline(0, color="black", linewidth=0.8)
        band = (look.clipped(drawn[end], -1, 1) for end in ("ci_low", "ci_high"))
        steps = drawn["optimizer_steps"]
        axes.fill_between(steps, *band, color=colour, alpha=0.25, linewidth=0, label="95% interval")
        axes.plot(steps, drawn["difference"], color=colour, marker=marker, markersize=4, label="stack - rival")
    return look.label_panels(figure, "optimizer steps", "test accuracy, stack - rival\n(0 to 1)")


def _no_difference(row: pd.Series) -> str:
    """Why a comparison has no difference at any budget: an arm without a run that did not fail, or its note."""
    arms = (("stack", "variant"), (row["baseline"], "baseline"))
    for arm, side in arms:
        if row.get(f"seeds_{side}") == 0:
            failed = row.get(f"failed_{side}")
            counted = f" ({failed:.0f} runs)" if pd.notna(failed) else ""
            return f"No difference at any budget: every run of {arm} failed{counted}."
    note = row.get("note")
    return f"No difference at any budget ({note})." if isinstance(note, str) else "No difference at any budget."


FIGURES = (
    Figure.of_table(
        "forest",
        "Every comparison, difference and interval",
        "Each primary comparison of the stack with a rival, condition by condition: the difference "
        "(stack - rival, as claim.csv gives it: a share from 0 to 1) with its 95% interval (held to the possible "
        "-1..1), coloured by its verdict; the shaded band is the equivalence margin. Top: accuracy; below: the "
        "effective field (a smaller share is a smaller field).",
        "claim",
        forest,
    ),
    LR_SENSITIVITY,  # beside the forest: whether the verdicts there rest on rates each arm tolerates
    Figure.of_table(
        "accuracy_vs_macs",
        "Accuracy against compute",
        "Final test accuracy against MACs per image; error bars are one standard deviation over seeds (held to "
        "0..1); a grey line joins the variants of one model, named beside them.",
        "summary",
        accuracy_vs_macs,
    ),
    Figure.of_table(
        "accuracy_budgets",
        "Accuracy difference against the training budget",
        "The stack's test accuracy minus each rival's (0 to 1, as claim.csv), against optimizer steps: each "
        "budget's row of claim.csv (the earlier budgets' and the final one), its 95% interval as a band (held to the "
        "possible -1..1); the pale blue band is the equivalence margin.",
        "claim",
        accuracy_budgets,
    ),
)
