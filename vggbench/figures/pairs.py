"""The paired timings' figure: each time ratio with its bootstrap interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure


def time_ratios(pairs: pd.DataFrame):
    """Each paired timing's time ratio (variant over the stack, below 1: the variant is faster) with its 95%
    bootstrap interval, a row per model, mode and variant; rows whose interval missed the timing's target
    (stable false) are drawn hollow."""
    needed = {"time_ratio_median", "ci_low", "ci_high", "variant", "arch", "mode"}
    if pairs.empty or not needed <= set(pairs.columns) or pairs["time_ratio_median"].isna().all():
        return None
    rows = pairs.dropna(subset=["time_ratio_median"]).reset_index(drop=True)
    variants = look.ordered(["stack", *rows["variant"]])
    figure = look.new_figure(6.4, max(2.4, 1.0 + 0.22 * len(rows)))
    axes = figure.add_subplot()
    positions = np.arange(len(rows))[::-1]
    for position, row in zip(positions, rows.itertuples(), strict=True):
        colour, marker = look.style(row.variant, variants)
        hollow = getattr(row, "stable", True) is False
        axes.plot([row.ci_low, row.ci_high], [position, position], color=colour, lw=2)
        axes.plot(row.time_ratio_median, position, marker, color=colour, mfc="white" if hollow else colour)
    labels = [f"{row.arch} r{row.ratio:g} {row.resolution:g}px {row.mode}: {row.variant}" for row in rows.itertuples()]
    axes.set_yticks(positions, labels, fontsize=7)
    axes.axvline(1, color="black", lw=0.8)
    look.plain_log_ticks(axes)
    axes.set_xlabel("time per step, variant / stack (log; below 1: faster)")
    axes.set_ylim(-1, len(rows))
    axes.grid(True, axis="x", alpha=0.3)
    return figure


FIGURES = (
    Figure.of_table(
        "time_ratios",
        "Time ratios, paired",
        "Each paired timing: the variant's time per step over the stack's, with its 95% bootstrap interval "
        "over interleaved pairs; hollow markers missed the timing's precision target.",
        "pairs",
        time_ratios,
    ),
)
