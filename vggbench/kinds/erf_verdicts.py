"""The effective field kind's verdict: the same effective receptive field as each large-kernel rival, an
equivalence verdict on the share of the image holding half the gradient."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from scipy import stats as scipy_stats

from vggbench.verdicts import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, PRIMARY, STACK, contrasts

if TYPE_CHECKING:
    import pandas as pd

ANALYSES = ((PRIMARY, "erf"), ("RepLKNet's log10(1 + x) (sensitivity)", "replknet"))


def _same_field(stack: pd.Series, rival: pd.Series, prefix: str, margin: float) -> dict:
    """The difference of the area ratios holding half the gradient, stack - rival, and its verdict: the same
    field when its 90% interval lies inside +-margin, a different one when its 95% interval excludes 0. The
    standard errors are the bootstrap's, combined as if independent (conservative: both arms see the same
    images)."""
    column = f"{prefix}_area_ratio_t50"
    difference = stack[column] - rival[column]
    se = math.hypot(stack[f"{column}_se"], rival[f"{column}_se"])
    z90, z95 = scipy_stats.norm.ppf(0.95), scipy_stats.norm.ppf(0.975)
    verdict = INCONCLUSIVE
    if abs(difference) + z90 * se < margin:
        verdict = EQUIVALENT
    elif abs(difference) > z95 * se:
        verdict = CONTRADICTED
    return {
        "baseline_value": rival[column],
        "variant_value": stack[column],
        "difference": difference,
        "ci_low": difference - z95 * se,
        "ci_high": difference + z95 * se,
        "margin": margin,
        "verdict": verdict,
    }


def claims(erf: pd.DataFrame, margin: float) -> list[dict]:
    if erf.empty or "erf_area_ratio_t50_se" not in erf:
        return []
    rows = []
    measured = erf.dropna(subset=["erf_area_ratio_t50"])
    for base, _, rival, stack_rows, rival_rows in contrasts(measured, "trained", linear=False):
        identity = {key: value for key, value in base.items() if key != "trained"}
        stack, other = stack_rows.iloc[0], rival_rows.iloc[0]
        for analysis, prefix in ANALYSES:
            row = {"claim": "same effective receptive field", **identity, "analysis": analysis}
            row.update(mode="trained" if base["trained"] else "untrained", baseline=rival, variant=STACK)
            note = f"share of the {int(stack['erf_resolution'])} px image holding half the input gradient"
            rows.append({**row, **_same_field(stack, other, prefix, margin), "note": note})
    return rows
