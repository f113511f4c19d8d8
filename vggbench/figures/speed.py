"""The speed kind's figure: images per second against the width ratio (or the architecture)."""

from __future__ import annotations

import math

import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure


def throughput_vs_ratio(speed: pd.DataFrame):
    """Images per second against width ratio: one panel per device and mode, one line per arch and variant;
    where the run has one width ratio, against the architecture instead (a line over one x value says nothing).

    Error bars span the 95% interval of the median step time (step_ms_ci_low..step_ms_ci_high), turned into
    images per second: positive, so that the log axis holds them whatever the spread. A table written before it
    had the interval draws its points without bars, and says so under the axis title.
    """
    if "img_per_s" not in speed or speed["img_per_s"].isna().all():
        return None
    table = speed.dropna(subset=["img_per_s"])
    table = table.assign(batch_norm=table.get("batch_norm", False))
    for end in ("step_ms_ci_low", "step_ms_ci_high"):
        table = table.assign(**{end: table.get(end, math.nan)})
    panels = list(table.groupby(["device_name", "mode"], sort=True))
    variants = look.ordered(table["variant"])
    archs = sorted(table["arch"].unique())
    by_arch = table["ratio"].nunique() == 1
    several_resolutions = table["resolution"].nunique() > 1
    figure = look.new_figure(4.6 * len(panels) + 1.6, 4.0)  # 1.6 in for the legend beside the panels
    for index, ((device_name, mode), rows) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        lines = rows.groupby(["arch", "variant", "resolution", "batch_norm"])
        keys = sorted(lines.groups, key=lambda key: (key[0], variants.index(key[1]), key[2], key[3]))
        for arch, variant, resolution, normed in keys:
            by_ratio = (
                lines.get_group((arch, variant, resolution, normed))
                .groupby("ratio", as_index=False)[["step_ms_median", "step_ms_ci_low", "step_ms_ci_high", "batch_size"]]
                .median()
            )
            to_img_per_s = 1000 * by_ratio["batch_size"]
            median = to_img_per_s / by_ratio["step_ms_median"]
            low, high = to_img_per_s / by_ratio["step_ms_ci_high"], to_img_per_s / by_ratio["step_ms_ci_low"]
            colour, marker = look.style(variant, variants)
            label = f"{variant}" if by_arch else f"{arch} {variant}"
            label += (" bn" if normed else "") + (f" {resolution}px" if several_resolutions else "")
            # One ratio: each arch is a place on the x axis, its variants side by side around it.
            offset = 0.12 * (variants.index(variant) - (len(variants) - 1) / 2)
            where = [archs.index(arch) + offset] if by_arch else by_ratio["ratio"]
            axes.errorbar(
                where,
                median,
                yerr=None if low.isna().all() else [median - low, high - median],
                color=colour,
                marker=marker,
                linestyle="none" if by_arch else look.ARCH_LINESTYLES[archs.index(arch) % len(look.ARCH_LINESTYLES)],
                capsize=3,
                label=label,
            )
        _label_throughput(axes, rows, archs if by_arch else None, f"{device_name}, {mode}")
        if rows["step_ms_ci_low"].isna().all():  # a bare point must not read as a measurement without spread
            axes.set_xlabel(f"{axes.get_xlabel()}\nno error bars: this speed table records no intervals")
    return look.legend_outside(figure)


def _label_throughput(axes, rows: pd.DataFrame, archs: list[str] | None, title: str) -> None:
    """The axes of one throughput panel: against the architectures `archs`, or (None) the width ratio."""
    batch = ", ".join(str(int(size)) for size in sorted(rows["batch_size"].unique()))
    axes.set_yscale("log")
    if archs:
        axes.set_xticks(range(len(archs)), labels=archs)
        axes.set_xlabel(f"architecture (width ratio {rows['ratio'].iloc[0]:g})")
    else:
        axes.set_xscale("log", base=2)
        ratios = sorted(rows["ratio"].unique())
        axes.set_xticks(ratios, labels=[f"{ratio:g}" for ratio in ratios])
        axes.set_xlabel("width ratio (channels divided by)")
    axes.set_ylabel("images per second (log scale)")
    axes.set_title(f"{title}, batch {batch}", fontsize=10)
    axes.grid(True, alpha=0.3)


FIGURES = (
    Figure.of_table(
        "throughput_vs_ratio",
        "Throughput against width ratio",
        "Throughput against width ratio, per device and mode; error bars span the 95% interval of the median step "
        "time.",
        "speed",
        throughput_vs_ratio,
    ),
)
