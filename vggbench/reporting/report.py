"""Figures and one self-contained HTML page from a finished run directory.

`write(run_dir)` reads the tables that `vggbench run` wrote (summary, speed, blocks,
erf, claim, metadata) and the raw effective-receptive-field maps, draws each figure
as PNG and SVG into RUN_DIR/figures/, and writes RUN_DIR/report.html with a compact
copy of each PNG embedded (`embedded`), so that the page opens offline and can be
mailed as one file. A figure whose data the run does not have is left out, and the page
says so. The page opens with the answers: a sentence per part of the claim (`headline`)
and the verdicts by part and model, coloured (`verdict_grid`); its tables fit a 1280 px
window, the verdict first and the rest of each row behind its details.

matplotlib is used through `Figure` objects, never pyplot: no display, no global state.
"""

from __future__ import annotations

import base64
import html
import io
import json
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vggbench.engine.config import run_config
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import ERF_MAPS, FIGURES, REPORT, RunDir, erf_map_name, model_key
from vggbench.measure import noise
from vggbench.reporting import terminal
from vggbench.reporting.claim import EARLIER_BUDGETS, at_earlier_budget
from vggbench.stats import hypothesis as stats
from vggbench.util.csvio import read_map, write_bytes
from vggbench.util.validate import InputError
from vggbench.verdicts import padding, vocabulary
from vggbench.verdicts.train import final_runs, rows_of
from vggbench.verdicts.vocabulary import ACCURACY, EARLIER, NON_LINEARITY, PRIMARY, STACK

# Fixed looks per variant, so that stack is the same blue in every figure; other variants cycle.
VARIANT_STYLE = {
    "stack": ("#1f77b4", "o"),
    "single": ("#d62728", "s"),
    "linear-stack": ("#7f7f7f", "^"),
}
OTHER_STYLES = [("#2ca02c", "D"), ("#9467bd", "v"), ("#8c564b", "P"), ("#e377c2", "X")]
ARCH_LINESTYLES = ["-", "--", ":", "-."]
ERF_STATES = ("untrained", "trained")
PANELS_PER_ROW = 3
SVG_METADATA = {"Date": None}  # no timestamp: with fixed ids, the same run draws the same SVG


def _ordered(variants) -> list[str]:
    """Distinct variants, the known ones first in their usual order (stack, single, linear-stack)."""
    distinct = list(dict.fromkeys(variants))
    known = [name for name in VARIANT_STYLE if name in distinct]
    return known + [name for name in distinct if name not in VARIANT_STYLE]


def _style(variant: str, variants: list[str]) -> tuple[str, str]:
    if variant in VARIANT_STYLE:
        return VARIANT_STYLE[variant]
    others = [name for name in variants if name not in VARIANT_STYLE]
    return OTHER_STYLES[others.index(variant) % len(OTHER_STYLES)]


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def _model_label(row, several_resolutions: bool) -> str:
    normed = getattr(row, "batch_norm", False)  # NaN on a claim row that spans both (batch norm x variant)
    label = f"{row.arch} r{row.ratio}" + (" bn" if pd.notna(normed) and normed else "")
    return f"{label} {row.resolution}px" if several_resolutions else label


def accuracy_vs_macs(summary: pd.DataFrame):
    """Final test accuracy (mean, error bar one std over seeds) against MACs per image, one marker per variant."""
    if not {"test_acc_mean", "macs"} <= set(summary.columns) or summary["test_acc_mean"].isna().all():
        return None  # no accuracy, or no static counts (a run without the static kind)
    table = summary.dropna(subset=["test_acc_mean"])
    variants = _ordered(table["variant"])
    several_resolutions = table["resolution"].nunique() > 1
    figure = _figure(6.4, 4.2)
    axes = figure.add_subplot()
    for variant in variants:
        rows = table[table["variant"] == variant]
        colour, marker = _style(variant, variants)
        axes.errorbar(
            rows["macs"] / 1e6,
            rows["test_acc_mean"],
            yerr=rows["test_acc_std"].fillna(0),
            fmt=marker,
            color=colour,
            capsize=3,
            label=variant,
        )
        for row in rows.itertuples():
            axes.annotate(
                _model_label(row, several_resolutions),
                (row.macs / 1e6, row.test_acc_mean),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=7,
                color=colour,
            )
    seeds = ", ".join(str(int(count)) for count in sorted(table["seeds"].unique()))
    epochs = ", ".join(str(int(count)) for count in sorted(table["epochs"].unique()))
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter("{x:g}")
    axes.xaxis.set_minor_formatter("{x:g}")
    axes.tick_params(axis="x", which="minor", labelsize=7)
    axes.set_xlabel("MACs per image (millions, log scale)")
    axes.set_ylabel(f"final test accuracy\n(mean ± std over {seeds} seeds)")
    axes.set_title(f"Accuracy against compute after {epochs} epoch(s)")
    axes.grid(True, alpha=0.3)
    axes.legend(title="variant")
    return figure


