"""The effective field kind's verdict: the same effective receptive field as each large-kernel rival, an
equivalence verdict on the share of the image holding half the gradient, Holm-adjusted over the family of
primary rows (the z-tests behind the bootstrap's normal interval)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from scipy import stats as scipy_stats

from vggbench import stats
from vggbench.verdicts import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, PRIMARY, STACK, adjust, contrasts

if TYPE_CHECKING:
    import pandas as pd

ANALYSES = ((PRIMARY, "erf"), ("RepLKNet's log10(1 + x) (sensitivity)", "replknet"))


def _same_field(stack: pd.Series, rival: pd.Series, prefix: str, margin: float) -> dict:
    """The difference of the area ratios holding half the gradient, stack - rival, with its 95% interval, its
    z-test against 0 (`p_value`) and against +-margin (two one-sided z-tests, `tost_p`: unadjusted, below ALPHA
    exactly where the 90% interval lies inside the margin). The standard errors are the bootstrap's, combined
    as if independent (conservative: both arms see the same images)."""
    column = f"{prefix}_area_ratio_t50"
    difference = stack[column] - rival[column]
    se = math.hypot(stack[f"{column}_se"], rival[f"{column}_se"])
    z95 = scipy_stats.norm.ppf(0.975)
    return {
        "baseline_value": rival[column],
        "variant_value": stack[column],
        "difference": difference,
        "ci_low": difference - z95 * se,
        "ci_high": difference + z95 * se,
        "p_value": float(2 * scipy_stats.norm.sf(abs(difference) / se)),
        "tost_p": float(
            max(scipy_stats.norm.sf((difference + margin) / se), scipy_stats.norm.cdf((difference - margin) / se))
        ),
        "margin": margin,
    }


def _judge(row: dict) -> str:
    """The same field where equivalence holds after Holm (checked first: a difference inside the margin is the
    same field in practice), a different one where the difference does."""
    if row.get("tost_p_holm", math.nan) < stats.ALPHA:
        return EQUIVALENT
    return CONTRADICTED if row.get("p_value_holm", math.nan) < stats.ALPHA else INCONCLUSIVE


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
    adjust(rows, judge=_judge)
    return rows
