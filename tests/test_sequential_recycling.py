"""Maurer & Bretz's recycling in the group-sequential Holm: a share a rejection passes on reaches back to the
earlier looks, whose boundaries are recomputed for it. Synthetic families whose p-values are set look by look,
the levels they must meet computed apart (`nominal_levels`), and the error rate where some nulls are true."""

import numpy as np
import pytest
from scipy import stats

from vggbench.verdicts import sequential
from vggbench.verdicts import train as train_verdicts
from vggbench.verdicts.sequential import CONTINUE, Plan, judge, looks_judged, nominal_levels
from vggbench.verdicts.vocabulary import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, SUPPORTED

PLAN = Plan((4, 8, 12))  # O'Brien-Fleming spending, alpha 0.05
FRACTIONS = (1 / 3, 2 / 3, 1.0)


def _level(look: int, share: int, sides: int = 2) -> float:
    """The nominal level at look `look` for alpha / `share`, from the spending function's boundaries."""
    return nominal_levels(FRACTIONS, 0.05 / share, "obrien-fleming", sides)[look - 1]


def _arms_at(p_value: float, seeds: int) -> tuple[np.ndarray, np.ndarray]:
    """Two arms of the same spread (sd 1) whose Welch p-value is `p_value` (on 2 (seeds - 1) freedoms)."""
    spread = np.linspace(-1, 1, seeds)
    spread /= spread.std(ddof=1)
    return stats.t.isf(p_value / 2, 2 * seeds - 2) * np.sqrt(2 / seeds) + spread, spread.copy()


