"""The statistics behind the verdicts: two-sample and paired comparisons, equivalence, power, Holm.

Every test is two-sided at ALPHA unless said otherwise; the comparisons are Welch's
(no equal-variance assumption). Equivalence is two one-sided tests (TOST) against a
margin: both one-sided nulls (difference <= -margin, difference >= +margin) rejected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_LEVEL = 0.95  # the level of the bootstrap intervals in the timing tables (vggbench.measure.speed)


@dataclass(frozen=True)
class Comparison:
    """variant - baseline, from two independent samples (or, `paired`, from per-seed differences)."""

    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    tost_p: float  # equivalence within +-margin; small: equivalent
    effect_size: float  # standardised, named by `effect`
    sd: float  # the pooled standard deviation of one run (paired: of the differences)
    df: float
    mde: float  # the smallest difference with 80% power at this spread and size (two-sided, ALPHA)
    effect: str = "hedges_g"  # two samples: Hedges' g; paired: "cohens_dz", the mean difference over its sd


def _clean(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def hedges_g(variant, baseline) -> float:
    """Standardised mean difference with the small-sample correction J = 1 - 3 / (4 (n1 + n2) - 9)."""
    a, b = _clean(variant), _clean(baseline)
    n1, n2 = len(a), len(b)
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return math.nan
    return (1 - 3 / (4 * (n1 + n2) - 9)) * (a.mean() - b.mean()) / pooled


def tost(variant, baseline, margin: float) -> float:
    """The TOST p-value (the larger of the two one-sided Welch tests) for |variant - baseline| < margin."""
    a, b = _clean(variant), _clean(baseline)
    # Welch's standard error and freedoms once, for both sides (scipy's ttest_ind twice is most of the time a
    # design simulation spends)
    parts = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(sum(parts))
    if not se > 0:
        return math.nan
    df = sum(parts) ** 2 / (parts[0] ** 2 / (len(a) - 1) + parts[1] ** 2 / (len(b) - 1))
    difference = a.mean() - b.mean()
    above = stats.t.sf((difference + margin) / se, df)  # difference > -margin
    below = stats.t.cdf((difference - margin) / se, df)  # difference < +margin
    return float(max(above, below))


def mde(sd: float, n1: int, n2: int, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest true difference a two-sided t-test detects with `power`, at spread `sd` and these sizes
    (from the noncentral t distribution; n2 = 0 for a one-sample or paired test on n1 differences)."""
    if not sd > 0 or not df > 0:
        return math.nan
    se = sd * math.sqrt(1 / n1 + (1 / n2 if n2 else 0))
    critical = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(effect: float) -> float:
        shift = effect / se
        wrong_side = np.nan_to_num(stats.nct.cdf(-critical, df, shift))  # NaN where it underflows
        return stats.nct.sf(critical, df, shift) + wrong_side - power

    return float(optimize.brentq(shortfall, 0, 100 * se))  # 100 standard errors: power 1 even at df = 1


MAX_RUNS = 1_000_000  # runs per arm beyond which a size is reported as inf: no study takes more


def _smallest_n(enough) -> int | float:
    """The smallest n >= 2 for which `enough(n)` holds, `enough` being monotone in n; inf where even MAX_RUNS
    do not suffice (a tiny effect or margin against the spread)."""
    if enough(2):
        return 2
    low, high = 2, 4
    while not enough(high):  # double, then halve the gap
        if high >= MAX_RUNS:
            return math.inf
        low, high = high, min(2 * high, MAX_RUNS)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def seeds_needed(sd: float, effect: float, alpha: float = ALPHA, power: float = POWER) -> int | float:
    """Runs per arm for a two-sided two-sample t-test to detect `effect` with `power` at spread `sd` (inf
    beyond MAX_RUNS)."""
    if not sd > 0:
        return 2
    return _smallest_n(lambda n: mde(sd, n, n, 2 * n - 2, alpha, power) <= effect)


def equivalence_power(sd: float, margin: float, n: int, alpha: float = ALPHA) -> float:
    """The chance that TOST with n runs per arm shows equivalence within +-margin when there is no difference."""
    df = 2 * n - 2
    room = margin / (sd * math.sqrt(2 / n)) - stats.t.ppf(1 - alpha, df)
    return max(0.0, 2 * stats.t.cdf(room, df) - 1)


def seeds_for_equivalence(sd: float, margin: float, alpha: float = ALPHA, power: float = POWER) -> int | float:
    """Runs per arm for TOST to show equivalence within +-margin with `power`, where there is no difference
    (inf beyond MAX_RUNS)."""
    if not sd > 0:
        return 2
    return _smallest_n(lambda n: equivalence_power(sd, margin, n, alpha) >= power)


def _varies(values: np.ndarray) -> bool:
    """Whether values differ by more than rounding (0.91 - 0.81 and 0.92 - 0.82 are not quite equal)."""
    return bool(np.ptp(values) > 1e-12)


def _no_spread(difference: float, df: float, effect: str) -> Comparison:
    """Runs that do not vary at all: the difference, and no test (a t-test divides by the spread)."""
    return Comparison(difference, math.nan, math.nan, math.nan, math.nan, math.nan, 0.0, df, math.nan, effect)


