"""The density kind's verdict: 3x3 is the densest, per device, width and map size.

Density counts only the taps on real pixels (`real_taps`): a 'same'-padded conv's taps on its zero border
are no work the kernel had to do, and counting them favours the larger kernel, whose border is wider (7x7
against 3x3: 18% at 14 px, 4% at 56 px). The table's `density_vs_3x3` counts every tap (C x C x k x k x side x side,
as `macs`); the verdict rescales it and its interval by each kernel's share of real taps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.stats import hypothesis as stats
from vggbench.verdicts.vocabulary import CONTRADICTED, NOT_REPRODUCED, PRIMARY, adjust, decide

if TYPE_CHECKING:
    import pandas as pd

REFERENCE = 3
# RepVGG's argument is about GPU kernels (Winograd 3x3 in cuDNN): elsewhere a contradiction is not its refutation.
CLAIMED_DEVICES = ("cuda",)


def real_taps(kernel: int, side: int) -> int:
    """Kernel taps that fall on image pixels, summed over the output positions of a 'same'-padded k x k conv
    (stride 1) on a side x side map, per input and output channel and image: the 1-d overlap, squared."""
    half = kernel // 2
    row = sum(min(i + half, side - 1) - max(i - half, 0) + 1 for i in range(side))
    return row * row


def real_share(kernel: int, side: int) -> float:
    """The share of a 'same'-padded conv's taps that fall on real pixels."""
    return real_taps(kernel, side) / (kernel * kernel * side * side)


def _real_density(group: pd.DataFrame) -> pd.DataFrame:
    """Each kernel's density over 3x3's with its interval, counting only taps on real pixels."""
    side = int(group["side_px"].iloc[0])
    scale = group["kernel_px"].map(lambda kernel: real_share(kernel, side) / real_share(REFERENCE, side))
    columns = ("achieved_gflops", "density_vs_3x3", "ci_low", "ci_high")
    real = group.assign(**{column: group[column] * scale for column in columns})
    return real.assign(p_value=[stats.interval_p(row.ci_low, row.ci_high) for row in real.itertuples()])


def _row_p(others: pd.DataFrame) -> float:
    """3x3 densest needs every other kernel less dense: the largest p-value (an intersection-union test); a
    denser kernel needs only one: the smallest p-value of those above 1, Bonferroni over the other kernels."""
    if (others["density_vs_3x3"] < 1).all():
        return float(others["p_value"].max())
    above = others.loc[others["density_vs_3x3"] >= 1, "p_value"]
    return float(min(1.0, len(others) * above.min()))


def _judge(row: dict) -> str:
    verdict = decide(row, lambda row: row["ratio_value"] > 1)
    if verdict == CONTRADICTED and not str(row["device"]).startswith(CLAIMED_DEVICES):
        return NOT_REPRODUCED
    return verdict


def claims(density: pd.DataFrame) -> list[dict]:
    """Every other kernel's real-tap FLOP/s against 3x3's, as a ratio with its bootstrap interval; the row shows
    3x3's against the densest other kernel's (ratio_value 3x3 / rival: above 1, 3x3 is the denser), its p-value
    is the row's test (`_row_p`), Holm-adjusted over the family."""
    if density.empty or ("error" in density and density["error"].notna().all()):
        return []  # no rows, or every trial failed (claim.md lists them)
    missing = [column for column in ("density_vs_3x3", "ci_low", "ci_high") if column not in density]
    if missing:
        note = f"not judged: density.csv has no {', '.join(missing)} (the rates alone, without the ratios to 3x3)"
        return [{"claim": "3x3 is the densest", "analysis": PRIMARY, "verdict": float("nan"), "note": note}]
    rows = []
    for (device, channels, side), group in density.dropna(subset=["density_vs_3x3"]).groupby(
        ["device", "channels", "side_px"], sort=False
    ):
        group = _real_density(group)
        others = group[group["kernel_px"] != REFERENCE]
        if others.empty or (group["kernel_px"] == REFERENCE).sum() != 1:
            continue
        rival = others.loc[others["density_vs_3x3"].idxmax()]  # the densest of the others
        shown = ", ".join(f"{row.kernel_px}x{row.kernel_px} {row.achieved_gflops:.3g}" for row in group.itertuples())
        note = f"GFLOP/s on real pixels: {shown}; ratio_value: 3x3's / the densest other kernel's"
        if not str(device).startswith(CLAIMED_DEVICES):
            note += f"; RepVGG's claim is about GPU kernels, this ran on {device}"
        rows.append(
            {
                "claim": "3x3 is the densest",
                "analysis": PRIMARY,
                "device": device,
                "mode": f"{channels} channels, {side} px",
                "baseline": f"{rival['kernel_px']}x{rival['kernel_px']}",
                "variant": "3x3",
                "baseline_value": rival["achieved_gflops"],
                "variant_value": group.loc[group["kernel_px"] == REFERENCE, "achieved_gflops"].iloc[0],
                "unit": "GFLOP/s",
                # 3x3 over the rival, as every claim row's ratio runs (the claim's variant over its baseline): the
                # table's rival / 3x3 turned over, its interval with it (the p-value is the same either way)
                "ratio_value": 1 / rival["density_vs_3x3"],
                "ci_low": 1 / rival["ci_high"],
                "ci_high": 1 / rival["ci_low"],
                "p_value": _row_p(others),
                "note": note,
            }
        )
    adjust(rows, columns=("p_value",), judge=_judge)
    return rows
