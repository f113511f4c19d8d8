"""Group-sequential verdicts: look after each round of seeds per arm, stop a comparison once it is decided.

The design fixes before the run the seeds per arm at each look, n_1 < ... < n_K = max_seeds, and an
alpha-spending function alpha(t) of the information fraction t_k = n_k / n_K (Lan & DeMets 1983,
Biometrika 70:659-663; Jennison & Turnbull 2000, Group Sequential Methods, ch. 7):

- O'Brien-Fleming type, spent on each side at alpha / 2: alpha(t) = 4 (1 - Phi(z_{1 - alpha/4} / sqrt(t)))
  (two-sided total; the per-side form of gsDesign's sfLDOF and of ldbounds);
- Pocock type: alpha(t) = alpha ln(1 + (e - 1) t).

The z-boundaries c_k make the chance under H0 of first crossing |Z_k| >= c_k at look k equal
alpha(t_k) - alpha(t_{k-1}), where Z_k = S_k / sqrt(t_k) and the score S_k has independent normal increments
of variance t_k - t_{k-1} (so corr(Z_i, Z_j) = sqrt(t_i / t_j)). They are computed by numerical integration of
the density of S_k over the continuation region, look by look (Armitage, McPherson & Rowe 1969, JRSS A
132:235-244; Jennison & Turnbull ch. 19), on a Simpson grid.

Few seeds: each look's statistic is a t, not a z: the row's own test, counting the seeds and the test set's
sampling on Satterthwaite's degrees of freedom where the runs kept per-image results (stats.with_test_images),
else Welch's over the seeds. Each boundary is turned into a nominal p-value, 2 (1 - Phi(c_k)), and the look's
p-value is compared with it (the nominal-p approach to group-sequential t-tests; Jennison & Turnbull ch. 3 and
11 discuss it); `vggbench design` checks by simulation that the error rate holds at these sample sizes.

Equivalence (TOST) has its own spending: each one-sided test at level alpha, as TOST does, against the
boundaries of the same spending function at one-sided alpha (two-sided 2 alpha: the chance of crossing both
sides is negligible). The two boundary sets are computed apart (non-binding): stopping for one only lowers
the chance of crossing the other, which keeps both conservative.

Holm over the family of comparisons, at every look, is the group-sequential Holm of Maurer & Bretz (2013,
Stat. Biopharm. Res. 5:311-320): each hypothesis not yet rejected holds alpha / m' (m' of its family not yet
rejected, over all looks so far), is tested against the boundary of that level, and a rejection passes its
share on within the look (step-down). Difference and equivalence are two families, as in the fixed verdicts.
Each decision keeps the level it was tested at (its Holm step's share, through the look's boundary) and the step.

A share passed on also reaches back (Maurer & Bretz's recycling): where the look's own p-values cross no more
boundaries, each hypothesis still open is retested with its p-value at every earlier look it was tested at
(open, with the seeds), against that look's boundary recomputed for its raised share (a larger alpha spends more
at every look). One that crosses is rejected at this look, at the next Holm step, and passes its share on in
turn, until none crosses. Its decision names the look whose p-value crossed (`crossed_look`), and every open
decision carries each look's statistics (`history`) for the retests of the looks after it.

With one look the boundary is the fixed test's: the fixed design is the one-look case, today's verdict rules.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import optimize, stats

from vggbench.stats import hypothesis as tests
from vggbench.verdicts.spending import OBRIEN_FLEMING, SPENDING
from vggbench.verdicts.vocabulary import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, SUPPORTED

CONTINUE = "continue"  # not decided yet: the comparison takes the next round of seeds
DIFFERENT = (SUPPORTED, CONTRADICTED)
_GRID = 401  # Simpson points over a look's continuation region: boundaries to ~1e-6 in z
_Z_CAP = 9.0  # beyond this the normal tail (1e-19) is nothing: a boundary here means "no alpha spent"


def _simpson_weights(points: int, width: float) -> np.ndarray:
    weights = np.ones(points)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return weights * width / (points - 1) / 3


def _crossing(grid: np.ndarray, mass: np.ndarray, sigma: float, bound: float) -> float:
    """The chance of having continued so far (sub-density `mass` on `grid`) and now |S| >= bound."""
    return float(mass @ (stats.norm.sf((bound - grid) / sigma) + stats.norm.cdf((-bound - grid) / sigma)))


def _boundary(grid: np.ndarray, mass: np.ndarray, sigma: float, root: float, spend: float) -> float:
    """The z whose crossing chance (falling in z; the bound on S is z sqrt(t)) equals `spend`: the cap where
    even the cap spends more."""

    def excess(z: float) -> float:
        return _crossing(grid, mass, sigma, z * root) - spend

    return _Z_CAP if excess(_Z_CAP) >= 0 else float(optimize.brentq(excess, 0.0, _Z_CAP, xtol=1e-9))


@functools.lru_cache(maxsize=256)
def boundaries(fractions: tuple[float, ...], alpha: float, spending: str = OBRIEN_FLEMING) -> tuple[float, ...]:
    """Two-sided z-boundaries c_1..c_K at these increasing information fractions (the last 1), total `alpha`."""
    t = np.asarray(fractions, dtype=float)
    increments = np.diff(SPENDING[spending](t, alpha), prepend=0.0)
    found = [min(float(stats.norm.isf(increments[0] / 2)), _Z_CAP)]
    edge = found[0] * math.sqrt(t[0])
    grid = np.linspace(-edge, edge, _GRID)
    density = stats.norm.pdf(grid, scale=math.sqrt(t[0]))
    for k in range(1, len(t)):
        sigma = math.sqrt(t[k] - t[k - 1])
        mass = density * _simpson_weights(_GRID, 2 * edge)
        root = math.sqrt(t[k])
        z = _boundary(grid, mass, sigma, root, increments[k])
        found.append(z)
        edge = z * root
        new_grid = np.linspace(-edge, edge, _GRID)
        density = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / sigma) @ mass / sigma
        grid = new_grid
    return tuple(found)


@functools.lru_cache(maxsize=1024)  # asked at every Holm step and retest of every look: a simulation asks thousands
def nominal_levels(fractions: tuple[float, ...], alpha: float, spending: str, sides: int = 2) -> tuple[float, ...]:
    """The nominal p-value each look's test must reach: two-sided (`sides` 2) at total `alpha`, or one-sided
    at `alpha` (`sides` 1: each TOST test). One look at the whole information is the fixed test: `alpha`."""
    if len(fractions) == 1:
        return (alpha,)
    two_sided = alpha if sides == 2 else 2 * alpha
    return tuple(float(sides * stats.norm.sf(z)) for z in boundaries(fractions, two_sided, spending))


@dataclass(frozen=True)
class Plan:
    """A stopping rule by alpha spending, fixed before the run: seeds per arm at each look, the spending function,
    alpha. What the engine and the claim ask of a design's rule (vggbench.verdicts.designs.StoppingRule): its
    looks, the level at a look, a look's decisions (`decide`), and how notes and claim.md name it."""

    SEQUENTIAL: ClassVar[bool] = True  # takes seeds in rounds, a look after each
    KNOBS: ClassVar[tuple[str, ...]] = ()  # the design keys it reads besides max_seeds (others are refused)

    looks: tuple[int, ...]
    spending: str = OBRIEN_FLEMING
    alpha: float = tests.ALPHA

    @property
    def fractions(self) -> tuple[float, ...]:
        return tuple(n / self.looks[-1] for n in self.looks)

    def level(self, look: int, alpha: float, sides: int = 2) -> float:
        """The nominal level of look `look` (1-based) for a hypothesis holding `alpha`."""
        return nominal_levels(self.fractions, alpha, self.spending, sides)[look - 1]

    def decide(self, look: int, samples: Mapping[Hashable, tuple], margin: float, earlier=None) -> dict:
        """Every comparison of a family at look `look`: `judge`, Holm in the boundaries."""
        return judge(self, look, samples, margin, earlier)

    @property
    def words(self) -> str:
        """How a note names the rule beside a look: its spending."""
        return f"{self.spending} spending"

    def describe(self) -> str:
        """claim.md's sentence on how the accuracy rows were decided ('' where the fixed verdicts decide them)."""
        return ""


