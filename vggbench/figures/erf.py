"""The effective field's figure: each model's contribution maps, untrained and trained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vggbench.figures import look
from vggbench.figures.figure import Figure
from vggbench.models.schema import BOTH_NORMS, STANDS_FOR
from vggbench.util.csvio import read_map

ERF_STATES = ("untrained", "trained")
# The file name of a model's map, (arch, variant, ratio, resolution, batch_norm) and its state: the kind names them.
MapName = Callable[[tuple, str], str]


@dataclass(frozen=True)
class ErfPanel:
    title: str
    contribution: np.ndarray
    centre_px: float
    side_t50: int
    side_t99: int


def erf_maps(erf: pd.DataFrame, maps: Path, variants: list[str], map_name: MapName):
    """Contribution maps side by side: one row per model, one column per variant and state, from the files in
    `maps` as `map_name` names them; a model's panel without a map says why (not measured, or not saved).

    Colour follows the square root of the contribution, each map scaled to its own maximum;
    the dashed and dotted squares hold 50% and 99% of it.
    """
    if erf.empty or "erf_side_t50" not in erf:
        return None
    rows: list[list[ErfPanel | str]] = []  # a panel, or the sentence that stands where it has no map
    erf = erf.assign(batch_norm=erf.get("batch_norm", False))
    for (arch, ratio, resolution, normed), group in erf.dropna(subset=["erf_side_t50"]).groupby(
        ["arch", "ratio", "resolution", "batch_norm"], sort=True
    ):
        row = []
        for state in ERF_STATES:
            for variant in variants:
                match = group[(group["variant"] == variant) & (group["trained"] == (state == "trained"))]
                path = maps / map_name((arch, variant, ratio, resolution, normed), state)
                if match.empty or not path.is_file():
                    row.append(f"{variant}, {state}: " + ("not measured." if match.empty else "its map was not saved."))
                    continue
                measured = match.iloc[0]
                shown = f"{measured.get('erf_resolution', resolution):.0f}"
                told = state + (", bn or not" if measured.get(STANDS_FOR) == BOTH_NORMS else "")  # one map for both
                row.append(
                    ErfPanel(
                        f"{arch} r{ratio}{' bn' if normed else ''}, {shown} px\n{variant}, {told}",
                        read_map(path, follow=False),
                        float(measured["centre_px"]),
                        int(measured["erf_side_t50"]),
                        int(measured["erf_side_t99"]),
                    )
                )
        if any(isinstance(panel, ErfPanel) for panel in row):
            rows.append(row)
    if not rows:
        return None
    return _draw_erf_grid(rows)


def _draw_erf_grid(rows: list[list[ErfPanel | str]]):
    from matplotlib.colors import PowerNorm
    from matplotlib.patches import Rectangle

    columns = len(rows[0])
    figure = look.new_figure(2.0 * columns, 2.3 * len(rows))
    # Square maps: the constrained layout would size each cell before squaring it and push the titles off the top.
    figure.set_layout_engine("compressed")
    for row_index, row in enumerate(rows):
        for column_index, panel in enumerate(row):
            axes = figure.add_subplot(len(rows), columns, row_index * columns + column_index + 1)
            axes.set_xticks([])
            axes.set_yticks([])
            if isinstance(panel, str):
                axes.set_axis_off()
                look.say(axes, f"No map: {panel}")
                continue
            peak = panel.contribution.max()
            axes.imshow(panel.contribution, cmap="magma", norm=PowerNorm(0.5, vmin=0, vmax=peak if peak > 0 else 1))
            for side, linestyle in ((panel.side_t50, "--"), (panel.side_t99, ":")):
                corner = panel.centre_px - side / 2
                axes.add_patch(Rectangle((corner, corner), side, side, fill=False, color="white", linestyle=linestyle))
            axes.set_title(f"{panel.title}\n50%: {panel.side_t50} px, 99%: {panel.side_t99} px", fontsize=7)
    return figure


def figures(folder: str, map_name: MapName) -> tuple[Figure, ...]:
    """The erf kind's figures, from the maps in the run's `folder` named as the kind names them (`map_name`)."""

    def draw(run):
        erf = run.tables["erf"]
        variants = run.config.get("variants") or list(dict.fromkeys(erf.get("variant", [])))
        return erf_maps(erf, run.folder(folder), variants, map_name)

    return (
        Figure(
            "erf_maps",
            "Effective receptive field",
            "Effective receptive field: the clamped input gradient of the central unit, untrained and "
            "trained. Colour follows its square root; dashed and dotted squares hold 50% and 99% of it.",
            reads=("erf",),
            draw=draw,
        ),
    )