def throughput_vs_ratio(speed: pd.DataFrame):
    """Images per second against width ratio: one panel per device and mode, one line per arch and variant;
    where the run has one width ratio, against the architecture instead (a line over one x value says nothing).

    Error bars span the step time's interquartile range, turned into images per second.
    """
    if "img_per_s" not in speed or speed["img_per_s"].isna().all():
        return None
    table = speed.dropna(subset=["img_per_s"])
    table = table.assign(batch_norm=table.get("batch_norm", False))
    panels = list(table.groupby(["device_name", "mode"], sort=True))
    variants = _ordered(table["variant"])
    archs = sorted(table["arch"].unique())
    by_arch = table["ratio"].nunique() == 1
    several_resolutions = table["resolution"].nunique() > 1
    figure = _figure(4.6 * len(panels), 4.0)
    for index, ((device_name, mode), rows) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        lines = rows.groupby(["arch", "variant", "resolution", "batch_norm"])
        keys = sorted(lines.groups, key=lambda key: (key[0], variants.index(key[1]), key[2], key[3]))
        for arch, variant, resolution, normed in keys:
            by_ratio = (
                lines.get_group((arch, variant, resolution, normed))
                .groupby("ratio", as_index=False)[["step_ms_median", "step_ms_iqr", "batch_size"]]
                .median()
            )
            to_img_per_s = 1000 * by_ratio["batch_size"]
            median = to_img_per_s / by_ratio["step_ms_median"]
            low = to_img_per_s / (by_ratio["step_ms_median"] + by_ratio["step_ms_iqr"] / 2)
            high = to_img_per_s / (by_ratio["step_ms_median"] - by_ratio["step_ms_iqr"] / 2).clip(lower=1e-9)
            colour, marker = _style(variant, variants)
            label = f"{variant}" if by_arch else f"{arch} {variant}"
            label += (" bn" if normed else "") + (f" {resolution}px" if several_resolutions else "")
            # One ratio: each arch is a place on the x axis, its variants side by side around it.
            offset = 0.12 * (variants.index(variant) - (len(variants) - 1) / 2)
            where = [archs.index(arch) + offset] if by_arch else by_ratio["ratio"]
            axes.errorbar(
                where,
                median,
                yerr=[median - low, high - median],
                color=colour,
                marker=marker,
                linestyle="none" if by_arch else ARCH_LINESTYLES[archs.index(arch) % len(ARCH_LINESTYLES)],
                capsize=3,
                label=label if not by_arch or arch == archs[0] else None,
            )
        _label_throughput(axes, rows, archs if by_arch else None, f"{device_name}, {mode}")
    return figure


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
    axes.legend(fontsize=7)


def time_ratios(pairs: pd.DataFrame):
    """Each paired timing's time ratio (variant over the stack, below 1: the variant is faster) with its 95%
    bootstrap interval, a row per model, mode and variant; rows whose interval missed the timing's target
    (stable false) are drawn hollow."""
    needed = {"time_ratio_median", "ci_low", "ci_high", "variant", "arch", "mode"}
    if pairs.empty or not needed <= set(pairs.columns) or pairs["time_ratio_median"].isna().all():
        return None
    rows = pairs.dropna(subset=["time_ratio_median"]).reset_index(drop=True)
    variants = _ordered(["stack", *rows["variant"]])
    figure = _figure(6.4, max(2.4, 1.0 + 0.22 * len(rows)))
    axes = figure.add_subplot()
    positions = np.arange(len(rows))[::-1]
    for position, row in zip(positions, rows.itertuples(), strict=True):
        colour, marker = _style(row.variant, variants)
        hollow = getattr(row, "stable", True) is False
        axes.plot([row.ci_low, row.ci_high], [position, position], color=colour, lw=2)
        axes.plot(row.time_ratio_median, position, marker, color=colour, mfc="white" if hollow else colour)
    labels = [f"{row.arch} r{row.ratio:g} {row.resolution:g}px {row.mode}: {row.variant}" for row in rows.itertuples()]
    axes.set_yticks(positions, labels, fontsize=7)
    axes.axvline(1, color="black", lw=0.8)
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter("{x:g}")
    axes.xaxis.set_minor_formatter("{x:g}")
    axes.tick_params(axis="x", which="minor", labelsize=7)
    axes.set_xlabel("time per step, variant / stack (log; below 1: faster)")
    axes.set_ylim(-1, len(rows))
    axes.grid(True, axis="x", alpha=0.3)
    return figure


