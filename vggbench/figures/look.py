"""The looks every figure shares, so that the same variant is drawn alike in each: its colour and marker, the
figure's size and layout, a model's label and grids of small panels.

matplotlib is used through `Figure` objects, never pyplot: no display, no global state.
"""

from __future__ import annotations

import pandas as pd

# Fixed looks per variant, so that stack is the same blue in every figure; other variants cycle.
VARIANT_STYLE = {
    "stack": ("#1f77b4", "o"),
    "single": ("#d62728", "s"),
    "linear-stack": ("#7f7f7f", "^"),
}
OTHER_STYLES = [("#2ca02c", "D"), ("#9467bd", "v"), ("#8c564b", "P"), ("#e377c2", "X")]
ARCH_LINESTYLES = ["-", "--", ":", "-."]
PANELS_PER_ROW = 3


def ordered(variants) -> list[str]:
    """Distinct variants, the known ones first in their usual order (stack, single, linear-stack)."""
    distinct = list(dict.fromkeys(variants))
    known = [name for name in VARIANT_STYLE if name in distinct]
    return known + [name for name in distinct if name not in VARIANT_STYLE]


def style(variant: str, variants: list[str]) -> tuple[str, str]:
    if variant in VARIANT_STYLE:
        return VARIANT_STYLE[variant]
    others = [name for name in variants if name not in VARIANT_STYLE]
    return OTHER_STYLES[others.index(variant) % len(OTHER_STYLES)]


def new_figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def model_label(row, several_resolutions: bool) -> str:
    normed = getattr(row, "batch_norm", False)  # NaN on a claim row that spans both (batch norm x variant)
    label = f"{row.arch} r{row.ratio}" + (" bn" if pd.notna(normed) and normed else "")
    return f"{label} {row.resolution}px" if several_resolutions else label


def panels(count: int):
    """A figure of `count` small panels, PANELS_PER_ROW to a row, and a function that adds the next with its
    title; the axis labels and the legend are the figure's (`label_panels`)."""
    columns = min(count, PANELS_PER_ROW)
    rows = -(-count // columns)
    figure = new_figure(3.4 * columns, 2.5 * rows)

    def add(index: int, title: str):
        axes = figure.add_subplot(rows, columns, index)
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        return axes

    return figure, add


def label_panels(figure, x_label: str, y_label: str):
    """One label per axis for the whole figure, and the first panel's legend for all (the panels alike)."""
    figure.supxlabel(x_label, fontsize=9)
    figure.supylabel(y_label, fontsize=9)
    figure.axes[0].legend(fontsize=6)
    return figure
