"""The sequential design checked by simulation on a run's per-seed accuracies (`vggbench design`).

For each accuracy contrast of the run, both designs (the fixed one, and the group-sequential one) are
replayed on the same resampled seeds, drawn with replacement:

- no difference (A/A): each arm from its own accuracies centred on their common mean (residuals scaled by
  sqrt(n / (n - 1)), which keeps each arm's spread: plain resampling shrinks it), so any supported or
  contradicted verdict is a type-I error;
- the observed difference: each arm from its own accuracies, so a verdict with the observed sign is right.

Each row gives the share of replays per verdict (a Clopper-Pearson 95% interval for the type-I error and the
power) and the seeds per arm the design used.

Those replays take one contrast at a time at the whole alpha. A run's design judges its whole family at once, Holm
within each look: `null_family` simulates that, every comparison of the family with no difference, by the same
looks, spending and Holm (`replay`), for the family-wise type-I error and the seeds per arm it spends.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from vggbench.stats import hypothesis
from vggbench.verdicts.sequential import DIFFERENT, Plan, replay
from vggbench.verdicts.train import accuracy_arms
from vggbench.verdicts.vocabulary import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, STACK, SUPPORTED, accuracy_claim

# Simulated studies of a family under the null: 7 to 17 s for the published map run's 12 comparisons at 3 looks on
# two shared CPU cores (2 to 5 s for the verdict preset's 2 at 6 looks); a type-I error near 0.05 to about +-3
# points (its Clopper-Pearson interval says how far).
FAMILY_REPLAYS = 200

NO_DIFFERENCE, OBSERVED = "no difference (A/A)", "observed difference"


def _interval(hits: int, replays: int) -> tuple[float, float]:
    interval = stats.binomtest(hits, replays).proportion_ci(0.95, method="exact")
    return float(interval.low), float(interval.high)


def _arms(variant: np.ndarray, baseline: np.ndarray, scenario: str) -> tuple[np.ndarray, np.ndarray]:
    if scenario == OBSERVED:
        return variant, baseline
    middle = np.concatenate([variant, baseline]).mean()
    return tuple(middle + (arm - arm.mean()) * np.sqrt(len(arm) / (len(arm) - 1)) for arm in (variant, baseline))


def _shares(decisions: list, scenario: str, observed: float) -> dict:
    verdicts = [decision.verdict for decision in decisions]
    replays = len(verdicts)
    seeds = np.array([decision.seeds for decision in decisions])
    row = {f"{verdict}_share": verdicts.count(verdict) / replays for verdict in (*DIFFERENT, EQUIVALENT)}
    row[f"{INCONCLUSIVE}_share"] = verdicts.count(INCONCLUSIVE) / replays
    if scenario == NO_DIFFERENCE:
        errors = sum(verdict in DIFFERENT for verdict in verdicts)
        row["type1_error"], (row["type1_ci_low"], row["type1_ci_high"]) = errors / replays, _interval(errors, replays)
    else:
        right = verdicts.count(SUPPORTED if observed > 0 else CONTRADICTED)
        row["power"], (row["power_ci_low"], row["power_ci_high"]) = right / replays, _interval(right, replays)
    row.update(seeds_per_arm_mean=seeds.mean(), seeds_per_arm_median=np.median(seeds))
    return {**row, "seeds_per_arm_max": int(seeds.max())}


def _setting(plan: Plan) -> dict:
    """A design's looks and spending, as a table row names them."""
    setting = {"spending": plan.spending if len(plan.looks) > 1 else ""}
    return {**setting, "seeds_per_round": plan.looks[0], "max_seeds": plan.looks[-1], "looks": len(plan.looks)}


def simulate(variant, baseline, plans: dict[str, Plan], margin: float, replays: int, seed: int) -> list[dict]:
    """Rows per scenario and design (`plans`: name -> Plan), every design on the same resampled seeds."""
    variant, baseline = np.asarray(variant, dtype=float), np.asarray(baseline, dtype=float)
    observed = float(variant.mean() - baseline.mean())
    rng = np.random.default_rng(seed)
    most = max(plan.looks[-1] for plan in plans.values())
    rows = []
    for scenario in (NO_DIFFERENCE, OBSERVED):
        arms = _arms(variant, baseline, scenario)
        draws = [rng.choice(arm, size=(replays, most)) for arm in arms]
        for name, plan in plans.items():
            decisions = [replay(plan, {0: (draws[0][i], draws[1][i])}, margin)[0] for i in range(replays)]
            truth = 0.0 if scenario == NO_DIFFERENCE else observed
            common = {"scenario": scenario, "true_difference": truth, "design": name, **_setting(plan)}
            common.update(alpha=plan.alpha, margin=margin, replays=replays, seed=seed)
            rows.append({**common, **_shares(decisions, scenario, observed)})
    return rows


def design_table(train: pd.DataFrame, plans: dict[str, Plan], margin: float, replays: int, seed: int):
    """`simulate` for every accuracy contrast of a run's training table, each row with its contrast."""
    rows = []
    for base, rival, stack, other in accuracy_arms(train):
        contrast = {"claim": accuracy_claim(rival), **base, "baseline": rival, "variant": STACK}
        contrast.update(seeds_variant=len(stack), seeds_baseline=len(other))
        rows += [{**contrast, **row} for row in simulate(stack, other, plans, margin, replays, seed)]
    return pd.DataFrame(rows)


@functools.lru_cache(maxsize=32)  # a claim written again in one process (the tests, a report) simulates once
def null_family(plan: Plan, spreads: tuple[float, ...], margin: float, replays: int = FAMILY_REPLAYS, seed: int = 0):
    """`plan` run on a family of len(`spreads`) comparisons, none with any difference, `replays` times: each arm
    normal runs at its comparison's spread (one run's sd), each study judged by `replay` (the design's looks,
    spending and Holm at every look). The family-wise type-I error (a study where any comparison reads supported
    or contradicted) with its Clopper-Pearson 95% interval, and the seeds per arm its comparisons took."""
    rng = np.random.default_rng(seed)
    scale = np.asarray(spreads, dtype=float)[:, None, None]
    errors, seeds = 0, []
    for _ in range(replays):
        draws = rng.standard_normal((len(spreads), 2, plan.looks[-1])) * scale
        decided = replay(plan, {key: tuple(arms) for key, arms in enumerate(draws)}, margin).values()
        errors += any(decision.verdict in DIFFERENT for decision in decided)
        seeds += [decision.seeds for decision in decided]
    found = {**_setting(plan), "alpha": plan.alpha, "margin": margin, "comparisons": len(spreads)}
    found.update(replays=replays, seed=seed, type1_error=errors / replays)
    found["type1_ci_low"], found["type1_ci_high"] = _interval(errors, replays)
    return {**found, "seeds_per_arm_mean": float(np.mean(seeds)), "seeds_per_arm_max": int(max(seeds))}


def family_spreads(train: pd.DataFrame) -> tuple[float, ...]:
    """One run's spread of final accuracy in each accuracy comparison of a run (pooled over its two arms, runs
    that failed left out): the family a sequential design judged, for `null_family`."""
    return tuple(hypothesis.welch(stack, other, margin=0.0).sd for _, _, stack, other in accuracy_arms(train))