def block_ratios(blocks: pd.DataFrame):
    """Per block, stack over single for parameters and MACs; below 1 the stack is cheaper.

    The marker is the ratio the textbook arithmetic gives (a block whose convs all have
    C inputs and C outputs, e.g. 18/25 for two 3x3 against one 5x5).
    """
    if blocks.empty or not {"variant", "params_vs_stack", "block"} <= set(blocks.columns):
        return None
    single = blocks[blocks["variant"] == "single"]
    single = single.assign(batch_norm=single.get("batch_norm", False))
    single = single.drop_duplicates(subset=["arch", "ratio", "batch_norm", "block"])
    if single.empty:
        return None
    panels = list(single.groupby(["arch", "ratio", "batch_norm"], sort=True))
    columns = min(len(panels), PANELS_PER_ROW)
    grid_rows = -(-len(panels) // columns)
    figure = _figure(max(4.0, 1.1 * single["block"].max()) * columns, 4.0 * grid_rows)
    for index, ((arch, ratio, normed), rows) in enumerate(panels, start=1):
        axes = figure.add_subplot(grid_rows, columns, index)
        positions = np.arange(len(rows))
        width = 0.38
        axes.bar(positions - width / 2, 1 / rows["params_vs_stack"], width, label="parameters", color="#1f77b4")
        axes.bar(positions + width / 2, 1 / rows["macs_vs_stack"], width, label="MACs", color="#ff7f0e")
        axes.plot(
            positions,
            1 / rows["params_vs_stack_if_in_eq_out"],
            "k_",
            markersize=22,
            markeredgewidth=2,
            label="if in = out channels",
        )
        axes.axhline(1, color="black", linewidth=0.8)
        axes.set_xticks(positions, labels=[_block_label(row) for row in rows.itertuples()], fontsize=7)
        axes.set_ylabel("stack / single")
        axes.set_title(f"{arch}, width ratio {ratio}" + (", batch norm" if normed else ""), fontsize=10)
        axes.legend(fontsize=7, loc="lower left")
    return figure


def _panels(count: int):
    """A figure of `count` small panels, PANELS_PER_ROW to a row, and a function that adds the next with its
    title; the axis labels and the legend are the figure's (`_label_panels`)."""
    columns = min(count, PANELS_PER_ROW)
    rows = -(-count // columns)
    figure = _figure(3.4 * columns, 2.5 * rows)

    def add(index: int, title: str):
        axes = figure.add_subplot(rows, columns, index)
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(True, alpha=0.3)
        return axes

    return figure, add


def _label_panels(figure, x_label: str, y_label: str):
    """One label per axis for the whole figure, and the first panel's legend for all (the panels alike)."""
    figure.supxlabel(x_label, fontsize=9)
    figure.supylabel(y_label, fontsize=9)
    figure.axes[0].legend(fontsize=6)
    return figure


def accuracy_budgets(claims: pd.DataFrame):
    """The stack's accuracy difference from each rival, in points, against optimizer steps, one panel per
    comparison: each budget's claim row (the earlier budgets' and the final one) with its 95% interval as a
    band, the equivalence margin shaded and zero marked. None without rows at earlier budgets."""
    if claims.empty or "optimizer_steps" not in claims or not at_earlier_budget(claims).any():
        return None
    final = claims["claim"].isin([ACCURACY, NON_LINEARITY]) & (claims["analysis"] == PRIMARY)
    rows = claims[final | at_earlier_budget(claims)].dropna(subset=["optimizer_steps"])
    keys = [key for key in ("arch", "ratio", "resolution", "batch_norm", "baseline") if key in rows]
    panels = [panel.sort_values("optimizer_steps") for _, panel in rows.groupby(keys, sort=False, dropna=False)]
    several_resolutions = rows["resolution"].nunique() > 1
    variants = _ordered(rows["baseline"])
    figure, add = _panels(len(panels))
    for index, panel in enumerate(panels, start=1):
        first, steps = panel.iloc[0], panel["optimizer_steps"]
        axes = add(index, f"{_model_label(first, several_resolutions)}: stack - {first['baseline']}")
        colour, marker = _style(first["baseline"], variants)
        margin = 100 * panel["margin"].max()
        axes.axhspan(-margin, margin, color="#d9e6f7", linewidth=0, label=f"±{margin:g} points: equivalent")
        axes.axhline(0, color="black", linewidth=0.8)
        band = (100 * panel["ci_low"], 100 * panel["ci_high"])
        axes.fill_between(steps, *band, color=colour, alpha=0.25, linewidth=0, label="95% interval")
        axes.plot(steps, 100 * panel["difference"], color=colour, marker=marker, markersize=4, label="stack - rival")
    return _label_panels(figure, "optimizer steps", "test accuracy, stack - rival (points)")


def learning_curves(train: pd.DataFrame):
    """Test accuracy against optimizer steps, one panel per group of models and a line per variant: the mean
    over the runs that did not fail (by the final epoch's rule) with its 95% t interval as a band. None where
    the runs recorded one epoch."""
    needed = {"test_acc", "optimizer_steps", "epoch"}
    if not needed <= set(train.columns) or train["epoch"].nunique() < 2:
        return None
    final = final_runs(train)
    recorded = rows_of(train.dropna(subset=["test_acc", "optimizer_steps"]), final[~final["failed"]])
    groups = list(vocabulary.groups(recorded))
    variants = _ordered(recorded["variant"])
    several_resolutions = recorded["resolution"].nunique() > 1
    figure, add = _panels(len(groups))
    for index, (_, group) in enumerate(groups, start=1):
        axes = add(index, _model_label(group.iloc[0], several_resolutions))
        for variant in _ordered(group["variant"]):
            curve = group[group["variant"] == variant].groupby("optimizer_steps")["test_acc"].apply(stats.mean_interval)
            mean, low, high = (np.array(values) for values in zip(*curve, strict=True))
            colour, marker = _style(variant, variants)
            axes.fill_between(curve.index, low, high, color=colour, alpha=0.2, linewidth=0)
            axes.plot(curve.index, mean, color=colour, marker=marker, markersize=3, label=variant)
    return _label_panels(figure, "optimizer steps", "test accuracy (mean over runs, 95% interval)")


def _block_label(row) -> str:
    """'block 3', what replaces what ('2x 3x3 | 5x5'), and the channels in and out."""
    replaced = f"{row.num_convs}x {row.kernel}x{row.kernel} | {row.kernels_px}x{row.kernels_px}"
    return "\n".join(
        [
            f"block {row.block}",
            replaced if row.num_convs > 1 else "1 conv",
            f"{row.block_in_channels}→{row.block_out_channels} ch",
        ]
    )


@dataclass(frozen=True)
class ErfPanel:
    title: str
    contribution: np.ndarray
    centre_px: float
    side_t50: int
    side_t99: int


def erf_maps(erf: pd.DataFrame, maps: Path, variants: list[str]):
    """Contribution maps side by side: one row per model, one column per variant and state.

    Colour follows the square root of the contribution, each map scaled to its own maximum;
    the dashed and dotted squares hold 50% and 99% of it.
    """
    if erf.empty or "erf_side_t50" not in erf:
        return None
    rows: list[list[ErfPanel | None]] = []
    erf = erf.assign(batch_norm=erf.get("batch_norm", False))
    for (arch, ratio, resolution, normed), group in erf.dropna(subset=["erf_side_t50"]).groupby(
        ["arch", "ratio", "resolution", "batch_norm"], sort=True
    ):
        row = []
        for state in ERF_STATES:
            for variant in variants:
                match = group[(group["variant"] == variant) & (group["trained"] == (state == "trained"))]
                path = maps / erf_map_name(model_key(arch, variant, ratio, resolution, normed), state)
                if match.empty or not path.is_file():
                    row.append(None)
                    continue
                measured = match.iloc[0]
                shown = f"{measured.get('erf_resolution', resolution):.0f}"
                row.append(
                    ErfPanel(
                        f"{arch} r{ratio}{' bn' if normed else ''}, {shown} px\n{variant}, {state}",
                        read_map(path, follow=False),
                        float(measured["centre_px"]),
                        int(measured["erf_side_t50"]),
                        int(measured["erf_side_t99"]),
                    )
                )
        if any(row):
            rows.append(row)
    if not rows:
        return None
    return _draw_erf_grid(rows)


def _draw_erf_grid(rows: list[list[ErfPanel | None]]):
    from matplotlib.colors import PowerNorm
    from matplotlib.patches import Rectangle

    columns = len(rows[0])
    figure = _figure(2.0 * columns, 2.3 * len(rows))
    for row_index, row in enumerate(rows):
        for column_index, panel in enumerate(row):
            axes = figure.add_subplot(len(rows), columns, row_index * columns + column_index + 1)
            axes.set_xticks([])
            axes.set_yticks([])
            if panel is None:
                axes.set_axis_off()
                continue
            peak = panel.contribution.max()
            axes.imshow(panel.contribution, cmap="magma", norm=PowerNorm(0.5, vmin=0, vmax=peak if peak > 0 else 1))
            for side, linestyle in ((panel.side_t50, "--"), (panel.side_t99, ":")):
                corner = panel.centre_px - side / 2
                axes.add_patch(Rectangle((corner, corner), side, side, fill=False, color="white", linestyle=linestyle))
            axes.set_title(f"{panel.title}\n50%: {panel.side_t50} px, 99%: {panel.side_t99} px", fontsize=7)
    return figure


# The families a forest plot shows: their claims, and the unit their differences are drawn in (x 100).
FOREST_PARTS = (
    (("higher accuracy", "more non-linearity helps"), "stack - rival, test accuracy (points)"),
    (("same effective receptive field",), "stack - rival, share of the image holding half the gradient (points)"),
)
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
    figure = _figure(7.5, 1.2 + 0.22 * sum(len(rows) for rows, _ in parts) + 0.6 * len(parts))
    grid = figure.add_gridspec(len(parts), 1, height_ratios=[len(rows) + 2 for rows, _ in parts])
    for index, (rows, unit) in enumerate(parts):
        axes = figure.add_subplot(grid[index])
        candidates = [c for c in ("arch", "ratio", "resolution", "batch_norm", "mode") if c in rows]
        varying = [column for column in candidates if rows[column].nunique(dropna=False) > 1]
        positions = np.arange(len(rows))[::-1]
        margin = 100 * rows["margin"].dropna().max()
        axes.axvspan(-margin, margin, color="#dddddd", alpha=0.6, lw=0)
        axes.axvline(0, color="black", lw=0.8)
        for position, row in zip(positions, (row for _, row in rows.iterrows()), strict=True):
            colour = VERDICT_COLOURS.get(row["verdict"], "#7f7f7f")
            low, high = 100 * row["ci_low"], 100 * row["ci_high"]
            axes.plot([low, high], [position, position], color=colour, lw=2, solid_capstyle="butt")
            axes.plot(100 * row["difference"], position, "o", color=colour, ms=5)
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


@dataclass(frozen=True)
class Drawn:
    name: str
    title: str
    caption: str
    png: Path | None  # None: the run has no data for this figure


# Each figure's title and caption, in the page's order.
FIGURE_TEXT = {
    "forest": (
        "Every comparison, difference and interval",
        "Each primary comparison of the stack with a rival, condition by condition: the difference "
        "(stack - rival, x 100) with its 95% interval, coloured by its verdict; the shaded band is the "
        "equivalence margin. Top: accuracy; below: the effective field (a smaller share is a smaller field).",
    ),
    "accuracy_vs_macs": (
        "Accuracy against compute",
        "Final test accuracy against MACs per image; error bars are one standard deviation over seeds.",
    ),
    "throughput_vs_ratio": (
        "Throughput against width ratio",
        "Throughput against width ratio, per device and mode; error bars span the step time's interquartile range.",
    ),
    "time_ratios": (
        "Time ratios, paired",
        "Each paired timing: the variant's time per step over the stack's, with its 95% bootstrap interval "
        "over interleaved pairs; hollow markers missed the timing's precision target.",
    ),
    "block_ratios": (
        "Parameters and MACs, block by block",
        "Stack over single kernel, block by block, for parameters and MACs; the black mark is the "
        "textbook ratio for a block with as many input as output channels.",
    ),
    "accuracy_budgets": (
        "Accuracy difference against the training budget",
        "The stack's test accuracy minus each rival's, in points, against optimizer steps: each budget's row "
        "of claim.csv (the earlier budgets' and the final one), its 95% interval as a band; the pale blue band "
        "is the equivalence margin.",
    ),
    "learning_curves": (
        "Learning curves",
        "Test accuracy against optimizer steps, per variant: the mean over the runs that did not fail, with "
        "its 95% t interval as a band; a panel per group of models.",
    ),
    "erf_maps": (
        "Effective receptive field",
        "Effective receptive field: the clamped input gradient of the central unit, untrained and "
        "trained. Colour follows its square root; dashed and dotted squares hold 50% and 99% of it.",
    ),
}


def _plans(directory: RunDir) -> list[tuple[str, str, str, Callable[[], object]]]:
    """Each figure's name, title and caption, and how to draw it from the run's tables."""
    config = run_config(directory, missing_ok=True)
    erf = directory.table("erf")
    variants = config.get("variants") or list(dict.fromkeys(erf.get("variant", [])))
    drawers = {
        "forest": lambda: forest(directory.table("claim")),
        "accuracy_vs_macs": lambda: accuracy_vs_macs(directory.table("summary")),
        "throughput_vs_ratio": lambda: throughput_vs_ratio(directory.table("speed")),
        "time_ratios": lambda: time_ratios(directory.table("pairs")),
        "block_ratios": lambda: block_ratios(directory.table("blocks")),
        "accuracy_budgets": lambda: accuracy_budgets(directory.table("claim")),
        "learning_curves": lambda: learning_curves(directory.table("train")),
        "erf_maps": lambda: erf_maps(erf, directory.own(ERF_MAPS), variants),
    }
    return [(name, *FIGURE_TEXT[name], drawers[name]) for name in FIGURE_TEXT]


def _save(figure, path: Path, **options) -> None:
    """The figure written as every output is: atomically, and only as a regular file (csvio)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix[1:], **options)
    write_bytes(path, buffer.getvalue())


def draw(directory: RunDir) -> list[Drawn]:
    """Every figure of the run in RUN_DIR/figures/ as PNG and SVG."""
    from matplotlib import rc_context

    folder = directory.path(FIGURES)
    folder.mkdir(exist_ok=True)
    drawn = []
    for name, title, caption, make in _plans(directory):
        figure = make()
        if figure is None:  # nothing to draw: no figure of an earlier run left behind
            for suffix in (".png", ".svg"):
                stale = folder / f"{name}{suffix}"
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            drawn.append(Drawn(name, title, caption, None))
            continue
        _save(figure, folder / f"{name}.png", dpi=120)
        with rc_context({"svg.hashsalt": "vggbench"}):  # fixed element ids
            _save(figure, folder / f"{name}.svg", metadata=SVG_METADATA)
        drawn.append(Drawn(name, title, caption, folder / f"{name}.png"))
    return drawn


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.8em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
td { max-width: 32em; overflow-wrap: anywhere; }
.supported { background: #d9f2d9; } .contradicted { background: #f8d7d7; } .inconclusive { background: #f3f3d0; }
.equivalent { background: #d9e6f7; } .not-reproduced { background: #eeeeee; }
ul.headline { font-size: 1.05em; line-height: 1.5; padding-left: 1.2em; }
ul.headline .claimed { color: #555; font-size: 0.9em; }
table.grid td { text-align: center; padding: 0; }
table.grid td > div { padding: 0.15em 0.5em; white-space: nowrap; }
table.grid td > div + div { border-top: 1px solid #fff; }
table.grid th { text-align: center; } table.grid th.part, table.grid th.text { text-align: left; }
table.grid th.part { font-weight: normal; }
span.chip { padding: 0.1em 0.5em; margin-right: 0.4em; white-space: nowrap; }
details > summary { cursor: pointer; color: #35a; white-space: nowrap; }
details dl { text-align: left; margin: 0.3em 0; max-width: 36em; white-space: normal; }
details dt { font-weight: 600; } details dd { margin: 0 0 0.3em 1em; }
figure { margin: 2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
div.wide { overflow-x: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


# Each verdict word (vocabulary.vocabulary) and the class that colours its cell; the order the page counts them in.
VERDICT_STYLES = {word: word for word in ("supported", "equivalent", "contradicted", "inconclusive")}
VERDICT_STYLES["not reproduced on this device"] = "not-reproduced"
SHORT_VERDICTS = {"not reproduced on this device": "not reproduced"}
# What each part of the claim says, for the headline.
CLAIMED = {
    "fewer parameters": "the 3x3 stack has fewer parameters than the large kernel",
    "fewer MACs": "the stack takes fewer multiply-adds per image",
    "same effective receptive field": "the stack's effective field is as large as the rival's, within the margin",
    "higher accuracy": "the stack is more accurate than each large-kernel rival",
    "more non-linearity helps": "the stack is more accurate than the same stack without its inner ReLUs",
    "trains reliably": "the stack fails no more often than the rival",
    "faster": "the stack's steps take less time than the rival's",
    "3x3 is the densest": "3x3 convolutions do more work per second than larger kernels",
}
LISTED = 3  # a verdict given to this many comparisons or fewer names them in the headline


def _html_table(table: pd.DataFrame) -> str:
    text = table.to_html(index=False, na_rep="", float_format=lambda value: f"{value:.4g}", border=0)
    for verdict, style in VERDICT_STYLES.items():
        text = text.replace(f"<td>{verdict}</td>", f'<td class="{style}">{verdict}</td>')
    return text


def _cell(value, numeric: bool | None = None, style: str = "") -> str:
    """One <td>: numbers in human units (terminal.human) aligned right, text aligned left."""
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool) if numeric is None else numeric
    shown = terminal.human(value) if isinstance(value, numbers.Real) else ("" if value is None else str(value))
    classes = " ".join(filter(None, [style, "" if numeric else "text"]))
    return f'<td class="{classes}">{html.escape(shown)}</td>' if classes else f"<td>{html.escape(shown)}</td>"


def _rows_table(header: list[str], rows: list[list[str]], numeric_headers=()) -> str:
    """A table from cells already made (each a <td>), with its header (aligned as its cells)."""
    head = "".join(
        f"<th>{html.escape(name)}</th>" if name in numeric_headers else f'<th class="text">{html.escape(name)}</th>'
        for name in header
    )
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _primary(claims: pd.DataFrame) -> pd.DataFrame:
    """The rows the verdicts count: primary, not at an earlier budget."""
    if claims.empty or "analysis" not in claims:
        return claims
    return claims[(claims["analysis"] == PRIMARY) & ~at_earlier_budget(claims)]


def _several(claims: pd.DataFrame, column: str) -> bool:
    return column in claims and claims[column].nunique() > 1


def _model(row, several_resolutions: bool) -> str:
    """'vgg11 r8' (with the resolution where the run has several, and bn); '' for a row of no model."""
    if terminal.is_missing(row.get("arch")):
        return ""
    label = f"{row['arch']} r{row['ratio']:g}"
    if several_resolutions and not terminal.is_missing(row.get("resolution")):
        label += f" {row['resolution']:g}px"
    normed = row.get("batch_norm")
    return label + (" bn" if not terminal.is_missing(normed) and bool(normed) else "")


def _where(row) -> str:
    """Where a row was measured: device and mode ('cpu infer', 'untrained', 'cpu 32 channels, 14 px')."""
    return " ".join(str(row[key]) for key in ("device", "mode") if not terminal.is_missing(row.get(key)))


def _condition(row, several_resolutions: bool) -> str:
    budget = ""
    if str(row.get("claim", "")).endswith(EARLIER) and not terminal.is_missing(row.get("epoch")):
        steps = row.get("optimizer_steps")
        budget = f"epoch {row['epoch']:g}" + ("" if terminal.is_missing(steps) else f" ({steps:,.0f} steps)")
    return " ".join(filter(None, [_model(row, several_resolutions), _where(row), budget]))


def _verdict_phrase(counts: list[tuple[str, list[str]]], total: int) -> str:
    """'supported in all 3 comparisons', or 'contradicted in 2 of 6 comparisons (vgg11 r8, vgg13 r8),
    inconclusive in 4'."""
    noun = "comparison" if total == 1 else "comparisons"
    if len(counts) == 1:
        verdict = counts[0][0]
        return f"{verdict} in the one comparison" if total == 1 else f"{verdict} in all {total} {noun}"
    parts = []
    for index, (verdict, where) in enumerate(counts):
        named = f" ({', '.join(where)})" if len(where) <= LISTED else ""
        of = f" of {total} {noun}" if index == 0 else ""
        parts.append(f"{verdict} in {len(where)}{of}{named}")
    return ", ".join(parts)


def headline(claims: pd.DataFrame) -> list[str]:
    """One sentence per part of the claim that has verdicts, from its primary rows (HTML): the part, what it
    claims, and its verdicts counted, the comparisons of the rarer verdicts named; then the parts without a
    verdict, and the accuracy at earlier budgets (their own family)."""
    primary = _primary(claims)
    if primary.empty:
        return []
    several = _several(claims, "resolution")
    sentences = []
    silent = []
    for claim, rows in primary.groupby("claim", sort=False):
        judged = rows.dropna(subset=["verdict"])
        if judged.empty:
            silent.append(f"{claim} ({len(rows)} row{'s' if len(rows) > 1 else ''})")
            continue
        several_rivals = judged["baseline"].nunique() > 1
        where = {}
        for _, row in judged.iterrows():
            label = _condition(row, several) or "this run"
            label += f" vs {row['baseline']}" if several_rivals else ""
            where.setdefault(row["verdict"], []).append(label)
        order = [verdict for verdict in VERDICT_STYLES if verdict in where]
        order += [verdict for verdict in where if verdict not in VERDICT_STYLES]
        counts = [(verdict, where[verdict]) for verdict in order]  # decided first: supported, ..., inconclusive
        claimed = CLAIMED.get(claim)
        sentences.append(
            f"<strong>{html.escape(claim[0].upper() + claim[1:])}</strong>"
            + (f' <span class="claimed">({html.escape(claimed)})</span>' if claimed else "")
            + f": {html.escape(_verdict_phrase(counts, len(judged)))}."
        )
    if silent:
        sentences.append(f"No verdict, numbers only: {html.escape(', '.join(silent))}.")
    earlier = claims[at_earlier_budget(claims) & (claims["analysis"] == PRIMARY)].dropna(subset=["verdict"])
    if not earlier.empty:
        counts = earlier["verdict"].value_counts()
        said = ", ".join(f"{verdict} {count}" for verdict, count in counts.items())
        sentences.append(
            f"At earlier budgets (their own Holm family, in the figure and tables below): {html.escape(said)}."
        )
    return sentences


def _grid_key(row, several_resolutions: bool, several_rivals: bool) -> tuple[str, str, str]:
    """Where a verdict goes in the summary grid: its row (the part, with the rival where a part has several),
    its column (the model, or 'kernels alone' for a row of no model) and its label inside the cell."""
    model = _model(row, several_resolutions)
    part = row["claim"] + (f" vs {row['baseline']}" if model and several_rivals else "")
    inside = _where(row) + ("" if model else f" vs {row['baseline']}")
    return part, model or "kernels alone", inside.strip()


def verdict_grid(claims: pd.DataFrame) -> str:
    """Parts of the claim (rows) by models (columns), each cell coloured by its verdict; a cell holds one
    verdict per device and mode where the part is measured in several. Primary rows with a verdict only."""
    primary = _primary(claims)
    judged = primary.dropna(subset=["verdict"]) if not primary.empty else primary
    if judged.empty:
        return ""
    several = _several(claims, "resolution")
    rivals = judged.groupby("claim")["baseline"].nunique()
    cells: dict[tuple[str, str], list[tuple[str, str]]] = {}
    parts, models = [], []
    for _, row in judged.iterrows():
        part, model, inside = _grid_key(row, several, rivals[row["claim"]] > 1)
        parts += [part] if part not in parts else []
        models += [model] if model not in models else []
        cells.setdefault((part, model), []).append((inside, row["verdict"]))
    head = '<th class="text">part of the claim</th>' + "".join(f"<th>{html.escape(model)}</th>" for model in models)
    body = []
    for part in parts:
        row = [f'<th class="part">{html.escape(part)}</th>']
        for model in models:
            entries = cells.get((part, model), [])
            inner = "".join(
                f'<div class="{VERDICT_STYLES.get(verdict, "")}" title="{html.escape(verdict)}">'
                f"{html.escape((f'{inside}: ' if inside else '') + SHORT_VERDICTS.get(verdict, verdict))}</div>"
                for inside, verdict in entries
            )
            single = VERDICT_STYLES.get(entries[0][1], "") if len(entries) == 1 else ""
            row.append(f'<td class="{single}">{inner}</td>' if single else f"<td>{inner}</td>")  # a row's full height
        body.append(f"<tr>{''.join(row)}</tr>")
    legend = " ".join(
        f'<span class="chip {style}">{html.escape(word)}</span>' for word, style in VERDICT_STYLES.items()
    )
    return (
        f'<div class="wide"><table class="grid" id="verdict-grid"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div><p>{legend}</p>"
    )


def _run_span(metadata: dict) -> str:
    """When the run ran: from its first sitting's start to its end, with the sittings and their commits where
    it was resumed."""
    sittings = [sitting for sitting in metadata.get("sittings") or [] if isinstance(sitting, dict)]
    if len(sittings) < 2:
        return f"Run from {metadata.get('started')} to {metadata.get('ended')}"
    commits = dict.fromkeys(str(sitting.get("git_commit"))[:7] for sitting in sittings)
    return (
        f"Run from {sittings[0].get('started')} to {metadata.get('ended')} in {len(sittings)} sittings "
        f"(commits {', '.join(commits)}; the last from {metadata.get('started')})"
    )


def _glance_section(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return ["<h2>The claim at a glance</h2>", "<p>No claim table: run `vggbench claim RUN_DIR` first.</p>"]
    sentences = headline(claims)
    flagged = padding.sentence(claims)
    return [
        "<h2>The claim at a glance</h2>",
        '<ul class="headline" id="headline">',
        *(f"<li>{sentence}</li>" for sentence in sentences),
        "</ul>",
        "<p>Each primary comparison's verdict, by part and model (sensitivity rows and earlier budgets are in the "
        "tables below; a cell's colour is its verdict):</p>",
        verdict_grid(claims),
        *([f"<p>{html.escape(flagged)}</p>"] if flagged else []),
    ]


def _failure_list(failures: pd.DataFrame) -> list[str]:
    if failures.empty:
        return []
    retry = "<p>The verdicts go without them; rerunning <code>vggbench run</code> with this folder retries them.</p>"
    return [f"<h2>{len(failures)} failed trial(s)</h2>", retry, _html_table(failures[["kind", "trial", "error"]])]


# The columns of a claim row shown behind its details, in this order (those the row fills).
DETAILS = (
    "p_value",
    "p_value_holm",
    "tost_p",
    "tost_p_holm",
    "margin",
    "hedges_g",
    "cohens_dz",
    "mde",
    "seeds_variant",
    "seeds_baseline",
    "failed_variant",
    "failed_baseline",
    "design",
    "look",
    "looks",
    "nominal_level",
    "equivalence_level",
    "baseline_value",
    "variant_value",
    "ratio_value",
    "difference",
    "ci_low",
    "ci_high",
    "interval_method",
    "validity",
    "estimand",
    "note",
)


def _details(row) -> str:
    """The row's other columns, collapsed: p-values, effect sizes, seeds, design, the exact values, validity,
    interval method and note; its summary says why where the verdict is inconclusive."""
    items = []
    why = vocabulary.reason(row)
    if why:
        items.append(("why inconclusive", why))
    for column in DETAILS:
        value = row.get(column)
        if not terminal.is_missing(value) and value != "":
            items.append((column, f"{value:.6g}" if isinstance(value, float) else str(value)))
    if not items:
        return "<td></td>"
    listed = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>" for name, value in items)
    summary = f"why: {vocabulary.reason(row, brief=True)}" if why else "details"
    return f'<td class="text"><details><summary>{html.escape(summary)}</summary><dl>{listed}</dl></details></td>'


def _signed(value) -> str:
    return "" if terminal.is_missing(value) else f"{value:+.3g}"


def _interval(row) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    if terminal.is_missing(low) or terminal.is_missing(high):
        return ""
    return f"{terminal.human(low, 3)} to {terminal.human(high, 3)}"


def _part_table(rows: pd.DataFrame, several_resolutions: bool) -> str:
    """One part's rows: the condition (and analysis where there are several), the rival, the verdict first,
    then the stack's value against the rival's, the ratio or difference with its 95% interval, and the rest
    behind each row's details."""
    stack_only = (rows["variant"] == STACK).all()
    analyses = (rows["analysis"] != PRIMARY).any()
    ratio, difference = rows["ratio_value"].notna().any(), rows["difference"].notna().any()
    interval = rows["ci_low"].notna().any()
    header = ["condition", *(["analysis"] if analyses else []), "vs" if stack_only else "compared", "verdict"]
    header += ["stack vs rival" if stack_only else "values"]
    header += [*(["ratio"] if ratio else []), *(["difference"] if difference else [])]
    header += [*(["95% interval"] if interval else []), "details"]
    body = []
    for _, row in rows.iterrows():
        verdict = row["verdict"] if isinstance(row["verdict"], str) else ""
        values = " vs ".join(
            terminal.human(row[column]) for column in ("variant_value", "baseline_value") if pd.notna(row[column])
        )
        cells = [_cell(_condition(row, several_resolutions), numeric=False)]
        cells += [_cell(str(row["analysis"]), numeric=False)] if analyses else []
        compared = row["baseline"] if stack_only else f"{row['variant']} vs {row['baseline']}"
        cells += [_cell(compared, numeric=False)]
        style = VERDICT_STYLES.get(verdict, "")
        cells += [f'<td class="{style}">{html.escape(verdict)}</td>' if style else "<td></td>"]
        cells += [_cell(values, numeric=True)]
        cells += [_cell(terminal.human(row["ratio_value"]), numeric=True)] if ratio else []
        cells += [_cell(_signed(row["difference"]), numeric=True)] if difference else []
        cells += [_cell(_interval(row), numeric=True)] if interval else []
        cells += [_details(row)]
        body.append(cells)
    numeric = ("stack vs rival", "values", "ratio", "difference", "95% interval")
    return f'<div class="wide">{_rows_table(header, body, numeric)}</div>'


def _parts(claims: pd.DataFrame, several_resolutions: bool) -> list[str]:
    parts = []
    for claim, rows in claims.groupby("claim", sort=False):
        unit = rows["unit"].dropna().iloc[0] if "unit" in rows and rows["unit"].notna().any() else ""
        parts.append(f"<h3>{html.escape(claim)}" + (f" <small>({html.escape(unit)})</small>" if unit else "") + "</h3>")
        estimands = rows["estimand"].dropna().unique() if "estimand" in rows else []
        parts += [f"<p>Compared: {html.escape(estimand)}.</p>" for estimand in estimands]
        parts.append(_part_table(rows, several_resolutions))
    return parts


CLAIM_INTRO = (
    "<p>Every verdict with its evidence, part by part, Holm-adjusted over each part's primary rows (accuracy: "
    "Welch's t-test and its 95% interval, and two one-sided tests against the equivalence margin; speed: the "
    "paired bootstrap interval of the time ratio; effective field: the difference of the shares; sensitivity rows: "
    "numbers, no verdict; validity: the blocks whose map the rival's kernel overhangs; claim.md in the run "
    "directory explains each). Every ratio is stack / rival and every difference stack - rival (3x3 against the "
    "densest other kernel for density), in the part's unit; a row's details hold its p-values, effect sizes, "
    "seeds, exact values and note, and say why an inconclusive verdict is one.</p>"
)


def _with_code(text: str) -> str:
    """Markdown's `code` as HTML, the rest escaped."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _claim_section(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return []
    several = _several(claims, "resolution")
    earlier = at_earlier_budget(claims)
    text = ["<h2>The claim, part by part</h2>", CLAIM_INTRO, *_parts(claims[~earlier], several)]
    if earlier.any():
        text += ["<h2>Accuracy at earlier budgets</h2>", f"<p>{_with_code(EARLIER_BUDGETS)}</p>"]
        text += _parts(claims[earlier], several)
    return text


def _summary_section(summary: pd.DataFrame) -> list[str]:
    """The per-model summary: the columns that say most (as the terminal shows them), the rest collapsed."""
    if summary.empty:
        return []
    shown = [column for column in terminal.SUMMARY_SHOWN if column in summary]
    rows = [[_cell(row[column]) for column in shown] for _, row in summary.iterrows()]
    numeric = [column for column in shown if terminal.is_number(summary[column])]
    blank = terminal.blank_accuracy(summary)
    return [
        "<h2>Per model</h2>",
        f'<div class="wide">{_rows_table(shown, rows, numeric)}</div>',
        *([f"<p>{html.escape(blank)}</p>"] if blank else []),
        "<details><summary>Every column of summary.csv</summary>",
        f'<div class="wide">{_html_table(summary)}</div>',
        "</details>",
    ]


def embedded(png: Path) -> tuple[str, bytes, tuple[int, int]]:
    """A figure as the page embeds it: the smaller of a 256-colour PNG (line plots) and a JPEG (maps), with
    the same pixels as figures/NAME.png (which stays whole, beside the SVG); (MIME type, bytes, size)."""
    import io

    from PIL import Image

    with Image.open(png) as image:
        image.load()
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    options = []
    for mime, save in (
        ("image/png", lambda out: flat.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)),
        ("image/jpeg", lambda out: flat.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)),
    ):
        out = io.BytesIO()
        save(out)
        options.append((len(out.getvalue()), mime, out.getvalue()))
    _, mime, data = min(options)
    return mime, data, flat.size


JPEG_QUALITY = 85


def _figure_section(drawn: list[Drawn]) -> list[str]:
    parts = ["<h2>Figures</h2>"]
    for figure in drawn:
        parts.append(f"<h3>{html.escape(figure.title)}</h3>")
        if figure.png is None:
            parts.append("<p>Not drawn: the run has no data for it.</p>")
            continue
        mime, data, (width, height) = embedded(figure.png)
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure id="{figure.name}"><img alt="{html.escape(figure.name)}" width="{width}" height="{height}" '
            f'src="data:{mime};base64,{encoded}">'
            f"<figcaption>{html.escape(figure.caption)} (Full resolution: figures/{figure.name}.png; vector copy: "
            f"figures/{figure.name}.svg.)</figcaption></figure>"
        )
    return parts


def _trust_section(metadata: dict, directory: RunDir) -> list[str]:
    """How far the run's timings can be trusted: the noise probe and the flagged rows (as claim.md says it)."""
    trust = noise.trust_sentences(metadata, {name: directory.table(name) for name in noise.TIMED_TABLES})
    if not trust:
        return []
    return ["<h2>How far the timings can be trusted</h2>", *(f"<p>{html.escape(line)}</p>" for line in trust)]


def _metadata_section(metadata: dict) -> list[str]:
    config = metadata.get("config", {})
    facts = [
        [_cell(key, numeric=False), _cell(str(value), numeric=False)]
        for key, value in metadata.items()
        if key != "config"
    ]
    return [
        "<h2>How it was measured</h2>",
        _rows_table(["key", "value"], facts),
        '<details id="configuration"><summary>Configuration (config.json)</summary>',
        f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>",
        "</details>",
    ]


def write(run_dir: str | Path) -> Path:
    """Draw the run's figures and write RUN_DIR/report.html from its tables; returns the page's path."""
    directory = RunDir(run_dir, KINDS)
    if not directory.has("summary.csv") or not directory.has("metadata.json"):
        raise InputError(
            f"{directory.root} has no summary.csv or metadata.json: is it a finished `vggbench run` directory?"
        )
    metadata = directory.metadata()
    drawn = draw(directory)
    summary, claims = directory.table("summary"), directory.table("claim")
    title = f"vggbench: {directory.root.name} on {metadata.get('device_name', 'unknown device')}"
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(_run_span(metadata))}, commit <code>{html.escape(str(metadata.get('git_commit')))}</code>, "
        f"torch {html.escape(str(metadata.get('torch')))}, {html.escape(str(metadata.get('threads')))} threads.</p>",
        *_glance_section(claims),
        *_failure_list(directory.table("failures")),
        *_trust_section(metadata, directory),
        *_figure_section(drawn),
        *_claim_section(claims),
        *_summary_section(summary),
        *_metadata_section(metadata),
    ]
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{PAGE_STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )
    directory.write_text(REPORT, page)
    return directory.path(REPORT)
