"""Figures and one self-contained HTML page from a finished run directory.

`write(run_dir)` reads the tables that `vggbench run` wrote (summary, speed, blocks,
erf, claim, metadata) and the raw effective-receptive-field maps, draws each figure
as PNG and SVG into RUN_DIR/figures/, and writes RUN_DIR/report.html with the PNGs
embedded, so that the page opens offline and can be mailed as one file. A figure
whose data the run does not have is left out, and the page says so.

matplotlib is used through `Figure` objects, never pyplot: no display, no global state.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vggbench import noise
from vggbench.csvio import read_map
from vggbench.rundir import ERF_MAPS, FIGURES, REPORT, RunDir, erf_map_name, model_key
from vggbench.validate import InputError

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
    label = f"{row.arch} r{row.ratio}" + (" bn" if getattr(row, "batch_norm", False) else "")
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
    """Images per second against width ratio: one panel per device and mode, one line per arch and variant.

    Error bars span the step time's interquartile range, turned into images per second.
    """
    if "img_per_s" not in speed or speed["img_per_s"].isna().all():
        return None
    table = speed.dropna(subset=["img_per_s"])
    table = table.assign(batch_norm=table.get("batch_norm", False))
    panels = list(table.groupby(["device_name", "mode"], sort=True))
    variants = _ordered(table["variant"])
    archs = sorted(table["arch"].unique())
    several_resolutions = table["resolution"].nunique() > 1
    figure = _figure(4.6 * len(panels), 4.0)
    for index, ((device_name, mode), rows) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        lines = rows.groupby(["arch", "variant", "resolution", "batch_norm"])
        for arch, variant, resolution, normed in sorted(
            lines.groups, key=lambda key: (key[0], variants.index(key[1]), key[2], key[3])
        ):
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
            label = (
                f"{arch} {variant}" + (" bn" if normed else "") + (f" {resolution}px" if several_resolutions else "")
            )
            axes.errorbar(
                by_ratio["ratio"],
                median,
                yerr=[median - low, high - median],
                color=colour,
                marker=marker,
                linestyle=ARCH_LINESTYLES[archs.index(arch) % len(ARCH_LINESTYLES)],
                capsize=3,
                label=label,
            )
        batch = ", ".join(str(int(size)) for size in sorted(rows["batch_size"].unique()))
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xticks(sorted(rows["ratio"].unique()), labels=[str(r) for r in sorted(rows["ratio"].unique())])
        axes.set_xlabel("width ratio (channels divided by)")
        axes.set_ylabel("images per second (log scale)")
        axes.set_title(f"{device_name}, {mode}, batch {batch}", fontsize=10)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=7)
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
                        read_map(path),
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


def draw(directory: RunDir) -> list[Drawn]:
    """Every figure of the run in RUN_DIR/figures/ as PNG and SVG."""
    from matplotlib import rc_context

    config = directory.config() if directory.has("config.json") else {}
    erf = directory.table("erf")
    variants = config.get("variants") or list(dict.fromkeys(erf.get("variant", [])))
    plans: list[tuple[str, str, str, Callable[[], object]]] = [
        (
            "forest",
            "Every comparison, difference and interval",
            "Each primary comparison of the stack with a rival, condition by condition: the difference "
            "(stack - rival, x 100) with its 95% interval, coloured by its verdict; the shaded band is the "
            "equivalence margin. Top: accuracy; below: the effective field (a smaller share is a smaller field).",
            lambda: forest(directory.table("claim")),
        ),
        (
            "accuracy_vs_macs",
            "Accuracy against compute",
            "Final test accuracy against MACs per image; error bars are one standard deviation over seeds.",
            lambda: accuracy_vs_macs(directory.table("summary")),
        ),
        (
            "throughput_vs_ratio",
            "Throughput against width ratio",
            "Throughput against width ratio, per device and mode; error bars span the step time's interquartile range.",
            lambda: throughput_vs_ratio(directory.table("speed")),
        ),
        (
            "block_ratios",
            "Parameters and MACs, block by block",
            "Stack over single kernel, block by block, for parameters and MACs; the black mark is the "
            "textbook ratio for a block with as many input as output channels.",
            lambda: block_ratios(directory.table("blocks")),
        ),
        (
            "erf_maps",
            "Effective receptive field",
            "Effective receptive field: the clamped input gradient of the central unit, untrained and "
            "trained. Colour follows its square root; dashed and dotted squares hold 50% and 99% of it.",
            lambda: erf_maps(erf, directory.path(ERF_MAPS), variants),
        ),
    ]
    folder = directory.path(FIGURES)
    folder.mkdir(exist_ok=True)
    drawn = []
    for name, title, caption, make in plans:
        figure = make()
        if figure is None:
            drawn.append(Drawn(name, title, caption, None))
            continue
        figure.savefig(folder / f"{name}.png", dpi=120)
        with rc_context({"svg.hashsalt": "vggbench"}):  # fixed element ids
            figure.savefig(folder / f"{name}.svg", metadata=SVG_METADATA)
        drawn.append(Drawn(name, title, caption, folder / f"{name}.png"))
    return drawn


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.8em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f3f3f3; }
td.supported { background: #d9f2d9; } td.contradicted { background: #f8d7d7; } td.inconclusive { background: #f3f3d0; }
td.equivalent { background: #d9e6f7; } td.not-reproduced { background: #eeeeee; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
div.wide { overflow-x: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


# Each verdict word (vggbench.verdicts) and the class that colours its cell.
VERDICT_STYLES = {word: word for word in ("supported", "contradicted", "equivalent", "inconclusive")}
VERDICT_STYLES["not reproduced on this device"] = "not-reproduced"


def _html_table(table: pd.DataFrame) -> str:
    text = table.to_html(index=False, na_rep="", float_format=lambda value: f"{value:.4g}", border=0)
    for verdict, style in VERDICT_STYLES.items():
        text = text.replace(f"<td>{verdict}</td>", f'<td class="{style}">{verdict}</td>')
    return text


def _verdict_counts(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return ["<h2>The claim at a glance</h2>", "<p>No claim table: run `vggbench claim RUN_DIR` first.</p>"]
    primary = claims[claims["analysis"] == "primary"] if "analysis" in claims else claims
    counts = primary.groupby("claim", sort=False)["verdict"].value_counts().unstack(fill_value=0)
    counts.columns.name = None
    text = "<p>Primary rows per verdict (sensitivity rows stand beside them in the table below):</p>"
    return ["<h2>The claim at a glance</h2>", text, _html_table(counts.reset_index())]


def _failure_list(failures: pd.DataFrame) -> list[str]:
    if failures.empty:
        return []
    retry = "<p>The verdicts go without them; rerunning <code>vggbench run</code> with this folder retries them.</p>"
    return [f"<h2>{len(failures)} failed trial(s)</h2>", retry, _html_table(failures[["kind", "trial", "error"]])]


def _claim_section(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return []
    shown = claims.drop(columns=["note"]).dropna(axis="columns", how="all")
    notes = claims.dropna(subset=["note"]).drop_duplicates(subset=["claim", "note"])
    return [
        "<h2>The claim, part by part</h2>",
        "<p>Every verdict with its evidence, Holm-adjusted over each part's primary rows (accuracy: Welch's "
        "t-test and its 95% interval, and two one-sided tests against the equivalence margin; speed: the paired "
        "bootstrap interval of the time ratio; effective field: the bootstrap interval of the difference of area "
        "ratios; sensitivity rows: numbers, no verdict; claim.md in the run directory explains each).</p>",
        f'<div class="wide">{_html_table(shown)}</div>',
        "<ul>",
        *(f"<li>{html.escape(row.claim)}: {html.escape(row.note)}</li>" for row in notes.itertuples()),
        "</ul>",
    ]


def _figure_section(drawn: list[Drawn]) -> list[str]:
    parts = ["<h2>Figures</h2>"]
    for figure in drawn:
        parts.append(f"<h3>{html.escape(figure.title)}</h3>")
        if figure.png is None:
            parts.append("<p>Not drawn: the run has no data for it.</p>")
            continue
        encoded = base64.b64encode(figure.png.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="{figure.name}"><img alt="{html.escape(figure.name)}" '
            f'src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(figure.caption)} (Vector copy: figures/{figure.name}.svg.)</figcaption>"
            "</figure>"
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
    facts = pd.DataFrame(
        [{"key": key, "value": str(value)} for key, value in metadata.items() if key != "config"],
        columns=["key", "value"],
    )
    return [
        "<h2>How it was measured</h2>",
        _html_table(facts),
        "<p>Configuration:</p>",
        f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>",
    ]


def write(run_dir: str | Path) -> Path:
    """Draw the run's figures and write RUN_DIR/report.html from its tables; returns the page's path."""
    directory = RunDir(run_dir)
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
        f"<p>Run from {html.escape(str(metadata.get('started')))} to {html.escape(str(metadata.get('ended')))}, "
        f"commit <code>{html.escape(str(metadata.get('git_commit')))}</code>, torch "
        f"{html.escape(str(metadata.get('torch')))}, {html.escape(str(metadata.get('threads')))} threads.</p>",
        *_verdict_counts(claims),
        *_failure_list(directory.table("failures")),
        *_trust_section(metadata, directory),
        *_figure_section(drawn),
        *_claim_section(claims),
        "<h2>Per model</h2>",
        f'<div class="wide">{_html_table(summary)}</div>',
        *_metadata_section(metadata),
    ]
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{PAGE_STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )
    directory.write_text(REPORT, page)
    return directory.path(REPORT)
