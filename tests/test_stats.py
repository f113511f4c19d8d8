"""The statistics against independent computations: by hand, and scipy called directly here."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from vggbench.stats import hypothesis as stats

STACK = [0.905, 0.912, 0.899, 0.915, 0.908]
SINGLE = [0.901, 0.897, 0.905, 0.894, 0.903, 0.899]


def test_holm_on_a_known_family():
    # Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept at 0.06 (monotone).
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert np.allclose(adjusted[:4], [0.03, 0.06, 0.06, 0.02]) and math.isnan(adjusted[4])
    assert list(stats.holm([0.5, 0.6])) == [1.0, 1.0]


def _welch_by_hand(a, b):
    a, b = np.array(a), np.array(b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return a.mean() - b.mean(), se, df


def test_welch_and_tost_against_the_formulas():
    difference, se, df = _welch_by_hand(STACK, SINGLE)
    result = stats.welch(STACK, SINGLE, margin=0.01)
    assert result.difference == pytest.approx(difference)
    assert result.df == pytest.approx(df)
    half = scipy_stats.t.ppf(0.975, df) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((difference - half, difference + half))
    assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(difference / se), df))
    lower = scipy_stats.t.sf((difference + 0.01) / se, df)  # H0: difference <= -0.01
    upper = scipy_stats.t.cdf((difference - 0.01) / se, df)  # H0: difference >= +0.01
    assert result.tost_p == pytest.approx(max(lower, upper))
    assert stats.tost(STACK, STACK, margin=0.01) < 0.05 < stats.tost(STACK, SINGLE, margin=0.001)


def test_hedges_g_by_hand():
    a, b = np.array(STACK), np.array(SINGLE)
    pooled = math.sqrt((4 * a.var(ddof=1) + 5 * b.var(ddof=1)) / 9)
    expected = (1 - 3 / (4 * 11 - 9)) * (a.mean() - b.mean()) / pooled
    assert stats.hedges_g(STACK, SINGLE) == pytest.approx(expected)


def test_power_matches_the_normal_approximation_for_large_samples_and_cohens_table():
    # With many degrees of freedom the t-test is the z-test: (z_0.975 + z_0.8) standard errors.
    se_factor = math.sqrt(2 / 5000)
    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)
    assert stats.mde(1.0, 5000, 5000, 9998) == pytest.approx(z * se_factor, rel=1e-3)
    assert stats.mde(1.0, 3, 3, 4) > z * math.sqrt(2 / 3)  # few seeds: the t-test needs more
    assert stats.seeds_needed(1.0, 0.5) == 64  # Cohen (1988): d = 0.5, 80% power, alpha 0.05 two-sided


def test_paired_comparison_against_scipy():
    result = stats.paired(STACK, SINGLE[:5], margin=0.01)
    direct = scipy_stats.ttest_rel(STACK, SINGLE[:5])
    assert result.p_value == pytest.approx(direct.pvalue)
    assert result.difference == pytest.approx(np.mean(np.subtract(STACK, SINGLE[:5])))


def test_fisher_against_the_hypergeometric_by_hand():
    # 3 of 5 stack runs failed, 0 of 5 single runs: P(table as or more extreme), both tails.
    p_three = math.comb(5, 3) * math.comb(5, 0) / math.comb(10, 3)
    assert stats.fisher(3, 5, 0, 5) == pytest.approx(2 * p_three)
    assert stats.fisher(0, 5, 0, 5) == 1.0


def test_equivalence_power_against_a_simulation():
    # No true difference, spread 1, margin 1, 10 runs per arm: simulate TOST and count how often it shows it.
    rng = np.random.default_rng(0)
    shown = [stats.tost(rng.normal(0, 1, 10), rng.normal(0, 1, 10), 1.0) < 0.05 for _ in range(1500)]
    assert stats.equivalence_power(1.0, 1.0, 10) == pytest.approx(np.mean(shown), abs=0.04)  # 3 standard errors
    needed = stats.seeds_for_equivalence(1.0, 1.0)
    assert stats.equivalence_power(1.0, 1.0, needed) >= 0.8 > stats.equivalence_power(1.0, 1.0, needed - 1)


def test_with_seeds_alike_the_interval_is_the_test_sets_alone_by_hand():
    # Three runs per arm, alike; the variant gets images 0-14 of 20 right, the baseline 0-11: the arms differ
    # on images 12-14 only, d_i = 1 there and 0 elsewhere, and nothing varies over seeds or interacts.
    variant = np.tile(np.arange(20) < 15, (3, 1))
    baseline = np.tile(np.arange(20) < 12, (3, 1))
    variance = (3 - 20 * 0.15**2) / 19 / 20  # the sample variance of d over 20 images, over 20
    assert stats.variance_parts(variant, baseline) == pytest.approx((0, 0, variance))
    found = stats.with_test_images(variant, baseline, margin=0.1)
    half = scipy_stats.t.ppf(0.975, 19) * math.sqrt(variance)  # df: the test set's alone, 20 - 1
    assert found.difference == pytest.approx(0.15) and found.df == pytest.approx(19)
    assert (found.ci_low, found.ci_high) == pytest.approx((0.15 - half, 0.15 + half))
    assert found.p_value == pytest.approx(2 * scipy_stats.t.sf(0.15 / math.sqrt(variance), 19))
    # 0.15 lies beyond +margin: TOST's p is that of "difference < 0.1", above one half.
    assert found.tost_p == pytest.approx(scipy_stats.t.cdf(0.05 / math.sqrt(variance), 19))


def test_against_a_baseline_always_right_the_variance_is_the_textbook_anova_of_the_variant():
    # A baseline right on every image adds nothing, so the variance is that of the variant's mean accuracy
    # under a two-way crossed random design: (MS_runs + MS_images - MS_interaction) / (runs images), with the
    # interaction's sum of squares what is left of the total by the runs' and the images'.
    variant = np.random.default_rng(3).random((3, 20)) < np.linspace(0, 1, 20)
    baseline = np.ones((3, 20), dtype=bool)
    table = variant.astype(float)
    grand, runs, images = table.mean(), table.mean(axis=1), table.mean(axis=0)
    ss_runs, ss_images = 20 * ((runs - grand) ** 2).sum(), 3 * ((images - grand) ** 2).sum()
    ss_interaction = ((table - grand) ** 2).sum() - ss_runs - ss_images
    ms_runs, ms_images, ms_interaction = ss_runs / 2, ss_images / 19, ss_interaction / (2 * 19)
    assert ms_images > ms_interaction  # the floor at 0 does not apply
    parts = stats.variance_parts(variant, baseline)
    assert sum(parts) == pytest.approx((ms_runs + ms_images - ms_interaction) / 60)
    assert parts[0] == pytest.approx(runs.var(ddof=1) / 3) and parts[1] == 0  # the seeds' part: Welch's


def test_the_combined_variance_is_unbiased_for_seeds_and_images_drawn_anew():
    # Replays of a crossed design: each replay draws new runs (seed effects) and a new test set of 20 images
    # that the two arms see differently. The spread of the difference over replays is what the interval must
    # hold; the seeds' part alone (Welch's) falls well short of it, the three parts together do not.
    rng = np.random.default_rng(7)
    differences, estimates, seeds_only = [], [], []
    for _ in range(3000):
        image = rng.normal(size=(2, 20)) * [[1.0], [1.0]] + rng.normal(size=20)  # shared and each arm's own
        seed = rng.normal(scale=0.3, size=(2, 3, 1))
        correct = seed + image[:, None, :] + rng.normal(size=(2, 3, 20)) > -0.8
        differences.append(correct[0].mean() - correct[1].mean())
        parts = stats.variance_parts(correct[0], correct[1])
        estimates.append(sum(parts))
        seeds_only.append(parts[0] + parts[1])
    truth = np.var(differences, ddof=1)
    assert np.mean(estimates) == pytest.approx(truth, rel=0.1)
    assert np.mean(seeds_only) < 0.6 * truth


def test_interval_p_is_below_alpha_exactly_where_the_interval_excludes_the_null():
    # By hand: log midpoint 0.1, log half-width 0.08 = 1.96 standard errors.
    low, high = math.exp(0.02), math.exp(0.18)
    z = 0.1 / (0.08 / scipy_stats.norm.ppf(0.975))
    assert stats.interval_p(low, high) == pytest.approx(2 * scipy_stats.norm.sf(z))
    assert stats.interval_p(1.001, 1.2) < 0.05 < stats.interval_p(0.999, 1.2)
    assert stats.interval_p(1 / 1.2, 1 / 1.05) == pytest.approx(stats.interval_p(1.05, 1.2))  # either side of 1
    assert math.isnan(stats.interval_p(math.nan, 1.2))


def test_paired_effect_size_is_cohens_dz():
    result = stats.paired(STACK, SINGLE[:5], margin=0.01)
    differences = np.subtract(STACK, SINGLE[:5])
    assert result.effect == "cohens_dz" and stats.welch(STACK, SINGLE, 0.01).effect == "hedges_g"
    assert result.effect_size == pytest.approx(differences.mean() / differences.std(ddof=1))


INTERACTION = (1, -1, -1, 1)  # (stack - rival) with batch norm, less (stack - rival) without


def test_a_contrast_of_four_arms_over_seeds_is_welch_satterthwaite_by_hand():
    arms = [[0.91, 0.93, 0.92, 0.95], [0.88, 0.86, 0.90], [0.80, 0.85, 0.83, 0.79, 0.84], [0.86, 0.87, 0.89]]
    parts = [np.var(arm, ddof=1) / len(arm) for arm in arms]  # each weight squared is 1
    value = np.mean(arms[0]) - np.mean(arms[1]) - np.mean(arms[2]) + np.mean(arms[3])
    se = math.sqrt(sum(parts))
    df = sum(parts) ** 2 / sum(part**2 / (len(arm) - 1) for part, arm in zip(parts, arms, strict=True))
    found = stats.contrast(arms, INTERACTION)
    assert (found.value, found.se, found.df) == pytest.approx((value, se, df))
    half = scipy_stats.t.ppf(0.975, df) * se
    assert (found.ci_low, found.ci_high) == pytest.approx((value - half, value + half))
    assert found.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(value) / se, df))
    # Two arms weighted +1 and -1: Welch's test itself.
    welch = scipy_stats.ttest_ind(arms[0], arms[1], equal_var=False)
    assert stats.contrast(arms[:2], (1, -1)).p_value == pytest.approx(welch.pvalue)


def test_with_seeds_alike_a_four_arm_contrast_is_the_test_sets_alone_by_hand():
    # Runs alike within each arm, right on images below 15, 12, 10 and 10 of 20: d_i = 1 on images 12-14 only.
    arms = [np.tile(np.arange(20) < right, (3, 1)) for right in (15, 12, 10, 10)]
    variance = (3 - 20 * 0.15**2) / 19 / 20
    assert stats.contrast_parts(arms, INTERACTION) == pytest.approx((0, 0, 0, 0, variance))
    found = stats.contrast(arms, INTERACTION)
    assert (found.value, found.df) == pytest.approx((0.15, 19))
    half = scipy_stats.t.ppf(0.975, 19) * math.sqrt(variance)
    assert (found.ci_low, found.ci_high) == pytest.approx((0.15 - half, 0.15 + half))
    assert math.isnan(stats.contrast([arm[:, :10] for arm in arms], INTERACTION).ci_low)  # nothing varies


def test_a_four_arm_contrasts_variance_is_unbiased_for_seeds_and_images_drawn_anew():
    # As for two arms: each replay draws new runs per arm and a new test set of 20 images that the four arms
    # (four models) see differently; the contrast's spread over replays is what its variance must estimate.
    rng = np.random.default_rng(11)
    contrasts, estimates, seeds_only = [], [], []
    for _ in range(2000):
        image = rng.normal(size=(4, 20)) + rng.normal(size=20)
        seed = rng.normal(scale=0.3, size=(4, 3, 1))
        correct = seed + image[:, None, :] + rng.normal(size=(4, 3, 20)) > -0.8
        contrasts.append(stats.contrast(correct, INTERACTION).value)
        parts = stats.contrast_parts(correct, INTERACTION)
        estimates.append(sum(parts))
        seeds_only.append(sum(parts[:4]))
    truth = np.var(contrasts, ddof=1)
    assert np.mean(estimates) == pytest.approx(truth, rel=0.1)
    assert np.mean(seeds_only) < 0.7 * truth


def test_the_mean_interval_is_scipys_t_interval():
    low, high = scipy_stats.t.interval(0.95, len(STACK) - 1, loc=np.mean(STACK), scale=scipy_stats.sem(STACK))
    assert stats.mean_interval(STACK) == pytest.approx((np.mean(STACK), low, high))
    mean, *interval = stats.mean_interval([0.9])
    assert mean == 0.9 and all(math.isnan(bound) for bound in interval)