@dataclass(frozen=True)
class Decision:
    """One comparison (variant - baseline) at the look that decided it, or at the latest look."""

    verdict: str  # supported / contradicted / equivalent / inconclusive (after the last look) / continue
    look: int  # 1-based
    seeds: int  # per arm at that look
    difference: float
    p_value: float  # two-sided: seeds and test images crossed (stats.with_test_images), or Welch over seeds
    tost_p: float
    level: float  # the nominal level p_value was tested at there: the look's boundary for its Holm step's share
    equivalence_level: float  # the same for tost_p (each one-sided test)
    step: int  # p_value's Holm step at that look (1: the smallest p; not rejected: where the step-down stopped)
    steps: int  # the difference family's hypotheses not rejected when the look began (step 1 splits alpha by them)
    equivalence_step: int  # the same for tost_p in the equivalence family
    equivalence_steps: int
    # The look whose p (TOST p where equivalent) crossed `level`: `look`, or an earlier one retested at the share a
    # rejection raised (Maurer-Bretz recycling); 0 where none crossed.
    crossed_look: int = 0
    # (difference, p, TOST p) at looks 1..`look`, NaNs at a look it was not tested at: what a later look retests.
    history: tuple[tuple[float, float, float], ...] = ()


def _step_down(p_values: dict, holding: int, level) -> tuple[dict, int]:
    """Maurer & Bretz's Holm over `holding` hypotheses at the look each history in `p_values` (a key's p at looks
    1..K, NaN where not tested) ends at: step j holds alpha / (holding - j + 1), tested through level(j, look), the
    boundary of look `look` for that share (`_held_to`). Each step rejects one key (`_next_rejection`). Returns the
    rejected keys with the step that rejected each and the look whose p crossed, and the step where it stopped:
    the share every key not rejected holds."""
    rejected: dict = {}
    step = 1
    while step <= holding and (found := _next_rejection(p_values, rejected, step, level)):
        key, look = found
        rejected[key] = step, look
        step += 1
    return rejected, step


