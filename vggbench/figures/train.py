"""Training's figure: the learning curves, test accuracy against optimizer steps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure
from vggbench.stats import hypothesis as stats
from vggbench.verdicts import vocabulary
from vggbench.verdicts.train import final_runs, rows_of


def learning_curves(train: pd.DataFrame):
    """Test accuracy against optimizer steps, one panel per group of models and a line per variant: the mean
    over the runs that did not fail (by the final epoch's rule) with its 95% t interval as a band, held to 0..1.
    A variant whose every run failed is named under its panel's title instead, and a panel whose every run
    failed says so. None where the runs recorded one epoch."""
    needed = {"test_acc", "optimizer_steps", "epoch"}
    if not needed <= set(train.columns) or train["epoch"].nunique() < 2:
        return None
    recorded = train.dropna(subset=["test_acc", "optimizer_steps"])
    final = final_runs(train)
    survivors = final[~final["failed"]]
    variants = look.ordered(recorded["variant"])
    named = look.varying(recorded)
    groups = list(vocabulary.groups(recorded))
    figure, add = look.panels(len(groups))
    for index, (_, group) in enumerate(groups, start=1):
        drawn = rows_of(group, survivors)
        lost = ", ".join(variant for variant in look.ordered(group["variant"]) if variant not in set(drawn["variant"]))
        title = look.model_label(group.iloc[0], named)
        axes = add(index, f"{title}\nevery run failed: {lost}" if lost and not drawn.empty else title)
        if drawn.empty:
            look.say(axes, f"Every run failed ({lost}): no curve to draw.")
        for variant in look.ordered(drawn["variant"]):
            curve = drawn[drawn["variant"] == variant].groupby("optimizer_steps")["test_acc"].apply(stats.mean_interval)
            mean, low, high = (np.array(values) for values in zip(*curve, strict=True))
            colour, marker = look.style(variant, variants)
            band = look.clipped(low, 0, 1), look.clipped(high, 0, 1)
            axes.fill_between(curve.index, *band, color=colour, alpha=0.2, linewidth=0)
            axes.plot(curve.index, mean, color=colour, marker=marker, markersize=3, label=variant)
    return look.label_panels(figure, "optimizer steps", "test accuracy\n(mean over runs, 95% interval)")


FIGURES = (
    Figure.of_table(
        "learning_curves",
        "Learning curves",
        "Test accuracy against optimizer steps, per variant: the mean over the runs that did not fail, with "
        "its 95% t interval as a band (held to 0..1, the possible range); a panel per group of models.",
        "train",
        learning_curves,
    ),
)
