"""The static count's figure: parameters and MACs of the stack over the single kernel, block by block."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure


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
    columns = min(len(panels), look.PANELS_PER_ROW)
    grid_rows = -(-len(panels) // columns)
    legend_in = 1.4  # the legend's room beside the panels
    figure = look.new_figure(max(4.0, 1.1 * single["block"].max()) * columns + legend_in, 4.0 * grid_rows)
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
    return look.legend_outside(figure)


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


FIGURES = (
    Figure.of_table(
        "block_ratios",
        "Parameters and MACs, block by block",
        "Stack over single kernel, block by block, for parameters and MACs; the black mark is the "
        "textbook ratio for a block with as many input as output channels.",
        "blocks",
        block_ratios,
    ),
)
