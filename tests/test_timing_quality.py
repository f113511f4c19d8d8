"""How far a timing can be trusted: the median's interval, the adaptive stopping rule, contention and the probe."""

import itertools

import numpy as np
import pytest
from scipy import stats

import vggbench
from vggbench.measure import noise, speed
from vggbench.measure.speed import SpeedSetup


@pytest.mark.parametrize("count", [6, 10, 20, 51, 200])
def test_median_interval_has_the_binomial_coverage(count):
    samples = np.arange(count, dtype=float)  # the k-th order statistic is k - 1
    low, high = speed.median_interval(samples)
    rank = int(low) + 1
    assert high == count - rank  # symmetric ranks
    # Coverage of [x_(k), x_(n+1-k)] is 1 - 2 P(B <= k - 1); it must reach 95%, and the next rank must not.
    coverage = 1 - 2 * stats.binom.cdf(rank - 1, count, 0.5)
    assert coverage >= 0.95
    if rank + 1 <= count // 2:
        assert 1 - 2 * stats.binom.cdf(rank, count, 0.5) < 0.95


def test_median_interval_of_few_samples_is_their_range():
    assert speed.median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0)


class _Clock:
    """A clock that moves one second per draw."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _draws(values, clock):
    source = itertools.cycle(values)

    def draw():
        clock.now += 1.0
        return next(source)

    return draw


def _width(samples):
    return speed.relative_half_width(float(np.median(samples)), *speed.median_interval(samples))


def test_sampling_stops_as_soon_as_the_interval_is_narrow_enough():
    clock = _Clock()
    # Steady timings: 1.00 and 1.01 s alternating, so the interval is within 1% from the first check.
    samples, width, reached = speed.sample_until_narrow(_draws([1.0, 1.01], clock), _width, 0.02, 10, 0.0, 100.0, clock)
    assert len(samples) == 10 and reached and width <= 0.02


def test_sampling_goes_on_past_the_minimum_until_the_target():
    clock = _Clock()
    # The first 10 samples are wild; later ones are steady, so the median's interval narrows as they accumulate.
    values = iter([0.5, 2.0] * 5 + [1.0] * 1000)
    draw = _draws([0], clock)  # only for its clock

    def steadying():
        draw()
        return next(values)

    samples, width, reached = speed.sample_until_narrow(steadying, _width, 0.01, 10, 0.0, 1000.0, clock)
    assert reached and 10 < len(samples) < 100 and width <= 0.01


def test_sampling_flags_a_timing_that_stays_wide_at_the_cap():
    clock = _Clock()
    samples, width, reached = speed.sample_until_narrow(_draws([0.5, 1.5], clock), _width, 0.03, 10, 0.0, 25.0, clock)
    assert not reached and width > 0.03
    assert len(samples) == 25  # one draw per second until the 25 s cap


def test_sampling_draws_its_minimum_whatever_the_cap():
    clock = _Clock()
    samples, _, _ = speed.sample_until_narrow(_draws([0.5, 1.5], clock), _width, 0.03, 10, 12.0, 0.0, clock)
    assert len(samples) == 12  # 10 samples, and 12 s of them


def test_a_measured_row_says_how_far_it_can_be_trusted():
    spec = vggbench.ModelSpec(vggbench.custom(convs_per_block=[1, 2], widths=[4, 8]), "stack", resolution=16)
    setup = SpeedSetup(device="cpu", threads=1, batch_size=4, min_time_s=0.05, target_half_width=1.0)
    row = speed.measure(spec, setup)
    assert row["step_ms_ci_low"] <= row["step_ms_median"] <= row["step_ms_ci_high"]
    assert row["ci_half_width"] <= 1.0 and row["target_half_width"] == 1.0
    assert row["stable"] == (not noise.contended(row["other_cores"], 1))


@pytest.mark.parametrize(
    ("other_cores", "threads", "cores", "expected"),
    [(0.05, 2, 2, False), (1.0, 2, 2, True), (1.0, 1, 2, False), (1.5, 1, 2, True), (None, 2, 2, False)],
)
def test_contention_counts_the_cores_other_processes_took_from_our_threads(other_cores, threads, cores, expected):
    assert noise.contended(other_cores, threads, cores) is expected


def test_threads_above_the_idle_cores_draw_a_warning_naming_both():
    warning = noise.threads_warning(threads=2, idle=0.3, load_average=1.9, cores=2)
    assert "threads=2" in warning and "0.3 of 2 cores are idle" in warning and "1.90" in warning
    assert noise.threads_warning(threads=2, idle=1.9, load_average=0.1, cores=2) is None
    assert noise.threads_warning(threads=2, idle=None, load_average=None, cores=2) is None


def test_the_probe_reads_the_load_and_times_a_to_a(monkeypatch):
    monkeypatch.setattr(speed, "idle_cores", lambda: 0.4)  # a fake reading: most of the machine is busy
    monkeypatch.setattr(speed.os, "getloadavg", lambda: (1.7, 1.0, 0.5))
    probe = speed.noise_probe("cpu", threads=1)
    assert (probe.idle_cores, probe.load_average_1min, probe.threads) == (0.4, 1.7, 1)
    assert probe.aa_ci_low <= probe.aa_time_ratio <= probe.aa_ci_high and probe.aa_pairs >= 4
    assert probe.resolves == pytest.approx(max(1 - probe.aa_ci_low, probe.aa_ci_high - 1, 0))
    assert "resolved time ratios to +-" in probe.sentence() and "0.4 of" in probe.sentence()
    assert probe.to_dict()["resolves_time_ratio"] == probe.resolves


def test_a_flagged_row_names_each_reason_and_a_stable_or_old_row_none():
    missed = {"stable": False, "ci_half_width": 0.08, "target_half_width": 0.03, "other_cores": 0.0, "threads": 1}
    assert noise.unstable_reasons(missed) == ["interval +-8.0% missed its +-3.0% target"]
    shared = {**missed, "ci_half_width": 0.004, "other_cores": 1000.0}  # narrow, but other work took every core
    assert noise.unstable_reasons(shared) == ["other processes used 1000.0 cores"]
    assert noise.unstable_reasons({**missed, "stable": True}) == []
    assert noise.unstable_reasons({"time_ratio_median": 0.9}) == []  # a table from before the flag