def welch(variant, baseline, margin: float) -> Comparison:
    """Welch's two-sample comparison of variant against baseline, with TOST against `margin`."""
    a, b = _clean(variant), _clean(baseline)
    if not (_varies(a) or _varies(b)):
        return _no_spread(float(a.mean() - b.mean()), len(a) + len(b) - 2, "hedges_g")
    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(1 - ALPHA)
    n1, n2 = len(a), len(b)
    sd = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    df = float(test.df)
    return Comparison(
        difference=float(a.mean() - b.mean()),
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        p_value=float(test.pvalue),
        tost_p=tost(a, b, margin),
        effect_size=hedges_g(a, b),
        sd=sd,
        df=df,
        mde=mde(sd, n1, n2, df),
    )


def _interaction(correct: np.ndarray) -> float:
    """The run-by-image interaction mean square of one arm's correctness table (runs x images)."""
    runs, images = correct.shape
    residual = correct - correct.mean(axis=1, keepdims=True) - correct.mean(axis=0, keepdims=True) + correct.mean()
    return float((residual**2).sum() / ((runs - 1) * (images - 1)))


def contrast_parts(arms, weights) -> tuple[float, ...]:
    """The variance of a weighted contrast of arms' mean accuracies, sum_k w_k mean_k, in parts: each arm's
    seeds (w_k^2 s_k^2 / n_k of its runs' accuracies, as Welch's) and then the test set's sampling. Each arm is
    its runs' per-image correctness (runs x images, 1 right), all on the same test images in the same order;
    the arms are different models, so independent over seeds, while the test set is shared.

    Seeds and test images are crossed random factors. Over seeds, on the fixed test set, the spread of the
    runs' accuracies already holds each run's own luck on the images (the run-by-image interaction over the
    image count); what it leaves out is the test set itself: a new test set moves every arm, and the contrast
    by the mean over images of d_i = sum_k w_k (arm k's expected correctness on image i). Its variance is
    Var(d) / images, where the sample variance of d_i (from the arms' mean correctness on image i) overstates
    Var(d) by sum_k w_k^2 (arm k's interaction mean square) / n_k: the unbiased ANOVA estimate subtracts it
    (floored at 0). For one arm this is (MS_runs + MS_images - MS_interaction) / (runs images), the textbook
    estimate for the mean of a two-way crossed random design.
    """
    tables = [np.asarray(arm, dtype=float) for arm in arms]
    d = sum(weight * table.mean(axis=0) for weight, table in zip(weights, tables, strict=True))
    inflation = sum(weight**2 * _interaction(table) / len(table) for weight, table in zip(weights, tables, strict=True))
    images = max(0.0, float(d.var(ddof=1)) - inflation) / tables[0].shape[1]
    seeds = (
        weight**2 * table.mean(axis=1).var(ddof=1) / len(table) for weight, table in zip(weights, tables, strict=True)
    )
    return (*(float(part) for part in seeds), images)


def variance_parts(variant, baseline) -> tuple[float, float, float]:
    """The variance of the difference of two arms' mean accuracies (`contrast_parts` of variant - baseline):
    the variant's seeds, the baseline's, and the test set's sampling."""
    return contrast_parts((variant, baseline), (1, -1))


def _satterthwaite(parts, freedoms) -> float:
    """The degrees of freedom of a sum of independent variance estimates, each on its own freedoms."""
    return sum(parts) ** 2 / sum(part**2 / freedom for part, freedom in zip(parts, freedoms, strict=True))


@dataclass(frozen=True)
class Estimate:
    """A contrast of arms' mean accuracies with its 95% t interval and two-sided p-value against 0."""

    value: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    df: float


def contrast(arms, weights) -> Estimate:
    """sum_k w_k (arm k's mean accuracy), the arms independent over seeds (different models), with a t interval
    on Satterthwaite's degrees of freedom. An arm is its runs' accuracies (1-D: the seeds alone, Welch's
    variance generalised, sum_k w_k^2 s_k^2 / n_k, on n_k - 1 freedoms each) or, for every arm alike, its runs'
    per-image correctness (runs x images: the test set's sampling too, as `contrast_parts` counts it, that part
    on images - 1 freedoms). Where nothing varies there is no interval."""
    tables = [np.asarray(arm, dtype=float) for arm in arms]
    two_way = tables[0].ndim == 2
    accuracies = [table.mean(axis=1) if two_way else table for table in tables]
    value = float(sum(weight * runs.mean() for weight, runs in zip(weights, accuracies, strict=True)))
    if two_way:
        parts = contrast_parts(tables, weights)
        freedoms = (*(len(table) - 1 for table in tables), tables[0].shape[1] - 1)
    else:
        parts = tuple(
            weight**2 * runs.var(ddof=1) / len(runs) for weight, runs in zip(weights, accuracies, strict=True)
        )
        freedoms = tuple(len(runs) - 1 for runs in accuracies)
    variance = sum(parts)
    if variance <= 1e-24:
        return Estimate(value, math.nan, math.nan, math.nan, 0.0, math.nan)
    df, se = _satterthwaite(parts, freedoms), math.sqrt(variance)
    half = float(stats.t.ppf(1 - ALPHA / 2, df)) * se
    return Estimate(value, value - half, value + half, float(2 * stats.t.sf(abs(value) / se, df)), se, float(df))


