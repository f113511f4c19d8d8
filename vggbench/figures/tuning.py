"""The recipe search's figure (tuning.csv): how each arm's validation accuracy depends on its learning rate."""

from __future__ import annotations

import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure
from vggbench.measure.setups import RECIPE_KNOBS
from vggbench.verdicts import vocabulary
from vggbench.verdicts.robustness import candidates

OPTIMIZER_MARKERS = ("o", "s", "^", "D", "v", "P")
OTHER_STYLES = ("-", "--", ":", "-.")  # a line style per setting of the searched knobs besides lr and optimizer
CHOSEN = "chosen recipe"  # the ring's label


def _marker(optimizer, optimizers: list) -> str:
    return OPTIMIZER_MARKERS[optimizers.index(optimizer) % len(OPTIMIZER_MARKERS)] if optimizers else "o"


def _others(found: pd.DataFrame) -> list[str]:
    """The searched knobs besides the learning rate and the optimizer: the columns of RECIPE_KNOBS that vary within
    one optimizer's candidates (momentum set by the optimizer alone is not one)."""
    within = found.groupby("optimizer") if "optimizer" in found else [(None, found)]
    knobs = [knob for knob in RECIPE_KNOBS if knob in found and knob not in ("lr", "optimizer")]
    return [knob for knob in knobs if any(part[knob].nunique() > 1 for _, part in within)]


def _setting(row, others: list[str]) -> str:
    return ", ".join(f"{knob} {row[knob]}" for knob in others)


def _draw_arm(axes, arm: pd.DataFrame, variant: str, colour: str, optimizers: list, settings: list) -> None:
    """One variant's candidates: a line in learning-rate order through the candidates of each recipe apart from the
    learning rate (one line across optimizers would zigzag between their accuracies at one lr), a marker per
    optimizer, a line style per setting of the other searched knobs, the chosen candidate ringed. The variant's
    first line carries its legend label."""
    recipe = [key for key in ("optimizer", "setting") if key in arm]
    for index, (_, points) in enumerate(arm.groupby(recipe, sort=False) if recipe else [(None, arm)]):
        first = points.iloc[0]
        style = OTHER_STYLES[settings.index(first["setting"]) % len(OTHER_STYLES)] if settings else "-"
        marker = _marker(first.get("optimizer"), optimizers)
        label = variant if index == 0 else f"_{variant}"
        axes.plot(points["lr"], points["objective"], ls=style, marker=marker, color=colour, lw=1, ms=4, label=label)
    chosen = arm[arm["chosen"]]
    axes.plot(chosen["lr"], chosen["objective"], "o", markersize=11, mfc="none", mec="black", label=CHOSEN)


def _legend_handles(variants: list[str], optimizers: list, settings: list) -> list:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=look.style(variant, variants)[0], label=variant) for variant in variants]
    handles += [
        Line2D([], [], ls="none", marker=_marker(optimizer, optimizers), color="#555555", label=str(optimizer))
        for optimizer in optimizers
    ]
    handles += [
        Line2D([], [], ls=OTHER_STYLES[index % len(OTHER_STYLES)], color="#555555", label=setting)
        for index, setting in enumerate(settings)
    ]
    return [*handles, Line2D([], [], ls="none", marker="o", ms=11, mfc="none", mec="black", label=CHOSEN)]


def lr_sensitivity(tuning: pd.DataFrame):
    """Validation accuracy (each candidate's objective) against learning rate on a log axis, one panel per group of
    models (architecture x batch norm in a map), a colour per variant, a line through each of its recipes apart from
    the learning rate over its candidates that finished (a pruned one's objective is at a smaller budget), a marker
    per optimizer, a line style per setting of the other searched knobs, the chosen candidate ringed. None without a
    search over the learning rate."""
    if tuning.empty or "lr" not in tuning:
        return None
    found = candidates(tuning)
    finished = found[found["finished"]].sort_values("lr", kind="stable")
    if finished.empty:
        return None
    variants = look.ordered(finished["variant"])
    optimizers = list(dict.fromkeys(finished["optimizer"])) if "optimizer" in finished else []
    others = _others(finished)
    if others:
        finished = finished.assign(setting=[_setting(row, others) for _, row in finished.iterrows()])
    settings = sorted(set(finished["setting"])) if others else []
    named = look.varying(finished)
    groups = list(vocabulary.groups(finished))
    figure, add = look.panels(len(groups))
    for index, (_, group) in enumerate(groups, start=1):
        axes = add(index, look.model_label(group.iloc[0], named))
        for variant in look.ordered(group["variant"]):
            arm = group[group["variant"] == variant]
            _draw_arm(axes, arm, variant, look.style(variant, variants)[0], optimizers, settings)
        axes.set_xscale("log")
        axes.set_ylim(0, 1)
    figure.supxlabel("learning rate (log scale)", fontsize=9)
    figure.supylabel("validation accuracy", fontsize=9)  # the caption says whose: the candidate's mean over seeds
    handles = _legend_handles(variants, optimizers, settings)
    figure.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False)
    return figure


LR_SENSITIVITY = Figure.of_table(
    "lr_sensitivity",
    "Validation accuracy against the learning rate",
    "Each candidate of the recipe search (tuning.csv) that was not pruned: its validation accuracy (the mean over "
    "its seeds at the last epoch) against its learning rate, on a log axis; a panel per group of models, a colour "
    "per variant, a line through the candidates that share a recipe apart from the learning rate (a marker per "
    "optimizer, a line style per setting of any other searched knob), the recipe each arm chose ringed. "
    "Validation images only: the test set judges the verdicts.",
    "tuning",
    lr_sensitivity,
)
