"""Robustness to the learning rate as an outcome beside the verdicts: per arm of a run's recipe search (tuning.csv,
one row per arm, candidate, seed and epoch), its learning-rate window, and per comparison of the stack with a rival
in one group of models, the two windows side by side.

An arm's candidate set is its candidates (`candidate`, each one recipe) that were not pruned and have a finite
`objective` (the mean over the candidate's seeds of validation accuracy at its last epoch). A pruned candidate
stopped early, so its objective is at a smaller budget than the others': it is left out of the set and counted
in the search. The arm's best is the largest objective in the set; its window is the learning rates of the set's
candidates whose objective lies within WITHIN (0.01: one point of accuracy) of the best, the boundary included,
as [lowest, highest] and the width log10(highest / lowest) in decades (0 where the best alone supports it).
Candidates of the set whose learning rate lies inside that range but whose objective is below the threshold are
counted as the window's gaps: the window is a range, not a promise that every rate in it does as well. The other
searched keys (optimizer, initialisation, ...) are pooled: the window is the arm's over its whole search. An arm
with fewer than MIN_CANDIDATES candidates in its set has no window (NaN, said in the note).

A comparison's row has no verdict word: a window from a handful of candidates per arm is not a test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vggbench.models.schema import RUN_KEYS, keys_in
from vggbench.verdicts.vocabulary import STACK, contrasts

LR_WINDOW, ROBUSTNESS, DECADES = "lr window", "robustness", "decades of learning rate"
WITHIN = 0.01  # how far below the arm's best objective a candidate may be and still support the window
MIN_CANDIDATES = 2  # finished candidates with an objective an arm needs for a window
ESTIMAND = (
    f"the width, log10(highest / lowest), of the learning rates whose candidates' validation accuracy lies within "
    f"{WITHIN:g} of the arm's best, over the candidates that were not pruned (verdicts.robustness)"
)


def arm_keys(tuning: pd.DataFrame) -> list[str]:
    """The columns of tuning.csv that name an arm (its model and schedule)."""
    return keys_in(tuning, RUN_KEYS)


def candidates(tuning: pd.DataFrame) -> pd.DataFrame:
    """One row per arm and candidate of tuning.csv: the arm, the candidate and its recipe, `pruned`, `objective`
    and `chosen` (each the candidate's, on every one of its rows), and `finished`: not pruned, with an objective."""
    found = tuning.drop_duplicates(subset=[*arm_keys(tuning), "candidate"]).drop(
        columns=["seed", "epoch", "val_acc", "train_loss"], errors="ignore"
    )
    flags = {name: found[name].eq(True) for name in ("pruned", "chosen")}  # eq: a CSV's blank reads as NaN
    found = found.assign(**flags, objective=pd.to_numeric(found["objective"], errors="coerce"))
    return found.assign(finished=~found["pruned"] & np.isfinite(found["objective"])).reset_index(drop=True)


def _window(arm: pd.DataFrame) -> dict:
    """One arm's window (see the module's account) from its `candidates` rows."""
    finished = arm[arm["finished"]]
    counts = {"searched": len(arm), "finished": len(finished)}
    if len(finished) < MIN_CANDIDATES:
        undefined = dict.fromkeys(("lr_low", "lr_high", "decades", "best"), math.nan)
        return {**counts, **undefined, "supporting": [], "gaps": 0}
    best = finished["objective"].max()
    inside = finished[best - finished["objective"] <= WITHIN + 1e-12]  # within one point, the boundary included
    low, high = inside["lr"].min(), inside["lr"].max()
    gaps = finished["lr"].between(low, high) & (best - finished["objective"] > WITHIN + 1e-12)
    window = {"lr_low": low, "lr_high": high, "decades": math.log10(high / low), "best": best}
    return {**counts, **window, "supporting": sorted(inside["candidate"].astype(int)), "gaps": int(gaps.sum())}


def windows(tuning: pd.DataFrame) -> pd.DataFrame:
    """Per arm of tuning.csv, its identity and window: `lr_low`, `lr_high`, `decades`, `best`, the candidates
    `supporting` it, its `gaps`, and the candidates `finished` and `searched`. Empty without a searched `lr`."""
    if tuning.empty or "lr" not in tuning:
        return pd.DataFrame()
    keys = arm_keys(tuning)
    arms = candidates(tuning).groupby(keys, sort=False, dropna=False)
    return pd.DataFrame([{**dict(zip(keys, values, strict=True)), **_window(arm)} for values, arm in arms])


def _words(variant: str, arm: pd.Series) -> str:
    """An arm's window in words, with the candidates that support it."""
    if math.isnan(arm["decades"]):
        return (
            f"{variant}: no window, {arm['finished']} candidate(s) of {arm['searched']} searched finished with an "
            f"objective (a window needs {MIN_CANDIDATES})"
        )
    supporting = arm["supporting"]
    gaps = f" ({int(arm['gaps'])} other candidate(s) inside the range below it)" if arm["gaps"] else ""
    return (
        f"{variant}: lr {arm['lr_low']:.3g} to {arm['lr_high']:.3g} ({arm['decades']:.2f} decades), "
        f"{len(supporting)} of {arm['finished']} finished candidates (of {arm['searched']} searched) within "
        f"{WITHIN:g} of the best {arm['best']:.4f}: candidate(s) {', '.join(map(str, supporting))}{gaps}"
    )


def window_claims(tuning: pd.DataFrame) -> list[dict]:
    """Per group of models and rival, the stack's lr window against the rival's (`windows`): their widths in
    decades and the difference (stack - rival), each arm's window and candidates in the note; no verdict."""
    found = windows(tuning)
    rows = []
    for base, _, rival, stack_rows, rival_rows in contrasts(found) if not found.empty else ():
        stack, other = stack_rows.iloc[0], rival_rows.iloc[0]
        row = {"claim": LR_WINDOW, **base, "analysis": ROBUSTNESS, "baseline": rival, "variant": STACK}
        row.update(unit=DECADES, baseline_value=other["decades"], variant_value=stack["decades"], verdict=math.nan)
        searched = " and ".join(dict.fromkeys(str(arm["searched"]) for arm in (stack, other)))
        no_test = f"numbers, no verdict: a window from {searched} candidates per arm is not a test"
        row.update(difference=stack["decades"] - other["decades"], estimand=ESTIMAND)
        rows.append({**row, "note": f"{_words(STACK, stack)}; {_words(rival, other)}; {no_test}"})
    return rows
