"""The density kind's verdict: 3x3 is the densest, per device, width and map size."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.verdicts import CONTRADICTED, INCONCLUSIVE, PRIMARY, SUPPORTED

if TYPE_CHECKING:
    import pandas as pd


def claims(density: pd.DataFrame) -> list[dict]:
    """Every other kernel's FLOP/s against 3x3's, as a ratio with its bootstrap interval (supported where every
    ratio's interval lies below 1)."""
    if density.empty or "density_vs_3x3" not in density:
        return []
    rows = []
    for (device, channels, side), group in density.dropna(subset=["density_vs_3x3"]).groupby(
        ["device", "channels", "side_px"], sort=False
    ):
        others = group[group["kernel_px"] != 3]
        if others.empty or (group["kernel_px"] == 3).sum() != 1:
            continue
        rival = others.loc[others["density_vs_3x3"].idxmax()]  # the densest of the others
        verdict = INCONCLUSIVE
        if (others["ci_high"] < 1).all():
            verdict = SUPPORTED
        elif (others["ci_low"] > 1).any():
            verdict = CONTRADICTED
        shown = ", ".join(f"{row.kernel_px}x{row.kernel_px} {row.achieved_gflops:.3g}" for row in group.itertuples())
        rows.append(
            {
                "claim": "3x3 is the densest",
                "analysis": PRIMARY,
                "device": device,
                "mode": f"{channels} channels, {side} px",
                "baseline": f"{rival['kernel_px']}x{rival['kernel_px']}",
                "variant": "3x3",
                "baseline_value": rival["achieved_gflops"],
                "variant_value": group.loc[group["kernel_px"] == 3, "achieved_gflops"].iloc[0],
                "ratio_value": rival["density_vs_3x3"],
                "ci_low": rival["ci_low"],
                "ci_high": rival["ci_high"],
                "verdict": verdict,
                "note": f"achieved GFLOP/s: {shown}; ratio_value: the densest other kernel's GFLOP/s / 3x3's",
            }
        )
    return rows