def with_test_images(variant, baseline, margin: float) -> Comparison:
    """The comparison of two arms' mean accuracies counting both the seeds and the test set's sampling, from
    each run's per-image correctness (runs x images, the same images for both arms): `contrast` of variant -
    baseline (the variance of `variance_parts`, Satterthwaite's degrees of freedom from each arm's runs - 1
    and images - 1), and TOST against `margin` on the same standard error."""
    a, b = np.asarray(variant, dtype=float), np.asarray(baseline, dtype=float)
    n1, n2 = len(a), len(b)
    found = contrast((a, b), (1, -1))
    if not found.se > 0:
        return _no_spread(found.value, n1 + n2 - 2, "hedges_g")
    above = stats.t.sf((found.value + margin) / found.se, found.df)  # difference > -margin
    below = stats.t.cdf((found.value - margin) / found.se, found.df)  # difference < +margin
    sd = found.se / math.sqrt(1 / n1 + 1 / n2)  # one run's spread, its share of the test set's sampling included
    return Comparison(
        difference=found.value,
        ci_low=found.ci_low,
        ci_high=found.ci_high,
        p_value=found.p_value,
        tost_p=float(max(above, below)),
        effect_size=hedges_g(a.mean(axis=1), b.mean(axis=1)),
        sd=sd,
        df=found.df,
        mde=mde(sd, n1, n2, found.df),
    )


def paired(variant, baseline, margin: float) -> Comparison:
    """The paired comparison of runs matched pair by pair, with TOST; its effect size is Cohen's d_z."""
    differences = _clean(variant) - _clean(baseline)
    n = len(differences)
    if not _varies(differences):
        return _no_spread(float(differences.mean()), n - 1, "cohens_dz")
    test = stats.ttest_1samp(differences, 0.0)
    interval = test.confidence_interval(1 - ALPHA)
    above = stats.ttest_1samp(differences, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(differences, margin, alternative="less").pvalue
    sd = float(differences.std(ddof=1))
    return Comparison(
        difference=float(differences.mean()),
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        p_value=float(test.pvalue),
        tost_p=float(max(above, below)),
        effect_size=float(differences.mean() / sd),
        sd=sd,
        df=float(n - 1),
        mde=mde(sd, n, 0, n - 1),
        effect="cohens_dz",
    )


def mean_interval(values) -> tuple[float, float, float]:
    """The mean of independent values (one per run) with its two-sided t interval at 1 - ALPHA; no interval
    for fewer than two."""
    a = _clean(values)
    if len(a) < 2:
        return float(a.mean()) if len(a) else math.nan, math.nan, math.nan
    half = float(stats.t.ppf(1 - ALPHA / 2, len(a) - 1)) * a.std(ddof=1) / math.sqrt(len(a))
    return float(a.mean()), float(a.mean() - half), float(a.mean() + half)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN stays NaN and is not counted)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(order) - rank) * p[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def holm_levels(p_values, alpha: float = ALPHA) -> np.ndarray:
    """The level each p-value is tested at in Holm's step-down at `alpha` (NaN stays NaN and is not counted):
    alpha / (m - j + 1) for the one rejected at step j, and for every one not rejected the level of the step
    where the step-down stopped (the share each of them holds). Where the adjusted p (`holm`) is below alpha,
    the p-value is below its level."""
    p = np.asarray(p_values, dtype=float)
    levels = np.full_like(p, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    order = present[np.argsort(p[present], kind="stable")]
    size, step = len(order), 0
    while step < size and p[order[step]] < alpha / (size - step):
        levels[order[step]] = alpha / (size - step)
        step += 1
    levels[order[step:]] = alpha / (size - step) if step < size else np.nan
    return levels


def interval_p(low: float, high: float, null: float = 1.0, level: float = BOOTSTRAP_LEVEL) -> float:
    """The two-sided p-value of a ratio equal to `null`, from its `level` interval, by the normal approximation
    on the log scale: the interval's log midpoint is the estimate and its log half-width z standard errors. It
    lies below 1 - level exactly where the interval excludes `null` (a skewed interval is read as symmetric)."""
    if not (low > 0 and high > 0):
        return math.nan
    low, high, null = math.log(low), math.log(high), math.log(null)
    half, distance = (high - low) / 2, abs((low + high) / 2 - null)
    if half <= 0:  # no spread at all: the estimate is the value
        return 0.0 if distance > 0 else 1.0
    return float(2 * stats.norm.sf(distance * stats.norm.ppf((1 + level) / 2) / half))


def fisher(failed_variant: int, runs_variant: int, failed_baseline: int, runs_baseline: int) -> float:
    """Fisher's exact test (two-sided) of failure counts in two arms."""
    table = [[failed_variant, runs_variant - failed_variant], [failed_baseline, runs_baseline - failed_baseline]]
    return float(stats.fisher_exact(table).pvalue)
