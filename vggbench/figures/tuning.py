"""The recipe search's figure (tuning.csv): how each arm's validation accuracy depends on its learning rate."""

from __future__ import annotations

import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure
from vggbench.verdicts import vocabulary
from vggbench.verdicts.robustness import candidates

OPTIMIZER_MARKERS = ("o", "s", "^", "D", "v", "P")
CHOSEN = "chosen recipe"  # the ring's label


def _marker(optimizer, optimizers: list) -> str:
    return OPTIMIZER_MARKERS[optimizers.index(optimizer) % len(OPTIMIZER_MARKERS)] if optimizers else "o"


def _draw_arm(axes, arm: pd.DataFrame, variant: str, colour: str, optimizers: list) -> None:
    """One variant's candidates: a line in learning-rate order, a marker per optimizer, the chosen one ringed."""
    axes.plot(arm["lr"], arm["objective"], color=colour, linewidth=1, label=variant)
    for optimizer, points in arm.groupby("optimizer", sort=False) if optimizers else [(None, arm)]:
        marker = _marker(optimizer, optimizers)
        axes.plot(points["lr"], points["objective"], marker, color=colour, markersize=4, label=f"_{optimizer}")
    chosen = arm[arm["chosen"]]
    axes.plot(chosen["lr"], chosen["objective"], "o", markersize=11, mfc="none", mec="black", label=CHOSEN)


def _legend_handles(variants: list[str], optimizers: list) -> list:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=look.style(variant, variants)[0], label=variant) for variant in variants]
    handles += [
        Line2D([], [], ls="none", marker=_marker(optimizer, optimizers), color="#555555", label=str(optimizer))
        for optimizer in optimizers
    ]
    return [*handles, Line2D([], [], ls="none", marker="o", ms=11, mfc="none", mec="black", label=CHOSEN)]


def lr_sensitivity(tuning: pd.DataFrame):
    """Validation accuracy (each candidate's objective) against learning rate on a log axis, one panel per group of
    models (architecture x batch norm in a map), one line per variant through its candidates that finished (a
    pruned one's objective is at a smaller budget), a marker per optimizer and the chosen candidate ringed. None
    without a search over the learning rate."""
    if tuning.empty or "lr" not in tuning:
        return None
    found = candidates(tuning)
    finished = found[found["finished"]].sort_values("lr", kind="stable")
    if finished.empty:
        return None
    variants = look.ordered(finished["variant"])
    optimizers = list(dict.fromkeys(finished["optimizer"])) if "optimizer" in finished else []
    several_resolutions = finished["resolution"].nunique() > 1
    groups = list(vocabulary.groups(finished))
    figure, add = look.panels(len(groups))
    for index, (_, group) in enumerate(groups, start=1):
        axes = add(index, look.model_label(group.iloc[0], several_resolutions))
        for variant in look.ordered(group["variant"]):
            arm = group[group["variant"] == variant]
            _draw_arm(axes, arm, variant, look.style(variant, variants)[0], optimizers)
        axes.set_xscale("log")
        axes.set_ylim(0, 1)
    figure.supxlabel("learning rate (log scale)", fontsize=9)
    figure.supylabel("validation accuracy", fontsize=9)  # the caption says whose: the candidate's mean over seeds
    handles = _legend_handles(variants, optimizers)
    figure.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
    return figure


LR_SENSITIVITY = Figure.of_table(
    "lr_sensitivity",
    "Validation accuracy against the learning rate",
    "Each candidate of the recipe search (tuning.csv) that was not pruned: its validation accuracy (the mean over "
    "its seeds at the last epoch) against its learning rate, on a log axis; a panel per group of models, a line "
    "per variant, a marker per optimizer, the recipe each arm chose ringed. Validation images only: the test set "
    "judges the verdicts.",
    "tuning",
    lr_sensitivity,
)
