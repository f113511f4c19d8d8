"""The effective field kind's verdict: the same effective receptive field as each large-kernel rival, an
equivalence verdict on the share of the image holding half the gradient, Holm-adjusted over the family of
primary rows.

Models are the unit: each model's share (its maps averaged over the test images, the
square's area interpolated between integer sides: `erf_share_t50`) is one observation,
and the arms are compared by Welch's t-test over those per-model values (the 95%
t-interval, the test against 0 and two one-sided tests against the margin). The arms
see the same images but are different models (each architecture draws its own weights,
even from the same seed), so there is nothing to pair. With fewer than 5 models per arm
the note says so; with one model an arm has no spread and the row no test.
RepLKNet's log10(1 + x) row stands beside only where it differs from the primary one:
at these maps' scale (gradients far below 1) log10(1 + x) is nearly linear, and the row
would repeat the primary one.

One row per distinct result: the untrained models with and without batch norm are the
same models (vggbench.engine.kinds.erf measures them once, in a row whose `stands_for` says
so); a table that measured them apart (written before) is read as one result too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from vggbench.models.schema import BOTH_NORMS, GROUP_KEYS, STANDS_FOR, keys_in
from vggbench.stats import hypothesis as stats
from vggbench.verdicts.vocabulary import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, PRIMARY, STACK, adjust, contrasts

if TYPE_CHECKING:
    import pandas as pd

ANALYSES = ((PRIMARY, "erf"), ("RepLKNet's log10(1 + x) (sensitivity)", "replknet"))
ENOUGH_MODELS = 5
UNIT = "share of image"  # of the image's area, holding half the input gradient
SAME = 1e-3  # a RepLKNet share within this of the primary one, for every model, repeats it


def per_model(row: pd.Series, prefix: str) -> np.ndarray:
    """The per-model shares of one row, models whose map is zero left out."""
    values = np.array([float(value) for value in str(row[f"{prefix}_share_t50_per_model"]).split(";")])
    return values[np.isfinite(values)]


def _same_field(stack: np.ndarray, rival: np.ndarray, margin: float) -> dict:
    """The difference of the mean shares, stack - rival, with Welch's 95% interval, its t-test against 0
    (`p_value`) and two one-sided t-tests against +-margin (`tost_p`, unadjusted); no test where an arm has
    fewer than two models."""
    if min(len(stack), len(rival)) < 2:
        nan = math.nan
        return {"difference": stack.mean() - rival.mean(), "ci_low": nan, "ci_high": nan, "p_value": nan}
    test = stats.welch(stack, rival, margin)
    return {key: getattr(test, key) for key in ("difference", "ci_low", "ci_high", "p_value", "tost_p", "df")}


def _judge(row: dict) -> str:
    """The same field where equivalence holds after Holm (checked first: a difference inside the margin is the
    same field in practice), a different one where the difference does."""
    if row.get("tost_p_holm", math.nan) < stats.ALPHA:
        return EQUIVALENT
    return CONTRADICTED if row.get("p_value_holm", math.nan) < stats.ALPHA else INCONCLUSIVE


def _stands_for(stack: pd.Series, other: pd.Series) -> str | None:
    """What else a comparison stands for: what both its rows do."""
    stands_for = stack.get(STANDS_FOR)
    return stands_for if isinstance(stands_for, str) and other.get(STANDS_FOR) == stands_for else None


def _note(stack: pd.Series, counts: tuple[int, int], replknet_same: bool, stands_for: str | None) -> str:
    note = (
        f"share of the image holding half the input gradient (interpolated between square sides), measured at "
        f"{int(stack['erf_resolution'])} px for models trained at {int(stack['resolution'])} px; Welch's t over "
        f"models, {counts[0]} stack and {counts[1]} rival"
    )
    if not stack.get("rf_fits", True):
        note += "; the theoretical field does not fit in the image at this side"
    if min(counts) < ENOUGH_MODELS:
        note += f" (the interval rests on fewer than {ENOUGH_MODELS} models per arm)"
    if stands_for == BOTH_NORMS:
        note += (
            f"; one result for the models {BOTH_NORMS}: untrained, they have the same weights (batch norm at "
            "initialisation only divides each conv's output by sqrt(1 + eps))"
        )
    return note + ("; RepLKNet's log10(1 + x) gives the same shares" if replknet_same else "")


def _pair_rows(base: dict, rival: str, stack: pd.Series, other: pd.Series, margin: float) -> list[dict]:
    identity = {key: value for key, value in base.items() if key not in ("trained", "erf_resolution")}
    head = {"claim": "same effective receptive field", **identity}
    head.update(mode="trained" if base["trained"] else "untrained", baseline=rival, variant=STACK, margin=margin)
    head["unit"] = UNIT
    stands_for = head[STANDS_FOR] = _stands_for(stack, other)
    values = {prefix: (per_model(stack, prefix), per_model(other, prefix)) for _, prefix in ANALYSES}
    replknet_same = all(
        len(a) == len(b) and np.allclose(a, b, rtol=0, atol=SAME)
        for a, b in zip(values["erf"], values["replknet"], strict=True)
    )
    rows = []
    for analysis, prefix in ANALYSES:
        if prefix == "replknet" and replknet_same:
            continue
        arms = values[prefix]
        row = {**head, "analysis": analysis, "baseline_value": arms[1].mean(), "variant_value": arms[0].mean()}
        note = _note(stack, (len(arms[0]), len(arms[1])), replknet_same, stands_for)
        rows.append({**row, **_same_field(*arms, margin), "note": note})
    return rows


def one_row_per_result(erf: pd.DataFrame) -> pd.DataFrame:
    """`erf` with the untrained models with and without batch norm as one result, where a table measured them
    apart (the same models twice): the rows without batch norm stand for both, those with it go. Only where both
    hold the same variants, so that no comparison is lost to a trial that failed on one side."""
    if erf.empty or "batch_norm" not in erf:
        return erf
    keys = [key for key in keys_in(erf, GROUP_KEYS) if key != "batch_norm"] + ["erf_resolution"]
    merged, dropped = [], []
    for _, group in erf[~erf["trained"].astype(bool)].groupby(keys, sort=False, dropna=False):
        normed = group["batch_norm"].astype(bool)
        plain, normed = group[~normed], group[normed]
        if len(plain) and set(plain["variant"]) == set(normed["variant"]):
            merged += list(plain.index)
            dropped += list(normed.index)
    if not merged:
        return erf
    erf = erf.drop(index=dropped)
    erf.loc[merged, STANDS_FOR] = BOTH_NORMS
    return erf


NEEDED = ("erf_share_t50", "erf_share_t50_per_model", "replknet_share_t50_per_model")


def claims(erf: pd.DataFrame, margin: float) -> list[dict]:
    """The rows of the effective field's part; where the table lacks the per-model shares (a table written
    before them), one row that says the part is not judged and why."""
    if erf.empty or ("erf_share_t50" not in erf and "error" in erf and erf["error"].notna().all()):
        return []  # no rows, or every trial failed (claim.md lists them)
    missing = [column for column in NEEDED if column not in erf]
    if missing:
        note = f"not judged: erf.csv has no {', '.join(missing)} (a table written before per-model shares)"
        return [{"claim": "same effective receptive field", "analysis": PRIMARY, "verdict": math.nan, "note": note}]
    rows = []
    measured = one_row_per_result(erf.dropna(subset=["erf_share_t50"]))
    for base, _, rival, stack_rows, rival_rows in contrasts(measured, "trained", "erf_resolution", linear=False):
        rows += _pair_rows(base, rival, stack_rows.iloc[0], rival_rows.iloc[0], margin)
    adjust(rows, judge=_judge)
    return rows