def _next_rejection(p_values: dict, rejected: dict, step: int, level) -> tuple | None:
    """The key that Holm step `step` rejects, with the look whose p crossed: the smallest p of the latest look
    where it crosses the boundary for the step's share (the step-down within a look); else the smallest p at an
    earlier look that crosses that look's boundary for the share, the latest such look first (the retest); None
    where none crosses (a NaN p: not tested there, never crosses)."""
    remaining = {key: history for key, history in p_values.items() if key not in rejected}
    for look in range(max(map(len, remaining.values()), default=0), 0, -1):
        bound = level(step, look)
        crossing = [key for key, history in remaining.items() if history[look - 1] < bound]
        if crossing:
            return min(crossing, key=lambda key: remaining[key][look - 1]), look
    return None


def _held_to(plan: Plan, look: int, holding: int, step: int, sides: int = 2) -> float:
    """The nominal level of Holm step `step` of `holding` at look `look`: the boundary for alpha / (holding -
    step + 1), the share a hypothesis holds once step - 1 of the family's are rejected."""
    return plan.level(look, plan.alpha / (holding - step + 1), sides)


def _test(variant, baseline, margin: float) -> tuple[float, float, float]:
    """(difference, p, TOST p) of two arms' accuracies by Welch's test; where each arm is its runs' per-image
    correctness (runs x images), by the test that counts the test set's sampling too (stats.with_test_images)."""
    a, b = np.asarray(variant, dtype=float), np.asarray(baseline, dtype=float)
    if a.ndim == 2:
        found = tests.with_test_images(a, b, margin)
        return found.difference, found.p_value, found.tost_p
    if np.ptp(np.concatenate([a - a.mean(), b - b.mean()])) <= 1e-12:  # no spread: no test (as stats.welch)
        return float(a.mean() - b.mean()), math.nan, math.nan
    p_value = stats.ttest_ind(a, b, equal_var=False).pvalue
    return float(a.mean() - b.mean()), float(p_value), tests.tost(a, b, margin)