def _equal_arms_at(tost_p: float, seeds: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Two arms with the same mean whose TOST p-value against `margin` is `tost_p`: their spread set so that
    margin / se is the t quantile of `tost_p` (on 2 (seeds - 1) freedoms)."""
    spread = np.linspace(-1, 1, seeds)
    spread *= margin / (stats.t.isf(tost_p, 2 * seeds - 2) * np.sqrt(2 / seeds) * spread.std(ddof=1))
    return spread, spread.copy()


def _looks(family_at: dict, margin: float) -> list[dict]:
    """`judge` look after look, each look's arms made by `family_at[key](look, seeds)`."""
    judged = []
    for look, seeds in enumerate(PLAN.looks, start=1):
        samples = {key: make(look, seeds) for key, make in family_at.items()}
        judged.append(judge(PLAN, look, samples, margin, judged[-1] if judged else None))
    return judged


def _difference_family(recycled_p: float) -> dict:
    # "late" crosses alpha / 3 at look 3 only; "recycled" misses alpha / 3 at look 2, then nothing at look 3;
    # "null" differs by nothing. A margin too narrow for any equivalence.
    p_values = {
        "late": (0.5, 0.5, _level(3, 3) / 2),
        "recycled": (0.5, recycled_p, 0.5),
        "null": (1.0, 1.0, 1.0),
    }
    return {key: lambda look, seeds, p=p: _arms_at(p[look - 1], seeds) for key, p in p_values.items()}


def test_a_rejection_at_look_3_raises_a_share_whose_look_2_p_then_crosses():
    raised = _level(2, 2)  # alpha / 2 once "late" is rejected: O'Brien-Fleming at look 2
    recycled_p = np.sqrt(_level(2, 3) * raised)
    judged = _looks(_difference_family(recycled_p), margin=1e-3)
    at_2 = judged[1]["recycled"]
    assert (at_2.verdict, at_2.level, at_2.step, at_2.crossed_look) == (CONTINUE, _level(2, 3), 1, 0)
    assert _level(2, 3) < at_2.p_value < raised  # not rejected within look 2
    late, recycled, null = (judged[2][key] for key in ("late", "recycled", "null"))
    assert (late.verdict, late.level, late.step, late.crossed_look) == (SUPPORTED, _level(3, 3), 1, 3)
    assert recycled.p_value > _level(3, 2)  # look 3's own p does not cross the raised share
    assert (recycled.verdict, recycled.look, recycled.seeds) == (SUPPORTED, 3, 12)
    assert (recycled.level, recycled.step, recycled.steps, recycled.crossed_look) == (raised, 2, 3, 2)
    assert recycled.history[1][1] == pytest.approx(recycled_p)
    assert (null.verdict, null.level, null.step) == (INCONCLUSIVE, _level(3, 1), 3)  # the whole alpha, left
    note = train_verdicts._sequential_columns(recycled, PLAN)["note"]
    assert note.startswith("decided at look 3 of 3 (12 seeds per arm, obrien-fleming spending): ")
    assert note.endswith(
        f"p {recycled_p:.3g} at look 2 crossed the boundary {raised:.3g} for alpha 0.05 / 2 when retested at look 3 "
        "(Holm step 2 of 3, Maurer-Bretz recycling)"
    )


def test_an_earlier_p_above_the_raised_boundary_changes_nothing():
    raised = _level(2, 2)
    judged = _looks(_difference_family(raised * 1.2), margin=1e-3)
    late, recycled = judged[2]["late"], judged[2]["recycled"]
    assert late.verdict == SUPPORTED
    assert (recycled.verdict, recycled.level, recycled.step, recycled.crossed_look) == (
        INCONCLUSIVE,
        _level(3, 2),
        2,
        0,
    )


def test_the_direction_is_the_crossing_looks():
    # The retested look's difference was negative, look 3's positive: the stack lost where the p crossed.
    family = _difference_family(np.sqrt(_level(2, 3) * _level(2, 2)))
    family["recycled"] = lambda look, seeds, make=family["recycled"]: make(look, seeds)[:: 1 if look == 3 else -1]
    recycled = _looks(family, margin=1e-3)[2]["recycled"]
    assert recycled.history[1][0] < 0 < recycled.difference
    assert (recycled.verdict, recycled.crossed_look) == (CONTRADICTED, 2)


def test_the_equivalence_family_recycles_too():
    # TOST p set look by look (one-sided levels): "late" crosses alpha / 2 at look 3, "recycled" misses it at look
    # 2 but crosses the whole alpha there once "late" passes its share on. No difference at all: p 1.
    margin = 0.5
    raised = _level(2, 1, sides=1)
    tost_p = {
        "late": (0.4, 0.4, _level(3, 2, sides=1) / 2),
        "recycled": (0.4, np.sqrt(_level(2, 2, sides=1) * raised), 0.4),
    }
    family = {key: lambda look, seeds, p=p: _equal_arms_at(p[look - 1], seeds, margin) for key, p in tost_p.items()}
    judged = _looks(family, margin)
    assert judged[1]["recycled"].verdict == CONTINUE and judged[1]["recycled"].tost_p > _level(2, 2, sides=1)
    late, recycled = judged[2]["late"], judged[2]["recycled"]
    assert (late.verdict, late.equivalence_level, late.equivalence_step) == (EQUIVALENT, _level(3, 2, sides=1), 1)
    assert (recycled.verdict, recycled.equivalence_level, recycled.equivalence_step) == (EQUIVALENT, raised, 2)
    assert recycled.tost_p > _level(3, 1, sides=1) and recycled.crossed_look == 2
    assert recycled.history[1][2] == pytest.approx(tost_p["recycled"][1])
    note = train_verdicts._sequential_columns(recycled, PLAN)["note"]
    assert f"TOST p {tost_p['recycled'][1]:.3g} at look 2 crossed the boundary {raised:.3g} for alpha 0.05 / 1" in note


def test_the_fixed_design_has_no_earlier_look_to_retest():
    # One look: the step-down is today's Holm; every decision crossed (or not) at its only look.
    family = {key: _arms_at(p, 10) for key, p in {"a": 0.01, "b": 0.02, "c": 0.2}.items()}
    decisions = judge(Plan((10,)), 1, family, 1e-3)
    assert [decisions[key].verdict for key in family] == [SUPPORTED, SUPPORTED, INCONCLUSIVE]
    assert [decisions[key].level for key in family] == [0.05 / 3, 0.05 / 2, 0.05]
    assert [decisions[key].crossed_look for key in family] == [1, 1, 0]
    assert all(len(decision.history) == 1 for decision in decisions.values())


def test_a_comparison_first_judged_at_a_later_look_has_no_earlier_p_to_retest():
    # Judged from look 3 only (no earlier decision): its looks 1 and 2 are NaN, which never cross.
    family = _difference_family(np.sqrt(_level(2, 3) * _level(2, 2)))
    earlier = _looks({"late": family["late"], "null": family["null"]}, margin=1e-3)[1]
    samples = {key: make(3, 12) for key, make in family.items()}
    recycled = judge(PLAN, 3, samples, 1e-3, earlier)["recycled"]
    assert np.isnan(recycled.history[1][1]) and (recycled.verdict, recycled.crossed_look) == (INCONCLUSIVE, 0)


def _z_test(variant, baseline, margin: float) -> tuple[float, float, float]:
    """(difference, p, TOST p) of two arms of known sd 1: exact normal p-values, so that the simulation measures
    the procedure's error rate, not the t approximation's (`vggbench design` replays that one)."""
    difference = variant.mean() - baseline.mean()
    se = np.sqrt(1 / len(variant) + 1 / len(baseline))
    tost_p = max(stats.norm.sf((difference + margin) / se), stats.norm.sf((margin - difference) / se))
    return difference, 2 * stats.norm.sf(abs(difference) / se), tost_p


def _simulated_error(effects: tuple, replays: int, seed: int = 0) -> tuple[float, int]:
    """Over `replays` studies of comparisons at looks of 5, 10, 15 and 20 normal runs per arm (sd 1), one per true
    difference in `effects`: the share where a true null (an effect 0) was rejected, and how many rejections came
    from a retested earlier look."""
    rng = np.random.default_rng(seed)
    plan = Plan((5, 10, 15, 20))
    nulls = [key for key, effect in enumerate(effects) if effect == 0]
    wrong = recycled = 0
    for _ in range(replays):
        samples = {key: (rng.normal(effect, 1, 20), rng.normal(0, 1, 20)) for key, effect in enumerate(effects)}
        last = looks_judged(plan, samples, margin=1e-3)[-1]
        wrong += any(last[key].verdict in (SUPPORTED, CONTRADICTED) for key in nulls)
        recycled += sum(0 < decision.crossed_look < decision.look for decision in last.values())
    return wrong / replays, recycled


# The global null, then one and two false nulls (mostly rejected by look 3), whose shares reach the true ones.
@pytest.mark.slow  # about 7 s each on a free core
@pytest.mark.parametrize("effects", [(0, 0, 0), (1.2, 0, 0), (1.2, 1.2, 0)])
def test_the_error_rate_over_the_true_nulls_stays_at_alpha(effects, monkeypatch):
    monkeypatch.setattr(sequential, "_test", _z_test)
    replays = 4000
    rate, recycled = _simulated_error(effects, replays)
    low = stats.binomtest(round(rate * replays), replays).proportion_ci(0.95).low
    assert low <= 0.05, f"a true null rejected in {rate} of {replays}"  # not above alpha beyond chance
    assert recycled > 0 or effects == (0, 0, 0)
