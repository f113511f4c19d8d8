"""The looks every figure shares, so that the same variant is drawn alike in each: its colour and marker, the
figure's size and layout, a model's label and grids of small panels.

matplotlib is used through `Figure` objects, never pyplot: no display, no global state.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from vggbench.models.schema import BESIDE_MODEL, RECIPE, SCHEDULE, given

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


def varying(table: pd.DataFrame) -> set[str]:
    """The columns of BESIDE_MODEL that hold more than one value in `table`: the labels of its models name them."""
    return {column for column in BESIDE_MODEL if column in table and table[column].nunique() > 1}


def model_label(row, named=frozenset()) -> str:
    """'vgg11 r8 bn', with what `named` (from `varying`) says tells the drawn models apart: '32px', '15 ep',
    'tuned recipe'."""
    normed = getattr(row, "batch_norm", False)  # NaN on a claim row that spans both (batch norm x variant)
    parts = [f"{row.arch} r{row.ratio}" + (" bn" if pd.notna(normed) and normed else "")]
    parts += [f"{row.resolution}px"] if "resolution" in named else []
    schedule, recipe = getattr(row, SCHEDULE, None), getattr(row, RECIPE, None)
    parts += [f"{schedule:g} ep"] if SCHEDULE in named and given(schedule) else []
    parts += [f"{recipe} recipe"] if RECIPE in named and given(recipe) else []
    return " ".join(parts)


def panels(count: int):
    """A figure of `count` small panels, PANELS_PER_ROW to a row, and a function that adds the next with its
    title; the axis labels and the legend are the figure's (`label_panels`)."""
    columns = min(count, PANELS_PER_ROW)
    rows = -(-count // columns)
    figure = new_figure(3.4 * columns, 2.5 * rows)

    def add(index: int, title: str):
        axes = figure.add_subplot(rows, columns, index)
        # Lines of at most 44 characters: beside its neighbour's, a longer title would run into it.
        axes.set_title("\n".join(textwrap.fill(line, 44) for line in title.split("\n")), fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        return axes

    return figure, add


def label_panels(figure, x_label: str, y_label: str):
    """One label per axis for the whole figure (keep `y_label` short or break it: a one-row figure is 2.5 in
    tall), and one legend for all panels beside them."""
    figure.supxlabel(x_label, fontsize=9)
    figure.supylabel(y_label, fontsize=9)
    return legend_outside(figure)


def legend_outside(figure):
    """One legend for the whole figure, right of its panels so that it hides no data: each label once, in the
    order the panels first drew it."""
    handles = {}
    for axes in figure.axes:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        figure.legend(handles.values(), handles.keys(), loc="outside right upper", fontsize=7, frameon=False)
    return figure


def say(axes, sentence: str) -> None:
    """A panel left without data, its place taken by the sentence that says why (never an empty frame)."""
    axes.set_xticks([])
    axes.set_yticks([])
    axes.grid(False)
    # Lines of at most 28 characters stay inside the narrowest panel (an effective-field map's, 2 in at 8 pt).
    axes.text(0.5, 0.5, textwrap.fill(sentence, 28), transform=axes.transAxes, ha="center", va="center", fontsize=8)


def plain_log_ticks(axes) -> None:
    """The x axis of `axes` on a log scale, its ticks written as plain numbers (0.3, 2, 40) and the ticks between
    powers of ten labelled only as far as they fit: all of them over less than 0.4 of a decade, a few (2, 3, 4,
    6) over less than one, none over more (matplotlib's LogFormatter's rule)."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(Plain(labelOnlyBase=False))
    axes.xaxis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    axes.tick_params(axis="x", which="minor", labelsize=7)


def clipped(values, low: float, high: float):
    """`values` held to the possible range [low, high] (an accuracy to 0..1): an interval that runs past what
    can happen says no more than one that stops there, and draws an axis that misleads."""
    return np.clip(np.asarray(values, dtype=float), low, high)


# Where a point's label may go, in points from the point, tried in this order: right of it, then left, a line
# higher or lower each time; a label set off from its point keeps a thin line to it.
LABEL_OFFSETS_PT = [(side, rise) for rise in (0, 9, -9, 18, -18, 27, -27, 36, -36) for side in (6, -6)]


def label_points(axes, labels: list[tuple[str, float, float]]) -> None:
    """Each (text, x, y) of `labels` written beside its point at the first place (LABEL_OFFSETS_PT) where it stays
    inside the axes and overlaps no label written before it and no drawn marker or error bar; where none is free,
    at the place that overlaps least. The figure is laid out first: what overlaps is measured on the page."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = axes.figure
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    taken = _drawn_extents(axes, renderer)
    for text, x, y in labels:
        grey = {"arrowstyle": "-", "color": "#aaaaaa", "lw": 0.5, "shrinkA": 0, "shrinkB": 3}
        note = axes.annotate(
            text, (x, y), LABEL_OFFSETS_PT[0], textcoords="offset points", va="center", fontsize=7, arrowprops=grey
        )

        def place(offset, note=note):
            note.set_position(offset)
            note.set_horizontalalignment("left" if offset[0] > 0 else "right")
            return note.get_window_extent(renderer)

        costs = []
        for offset in LABEL_OFFSETS_PT:
            box = place(offset)
            beyond = box.width * box.height - _overlap(box, axes.bbox)  # the part outside the axes
            costs.append(beyond + sum(_overlap(box, other) for other in taken))
            if costs[-1] == 0:
                break
        taken.append(place(LABEL_OFFSETS_PT[costs.index(min(costs))]))


def _drawn_extents(axes, renderer) -> list:
    """The boxes of what `axes` has drawn that a label must not cover: each marker, and each error bar (a line,
    widened by a pixel on each side)."""
    from matplotlib.transforms import Bbox

    boxes = []
    for line in axes.lines:
        if line.get_marker() in (None, "", "None", "none"):
            continue
        half = line.get_markersize() / 2 * renderer.points_to_pixels(1)
        for x, y in line.get_transform().transform(line.get_xydata()):
            boxes.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    for collection in axes.collections:
        for segment in getattr(collection, "get_segments", list)():
            ends = collection.get_transform().transform(segment) if len(segment) else np.empty((0, 2))
            ends = ends[np.isfinite(ends).all(axis=1)]
            if not len(ends):  # a bar of no run left (a NaN spread, a lone failed seed) draws nothing
                continue
            boxes.append(Bbox.from_extents(*(ends.min(0) - 1), *(ends.max(0) + 1)))
    return boxes


def _overlap(one, other) -> float:
    width = min(one.x1, other.x1) - max(one.x0, other.x0)
    height = min(one.y1, other.y1) - max(one.y0, other.y0)
    return max(width, 0) * max(height, 0)