def judge(plan: Plan, look: int, samples: Mapping[Hashable, tuple], margin: float, earlier=None) -> dict:
    """Every comparison of a family at look `look` (1-based): `samples` maps each to (variant values, baseline
    values), the seeds of this look; `earlier` is the previous look's answer, whose decided comparisons are
    carried over untested and whose open ones bring their earlier looks' statistics for the retest. Returns a
    Decision per key; after the last look none is left to continue."""
    earlier = earlier or {}
    open_keys = [key for key in samples if earlier.get(key, None) is None or earlier[key].verdict == CONTINUE]
    histories = {key: _history(earlier.get(key), look, _test(*samples[key], margin)) for key in open_keys}
    size = len(samples)
    held = size - sum(decision.verdict in DIFFERENT for decision in earlier.values())
    p_values = {key: [p for _, p, _ in history] for key, history in histories.items()}
    different, stop = _step_down(p_values, held, lambda step, at: _held_to(plan, at, held, step))
    held_eq = size - sum(decision.verdict == EQUIVALENT for decision in earlier.values())
    rest = {key: [tost_p for *_, tost_p in history] for key, history in histories.items() if key not in different}
    equivalent, stop_eq = _step_down(rest, held_eq, lambda step, at: _held_to(plan, at, held_eq, step, sides=1))
    last = look == len(plan.looks)
    decisions = dict(earlier)
    for key, history in histories.items():
        (step, at), (step_eq, at_eq) = different.get(key, (stop, look)), equivalent.get(key, (stop_eq, look))
        if key in different:  # the direction the crossing look's difference took
            verdict, crossed = SUPPORTED if history[at - 1][0] > 0 else CONTRADICTED, at
        else:
            verdict = EQUIVALENT if key in equivalent else (INCONCLUSIVE if last else CONTINUE)
            crossed = at_eq if key in equivalent else 0
        levels = _held_to(plan, at, held, step), _held_to(plan, at_eq, held_eq, step_eq, sides=1)
        tested = (verdict, look, plan.looks[look - 1], *history[-1], *levels, step, held, step_eq, held_eq)
        decisions[key] = Decision(*tested, crossed_look=crossed, history=history)
    return decisions


def _history(before: Decision | None, look: int, found: tuple) -> tuple:
    """A comparison's (difference, p, TOST p) at looks 1..`look`: those its decision at the previous look carried
    (none where it had none), NaNs for the looks it was not tested at, then this look's `found`."""
    kept = before.history if before is not None else ()
    return (*kept, *[(math.nan,) * 3] * (look - 1 - len(kept)), tuple(map(float, found)))


def replay(plan: Plan, samples: Mapping[Hashable, tuple], margin: float) -> dict:
    """The decisions of the last look `looks_judged` reached ({} where none)."""
    judged = looks_judged(plan, samples, margin)
    return judged[-1] if judged else {}


def looks_judged(plan: Plan, samples: Mapping[Hashable, tuple], margin: float) -> list[dict]:
    """The design run on per-seed values (each arm's, in seed order): look after look on the first n_k seeds,
    until every comparison is decided, the last look, or a look that a comparison still open has too few seeds
    for (a run still taking rounds: those comparisons are left to continue, or missing before the first look).
    A seed whose run failed is a NaN value (a NaN row of per-image results): it counts as trained, so a failure
    does not hold a look back, and is left out of the test. One dict of decisions per look made, each holding
    the earlier looks' decided comparisons as they were."""
    judged: list[dict] = []
    for look, seeds in enumerate(plan.looks, start=1):
        decisions = judged[-1] if judged else {}
        still_open = [key for key in samples if key not in decisions or decisions[key].verdict == CONTINUE]
        if not still_open or any(min(map(len, samples[key])) < seeds for key in still_open):
            break
        taken = {key: tuple(_completed(arm[:seeds]) for arm in arms) for key, arms in samples.items()}
        judged.append(plan.decide(look, taken, margin, decisions))
    return judged


def _completed(values) -> np.ndarray:
    """An arm's values without its failed runs (NaN values, or rows holding a NaN)."""
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values.reshape(len(values), -1)).any(axis=1)]


def expected_seeds(plan: Plan, sd: float, effect: float, margin: float, replays: int = 400, seed: int = 0) -> dict:
    """What the design spends where the true difference is `effect` and one run's spread `sd` (normal runs,
    `replays` simulated studies): seeds per arm (mean and most) and the share decided in the effect's favour."""
    rng = np.random.default_rng(seed)
    most = plan.looks[-1]
    decided = []
    for _ in range(replays):
        arms = (rng.normal(effect, sd, most), rng.normal(0.0, sd, most))
        decided.append(replay(plan, {0: arms}, margin)[0])
    seeds = np.array([decision.seeds for decision in decided])
    right = SUPPORTED if effect > 0 else CONTRADICTED
    share = sum(decision.verdict == right for decision in decided) / replays
    return {
        "sequential_seeds_mean": float(seeds.mean()),
        "sequential_seeds_max": int(seeds.max()),
        "sequential_power": share,
    }
