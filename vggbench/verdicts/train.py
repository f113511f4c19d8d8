"""The training kind's verdicts: higher accuracy than each rival (more non-linearity helps, against the linear
stack) at the final epoch, one family Holm-adjusted with TOST; the same comparisons at every earlier epoch;
batch norm x variant; training as reliably (Fisher's exact test); and the power of each accuracy contrast
(`vggbench power`).

The rows at earlier epochs (each a budget: the optimizer steps taken by then) are named apart, "higher accuracy
at an earlier budget" and "more non-linearity helps at an earlier budget": the claim is judged where training
ends, and a stack that trails early and leads at the end (or the reverse) should not read as two verdicts on
the same part in the counts at a glance. They are their own Holm family, on the runs and seeds the final rows
judged, so they show when a verdict is reached without choosing what is compared after seeing it. Batch norm x
variant is a number beside the verdicts: how much batch norm moves the stack's difference from a rival.

Budgets as an axis (`epochs` as a list: each its own runs and whole schedule, `schedule_epochs` in the rows) are
groups of their own: each budget's comparisons are primary rows of the one accuracy family, and budget x variant,
beside them like batch norm x variant, is how much the longer schedule moves the stack's difference. A trend
over budgets, or over depths, is claimed only as such a stated contrast.

Recipes (`recipe` in the rows, schema.RECIPE): where a group of models trained at its arms' chosen recipes (tuned on
validation images, tuning.json), every family here (the final rows, the sequential design's looks, earlier budgets,
interactions, trainability and the power of each contrast) judges those runs, and a note on each row says that its
arms trained at their own recipes. Where the group also trained at the config's shared recipe, those runs' final
comparisons stand beside as sensitivity rows (SHARED_RECIPE), with no verdict. A table without `recipe`, or with
shared runs alone, is judged as before."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from vggbench.measure.setups import RECIPE_KNOBS
from vggbench.measure.training_rules import failed, final_epoch
from vggbench.models.schema import GROUP_KEYS, RECIPE, SCHEDULE, TUNED, given, keys_in
from vggbench.stats import correctness
from vggbench.stats import hypothesis as stats
from vggbench.verdicts.designs import GROUP_SEQUENTIAL, Design
from vggbench.verdicts.sequential import CONTINUE, expected_seeds, looks_judged
from vggbench.verdicts.vocabulary import (
    CONTRADICTED,
    DECIDED,
    EQUIVALENT,
    INCONCLUSIVE,
    INTERACTION_ROW,
    PRIMARY,
    SHARED_RECIPE,
    STACK,
    SUPPORTED,
    TRAINED_UNITS,
    accuracy_claim,
    adjust,
    compares_trained,
    contrasts,
    decide,
)

# The units of the rows' baseline_value, variant_value and difference (claim.csv's `unit`).
ACCURACY, FAILED_SHARE = TRAINED_UNITS


def _estimand(final: pd.DataFrame) -> str:
    """What the accuracy rows compare: accuracy after so many optimizer steps at the run's budget."""
    needed = {"optimizer_steps", "epoch", "train_images", "batch_size"}
    if not needed <= set(final.columns):
        return "final test accuracy"
    steps, epochs = int(final["optimizer_steps"].max()), int(final["epoch"].max())
    images, batch = int(final["train_images"].max()), int(final["batch_size"].max())
    return f"test accuracy after {steps:,} optimizer steps ({epochs} epochs of {images:,} images, batch {batch})"


def _compare(variant: pd.Series, baseline: pd.Series, margin: float, method) -> dict:
    values = {
        "baseline_value": float(baseline.mean()) if len(baseline) else math.nan,
        "variant_value": float(variant.mean()) if len(variant) else math.nan,
        "seeds_baseline": len(baseline),
        "seeds_variant": len(variant),
    }
    values["difference"] = values["variant_value"] - values["baseline_value"]
    if min(len(variant), len(baseline)) < 2:
        return {**values, "note": "fewer than two runs in an arm"}
    result = method(variant, baseline, margin)
    columns = ("ci_low", "ci_high", "p_value", "tost_p")
    sizes = (len(variant), 0) if result.effect == "cohens_dz" else (len(variant), len(baseline))  # paired: n pairs
    found = {column: getattr(result, column) for column in columns}
    return {**values, **found, result.effect: result.effect_size, _MDE_INPUTS: (result.sd, *sizes, result.df)}


_MDE_INPUTS = "_mde_inputs"  # (sd, n1, n2, df) of a row's test, until `_with_mde` knows the level it is tested at


def _with_mde(rows: list[dict]) -> None:
    """Each row's `mde` at the level it is tested at, stated in `mde_level` so it can be recomputed: a sequential
    primary row's `nominal_level` (its Holm step's share through its look's boundary), a fixed primary row's Holm
    step, alpha / (m - j + 1) (stats.holm_levels: for a row not rejected, the step where the step-down stopped),
    a sensitivity row's alpha (it is not tested)."""
    primary = [row for row in rows if row["analysis"] == PRIMARY]
    levels = stats.holm_levels([row.get("p_value", math.nan) for row in primary])
    holm = dict(zip(map(id, primary), levels, strict=True))
    for row in rows:
        inputs = row.pop(_MDE_INPUTS, None)
        level = row.get("nominal_level", math.nan)
        level = holm.get(id(row), stats.ALPHA) if math.isnan(level) else level
        if inputs is not None and not math.isnan(level):
            row.update(mde=stats.mde(*inputs, alpha=level), mde_level=level)


SEEDS_ONLY = "welch over seeds; no per-image correctness recorded, so test-set sampling is left out"
WITH_TEST_SET = "seeds and test-set sampling (stats.with_test_images)"
FOUR_ARMS = "welch-satterthwaite over the four arms' seeds"
INTERACTION_SEEDS_ONLY = f"{FOUR_ARMS}; no per-image correctness recorded, so test-set sampling is left out"
INTERACTION_WITH_TEST_SET = f"{FOUR_ARMS} and test-set sampling (stats.contrast)"


def _correctness(rows: pd.DataFrame) -> np.ndarray | None:
    """The runs' per-image test correctness (runs x images), or None where a run did not record it."""
    if rows.empty or "test_correct" not in rows or rows["test_correct"].isna().any():
        return None
    return np.stack([correctness.decode(text) for text in rows["test_correct"]])


def _unpaired(stack: pd.DataFrame, rival: pd.DataFrame, margin: float) -> dict:
    """The two arms compared with the test set's sampling where every run recorded it, else by Welch over
    the seeds alone; `interval_method` says which."""
    tables = _correctness(stack), _correctness(rival)
    if any(table is None for table in tables):
        return {**_compare(stack.test_acc, rival.test_acc, margin, stats.welch), "interval_method": SEEDS_ONLY}
    compared = _compare(stack.test_acc, rival.test_acc, margin, lambda *_: stats.with_test_images(*tables, margin))
    return {**compared, "interval_method": WITH_TEST_SET}


def _shared(claim: str, base: dict, stack: pd.DataFrame, rival: pd.DataFrame, margin: float) -> dict:
    """The columns every row of one comparison shares: the claim, the group, the arms, the margin and the
    runs that failed."""
    common = {"claim": claim, **base, "baseline": rival["variant"].iloc[0], "variant": STACK, "unit": ACCURACY}
    common["margin"] = margin
    return {**common, "failed_baseline": int(rival["failed"].sum()), "failed_variant": int(stack["failed"].sum())}


def _left_out(common: dict) -> str:
    left_out = common["failed_baseline"] + common["failed_variant"]
    return f"{left_out} failed run(s) left out" if left_out else ""


def _accuracy_rows(claim: str, base: dict, stack: pd.DataFrame, rival: pd.DataFrame, margin: float) -> list[dict]:
    """The primary comparison of the runs that did not fail, and its sensitivity analyses: all runs (where
    some failed), and runs paired by data order where seeds are shared."""
    common = _shared(claim, base, stack, rival, margin)
    kept_stack, kept_rival = stack[~stack["failed"]], rival[~rival["failed"]]
    rows = [{**common, "analysis": PRIMARY, **_unpaired(kept_stack, kept_rival, margin)}]
    if left_out := _left_out(common):
        rows[0]["note"] = left_out
        rows.append({**common, "analysis": "all runs (sensitivity)", **_unpaired(stack, rival, margin)})
    # Seed k fixes a run's data order, dropout stream and (with subset_per_seed) its training images, but not
    # its initial weights: each architecture draws its own from the seed, so stack and rival of one seed share
    # their data and nothing else.
    paired_stack, paired_rival = kept_stack.set_index("seed").test_acc.align(
        kept_rival.set_index("seed").test_acc, join="inner"
    )
    if len(paired_stack) >= 2:
        compared = _compare(paired_stack, paired_rival, margin, stats.paired)
        method = "paired t over seeds; test-set sampling left out"
        rows.append({**common, "analysis": "paired by data order (sensitivity)", **compared, "interval_method": method})
    return rows


def final_runs(train: pd.DataFrame) -> pd.DataFrame:
    """Each run's final epoch (crashed trials left out), marked failed or not by the run's failure rule."""
    final = final_epoch(train.dropna(subset=["test_acc"]))
    return final.assign(failed=failed(final))


def _shared_beside_tuned(train: pd.DataFrame) -> pd.Series:
    """Which rows are of runs at the shared recipe in a group of models (the variants compared, at one budget)
    that also trained at its arms' chosen recipes."""
    if RECIPE not in train:
        return pd.Series(False, index=train.index)
    tuned = train[RECIPE].eq(TUNED)
    group = [train[key] for key in keys_in(train, GROUP_KEYS) if key != RECIPE]
    return ~tuned & tuned.groupby(group, sort=False, dropna=False).transform("any")


def at_chosen_recipes(train: pd.DataFrame) -> pd.DataFrame:
    """The rows the verdicts judge: a group's runs at its arms' chosen (tuned) recipes where it has them, else its
    runs at the shared recipe (a table without `recipe` is all shared, and judged whole)."""
    return train[~_shared_beside_tuned(train)]


def judged_runs(train: pd.DataFrame) -> pd.DataFrame:
    """`final_runs` of the runs the verdicts judge (`at_chosen_recipes`)."""
    return final_runs(at_chosen_recipes(train))


CHOSEN = "each arm trained at its own chosen recipe (tuning.json)"
TUNED_NOTE = f"{CHOSEN}, which may differ between the arms"
SHARED_NOTE = "runs at the config's shared recipe, every seed trained at it: numbers beside the chosen recipes' rows"


def _with_recipe_notes(rows: list[dict]) -> list[dict]:
    """Each row whose arms trained at their chosen recipes says so in its note: they may differ."""
    for row in rows:
        if row.get(RECIPE) == TUNED:
            note = row.get("note")
            row["note"] = "; ".join(filter(None, (note if isinstance(note, str) else "", TUNED_NOTE)))
    return rows


def _differing(row: dict, train: pd.DataFrame) -> list[str] | None:
    """Where a claim row compares trained arms (its accuracy, its trainability, their interactions, their trained
    effective fields), the recipe knobs train.csv records (RECIPE_KNOBS; momentum only where an arm's optimizer is
    SGD, the one that reads it) whose values differ between the arms' runs in `train`, each in words ([] where they
    trained alike); None where the row compares no trained arms. The arms are the row's variant and baseline in the
    group its identity names."""
    if not compares_trained(row) or train.empty or "variant" not in train:
        return None
    runs = train
    for key in (key for key in GROUP_KEYS if key in train and given(row.get(key))):
        runs = runs[runs[key] == row[key]]
    arms = [runs[runs["variant"] == row.get(arm)] for arm in ("variant", "baseline")]
    if any(arm.empty for arm in arms):
        return None
    with_momentum = "optimizer" not in train or any(arm["optimizer"].eq("sgd").any() for arm in arms)
    knobs = [knob for knob in RECIPE_KNOBS if knob in train and (knob != "momentum" or with_momentum)]
    if not knobs:
        return None  # a table that records no recipe says nothing of whether the arms' differ
    differ = []
    for knob in knobs:
        values = [sorted(set(arm[knob].dropna()), key=str) for arm in arms]
        if values[0] != values[1]:
            differ.append(
                f"{knob} {_values(values[0])} for {row['variant']}, {_values(values[1])} for {row['baseline']}"
            )
    return differ


def recipe_note(row: dict, train: pd.DataFrame) -> str:
    """Where a claim row compares trained arms whose runs in `train` trained with different recipes, which knobs
    differ and how, in words (`_differing`); '' where the arms trained alike, or the row compares no trained arms."""
    differ = _differing(row, train)
    if not differ:
        return ""
    return f"the arms trained with different recipes ({'; '.join(differ)}): the difference is the recipes' as well"


def with_recipe_note(note: str, row: dict, train: pd.DataFrame) -> str:
    """`note` with what `train` says of the compared arms' recipes. A row at chosen recipes (TUNED_NOTE: they may
    differ) says in its place whether they did; any other row gains `recipe_note` where the recipes differ."""
    if TUNED_NOTE not in note:
        return "; ".join(filter(None, [note, recipe_note(row, train)]))
    differ = _differing(row, train)
    if differ is None:
        return note
    said = (
        f"{CHOSEN}, the same for both arms"
        if not differ
        else f"{CHOSEN}, and the two differ ({'; '.join(differ)}): the difference is the recipes' as well"
    )
    return note.replace(TUNED_NOTE, said)


def _values(found: list) -> str:
    """A knob's values in an arm, as a note names them: '0.001', 'adam or sgd', 'none'."""
    return " or ".join(f"{value:g}" if isinstance(value, float) else str(value) for value in found) or "none"


def _shared_recipe_rows(train: pd.DataFrame, margin: float) -> list[dict]:
    """The final comparisons again on the runs at the shared recipe of the groups that trained at their chosen
    recipes too: the primary analysis's numbers (failed runs left out, every seed), as a sensitivity row."""
    beside = train[_shared_beside_tuned(train)]
    rows = []
    for base, group, rival, stack, other in contrasts(final_runs(beside)) if not beside.empty else ():
        found = _accuracy_rows(accuracy_claim(rival), base, stack, other, margin)[0]
        note = "; ".join(filter(None, (found.get("note"), SHARED_NOTE)))
        rows.append({**found, "analysis": SHARED_RECIPE, "estimand": _estimand(group), **_budget(group), "note": note})
    return rows


def rows_of(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of `table` (any epoch) that belong to `runs` (rows naming a model and a seed)."""
    keys = [*keys_in(table), "seed"]
    return table.merge(runs[keys].drop_duplicates(), on=keys)


def _judged(train: pd.DataFrame, margin: float, design: Design, decisions: dict | None):
    """Each comparison the primary accuracy family makes (a Contrast of the runs' final rows) with its
    sequential decision (None under the fixed design, or before a look), the arms cut to the seeds it judged.
    `decisions`: those the run's rounds stored, or None to judge them here from the rows."""
    if decisions is None:
        decisions = sequential_decisions(train, design, margin) if design.sequential else {}
    for contrast in contrasts(judged_runs(train)):
        decision = decisions.get(comparison_key(contrast.base, contrast.rival))
        if decision is not None:
            contrast = contrast._replace(
                stack_rows=_first_seeds(contrast.stack_rows, decision.seeds),
                rival_rows=_first_seeds(contrast.rival_rows, decision.seeds),
            )
        yield contrast, decision


def _budget(rows: pd.DataFrame) -> dict:
    """The budget `rows` were measured at: their epoch, and the optimizer steps taken by then (where counted)."""
    steps = rows["optimizer_steps"].max() if "optimizer_steps" in rows else math.nan
    return {"epoch": int(rows["epoch"].max()), "optimizer_steps": steps}


def accuracy_claims(
    train: pd.DataFrame, margin: float, design: Design | None = None, decisions: dict | None = None
) -> list[dict]:
    """Higher accuracy than each rival: one family, Holm-adjusted, with TOST. Under a sequential `design` each
    comparison is judged at the look that decided it, on the seeds it had there (`decisions`, by default
    `sequential_decisions`)."""
    if train.empty or "test_acc" not in train:
        return []
    design = design or Design()
    rows = []
    for (base, group, rival, stack_rows, rival_rows), decision in _judged(train, margin, design, decisions):
        found = _accuracy_rows(accuracy_claim(rival), base, stack_rows, rival_rows, margin)
        rows += [{**row, "estimand": _estimand(group), **_budget(group), "design": design.design} for row in found]
        if design.sequential:
            rows[-len(found)].update(_sequential_columns(decision, design.rule))
    rows += _shared_recipe_rows(train, margin)
    adjust(rows)
    for row in rows:
        if "sequential_verdict" in row:  # Holm is in its boundary (Maurer & Bretz), not in adjusted p-values
            row.update(verdict=row.pop("sequential_verdict"), p_value_holm=math.nan, tost_p_holm=math.nan)
            row.update(_sequential_decided(row))
    _with_mde(rows)
    return _with_recipe_notes(rows)


def budget_claims(
    train: pd.DataFrame, margin: float, design: Design | None = None, decisions: dict | None = None
) -> list[dict]:
    """Higher accuracy at each earlier budget: for every comparison of the primary family and every epoch
    before the final one, the same statistics on the same runs (those that did not fail by the final rule, and
    under a sequential design the seeds of the deciding look, chosen before any budget was looked at). One
    Holm family of its own, beside the final one: when the stack leads, not only whether it leads at the end."""
    if train.empty or "test_acc" not in train:
        return []
    design = design or Design()
    recorded = train.dropna(subset=["test_acc"]).reset_index(drop=True)
    earlier = recorded.drop(index=final_epoch(recorded).index)
    rows = []
    for contrast, decision in _judged(train, margin, design, decisions):
        rows += [{**row, "design": design.design} for row in _budget_rows(contrast, decision, earlier, margin)]
    adjust(rows)
    _with_mde(rows)
    return _with_recipe_notes(rows)


def _budget_rows(contrast, decision, earlier: pd.DataFrame, margin: float) -> list[dict]:
    """One comparison at each epoch before the final one, on the runs its primary row judged."""
    base, _, rival, stack, other = contrast
    common = _shared(accuracy_claim(rival, earlier=True), base, stack, other, margin)
    looked = f"the seeds of look {decision.look} ({decision.seeds} per arm), as the final row" if decision else ""
    note = "; ".join(filter(None, (_left_out(common), looked)))
    rows = []
    for _, at in rows_of(earlier, pd.concat([stack[~stack["failed"]], other[~other["failed"]]])).groupby("epoch"):
        compared = _unpaired(at[at["variant"] == STACK], at[at["variant"] == rival], margin)
        rows.append({**common, "analysis": PRIMARY, **_budget(at), **compared, **({"note": note} if note else {})})
    return rows


INTERACTION = "batch norm x variant"
BUDGET_INTERACTION = "budget x variant"
# (stack - rival) at a factor's level, less (stack - rival) at its reference level: the weights of the four arms
# in that order.
INTERACTION_WEIGHTS = (1, -1, -1, 1)


class Factor(NamedTuple):
    """What an interaction row crosses with the variant: a group column, the level every other level is
    compared with (from the column's values in the table), how a note names a level, and what the arms share."""

    claim: str
    column: str
    reference: Callable[[pd.Series], object]
    level: Callable[[object], str]
    shared: str = ""


# Batch norm: with against without. Budgets (`epochs` as a list, each its own schedule): each longer budget against
# the shortest, so k budgets give k - 1 rows and none is judged twice. A seed draws the same initial weights, data
# order, dropout and training images for one model at every budget (measure._train_setup), so a variant's arms at
# two budgets are not independent, as `stats.contrast` takes them.
FACTORS = (
    Factor(INTERACTION, "batch_norm", lambda _: False, lambda normed: "with batch norm" if normed else "without"),
    Factor(
        BUDGET_INTERACTION,
        SCHEDULE,
        lambda budgets: budgets.min(),
        lambda epochs: f"at {epochs} epoch{'s' if epochs != 1 else ''}",
        "; a seed starts each variant from the same weights, data order and images at both budgets, which the "
        "interval takes for independent arms: the shared seeds' covariance (likely positive, the same run "
        "trained longer) is left out, so the interval is likely wider than it need be",
    ),
)


def interaction_claims(
    train: pd.DataFrame, margin: float, design: Design | None = None, decisions: dict | None = None
) -> list[dict]:
    """Batch norm x variant and budget x variant: where a group was trained at two levels of a factor (with and
    without batch norm, at two budgets), all else equal, per rival, whether the factor changes the comparison,
    on the runs the two primary rows judged. Numbers beside the verdicts, no verdict: the claim says nothing
    about batch norm, nor about how the stack's lead grows with the budget."""
    if train.empty or "test_acc" not in train:
        return []
    judged = _judged(train, margin, design or Design(), decisions)
    judged = {comparison_key(found.base, found.rival): found for found, _ in judged}
    rows, judged_rows = [], at_chosen_recipes(train)  # a factor's reference level is among the runs judged
    for factor in (factor for factor in FACTORS if factor.column in train):
        reference = factor.reference(judged_rows[factor.column])
        for found in judged.values():
            other = judged.get(comparison_key({**found.base, factor.column: reference}, found.rival))
            if found.base[factor.column] != reference and other is not None:
                rows.append(_interaction_row(found, other, factor))
    return _with_recipe_notes(rows)


def _interaction_row(found, reference, factor: Factor) -> dict:
    """The difference of the two differences at the final epoch, (stack - rival at the factor's level of `found`)
    - (stack - rival at its `reference` level), with its 95% interval: Welch-Satterthwaite over the four arms'
    runs (stats.contrast), with the shared test set's sampling where every run recorded per-image correctness."""
    arms = [
        rows[~rows["failed"]]
        for rows in (found.stack_rows, found.rival_rows, reference.stack_rows, reference.rival_rows)
    ]
    level, other = (factor.level(contrast.base[factor.column]) for contrast in (found, reference))
    base = {key: value for key, value in found.base.items() if key != factor.column}
    row = {"claim": factor.claim, **base, "analysis": INTERACTION_ROW, "baseline": found.rival, "variant": STACK}
    row["unit"] = ACCURACY
    row.update(_interaction_budget(found, reference, factor), verdict=math.nan)
    means = [arm["test_acc"].mean() for arm in arms]
    at_level, at_reference = means[0] - means[1], means[2] - means[3]
    row["note"] = (
        f"(stack - {found.rival}) {level} {at_level:+.4f} less {other} {at_reference:+.4f}; runs per arm "
        f"{', '.join(str(len(arm)) for arm in arms)} (stack and {found.rival} {level}, then {other}), "
        f"runs that failed left out; numbers, no verdict{factor.shared}"
    )
    if min(map(len, arms)) < 2:
        return {**row, "difference": at_level - at_reference, "note": f"{row['note']}; fewer than two runs in an arm"}
    tables = [_correctness(arm) for arm in arms]
    per_image = all(table is not None for table in tables)
    estimate = stats.contrast(tables if per_image else [arm["test_acc"] for arm in arms], INTERACTION_WEIGHTS)
    row.update(difference=estimate.value, ci_low=estimate.ci_low, ci_high=estimate.ci_high, p_value=estimate.p_value)
    return {**row, "interval_method": INTERACTION_WITH_TEST_SET if per_image else INTERACTION_SEEDS_ONLY}


def _interaction_budget(found, reference, factor: Factor) -> dict:
    """What an interaction row compares at: the budget both comparisons share, or where the factor is the
    budget, the end of each schedule (no one epoch)."""
    if factor.column != SCHEDULE:
        return {"estimand": _estimand(found.group), **_budget(found.group)}
    ends = (f"{factor.level(contrast.base[SCHEDULE])}, {_estimand(contrast.group)}" for contrast in (found, reference))
    return {"estimand": "the stack's difference from the rival {}; less {}".format(*ends)}


def comparison_key(base: dict, rival: str) -> tuple:
    """How a sequential decision names the comparison of the stack against `rival` in the group `base`."""
    return (*sorted(base.items()), rival)


def sequential_decisions(train: pd.DataFrame, design: Design, margin: float) -> dict:
    """The decisions of the last look `decided_looks` reached: a Decision per comparison (by `comparison_key`)
    that had enough seeds for a look."""
    judged = decided_looks(train, design, margin)
    return judged[-1] if judged else {}


def decided_looks(train: pd.DataFrame, design: Design, margin: float) -> list[dict]:
    """The design's looks on the runs so far (vggbench.verdicts.sequential.looks_judged), the decisions after
    each. A look takes the first n_k seeds trained, failed runs among them marked NaN (the rounds train seeds,
    not survivors)."""
    samples = {}
    for base, _, rival, stack_rows, rival_rows in contrasts(judged_runs(train)):
        stack, other = (rows.sort_values("seed") for rows in (stack_rows, rival_rows))
        if min((~stack["failed"]).sum(), (~other["failed"]).sum()) < 2:
            continue
        tables = _correctness(stack), _correctness(other)  # per-image results: the test set's sampling counts
        arms = tables if all(table is not None for table in tables) else (stack.test_acc, other.test_acc)
        samples[comparison_key(base, rival)] = tuple(
            np.where(rows["failed"].to_numpy().reshape(-1, *[1] * (np.ndim(arm) - 1)), np.nan, arm)
            for rows, arm in zip((stack, other), arms, strict=True)
        )
    return looks_judged(design.rule, samples, margin)


def _first_seeds(rows: pd.DataFrame, kept: int) -> pd.DataFrame:
    """The runs of the first `kept` seeds, failed or not: the seeds a look judged."""
    return rows.sort_values("seed").head(kept)


def _sequential_columns(decision, plan) -> dict:
    """The primary row's verdict from its decision, with the look, the levels it was tested at and a note naming
    the statistic and the boundary it crossed (or the boundaries none crossed)."""
    looks = len(plan.looks)
    if decision is None:
        return {"sequential_verdict": INCONCLUSIVE, "looks": looks, "note": "fewer than two runs in an arm"}
    verdict = INCONCLUSIVE if decision.verdict == CONTINUE else decision.verdict
    spent = f"look {decision.look} of {looks} ({decision.seeds} seeds per arm, {plan.words})"
    tested = (
        f"p {decision.p_value:.3g} against the boundary {decision.level:.3g}, "
        f"TOST p {decision.tost_p:.3g} against {decision.equivalence_level:.3g}"
    )
    if decision.verdict == CONTINUE:
        note = f"not decided yet: the run stopped after {spent}, before the design's next look; {tested}"
    elif decision.verdict == INCONCLUSIVE:
        note = f"no boundary crossed by the last look, {spent}: {tested}"
    else:
        note = f"decided at {spent}: {_crossed(decision, plan.alpha)}"
    columns = {"sequential_verdict": verdict, "look": decision.look, "looks": looks, "note": note}
    columns.update(nominal_level=decision.level, equivalence_level=decision.equivalence_level)
    return columns  # its mde at nominal_level: `_with_mde`, from the row's own test


def _sequential_decided(row: dict) -> dict:
    """A sequential row's DECIDED columns from its decision: a difference where a p crossed its boundary, else
    equivalence where a TOST p did (the design tests equivalence only where no difference was found); empty where
    no look judged it (`look` empty: too few runs)."""
    if math.isnan(row.get("look", math.nan)):
        return dict.fromkeys(DECIDED.values(), math.nan)
    different = row["verdict"] in (SUPPORTED, CONTRADICTED)
    return {DECIDED["p_value"]: different, DECIDED["tost_p"]: row["verdict"] == EQUIVALENT}


def _crossed(decision, alpha: float) -> str:
    """Which statistic crossed which boundary: the Holm step of the look's step-down that rejected it, and the
    share of alpha that step held; where it was an earlier look's statistic, retested at that share (Maurer-Bretz
    recycling), that look too."""
    if decision.verdict == EQUIVALENT:
        name, column, level = "TOST p", 2, decision.equivalence_level
        step, steps = decision.equivalence_step, decision.equivalence_steps
    else:
        name, column, level, step, steps = "p", 1, decision.level, decision.step, decision.steps
    found = f"{name} {decision.history[decision.crossed_look - 1][column]:.3g}"
    held = f"Holm step {step} of {steps}"
    share = f"alpha {alpha:g} / {steps - step + 1}"
    if decision.crossed_look != decision.look:
        return (
            f"{found} at look {decision.crossed_look} crossed the boundary {level:.3g} for {share} when retested at "
            f"look {decision.look} ({held}, Maurer-Bretz recycling)"
        )
    return f"{found} crossed the boundary {level:.3g} ({held} at look {decision.look}: {share})"


def trainability_claims(train: pd.DataFrame) -> list[dict]:
    """Trains reliably: failed runs of the stack against each rival (Fisher's exact test, Holm)."""
    if train.empty or "test_acc" not in train:
        return []
    rows = []
    for base, _, rival, stack_rows, rival_rows in contrasts(judged_runs(train)):
        stack, other = stack_rows["failed"], rival_rows["failed"]
        counts = {"failed_variant": int(stack.sum()), "failed_baseline": int(other.sum())}
        counts.update(seeds_variant=len(stack), seeds_baseline=len(other))
        shares = {"variant_value": stack.mean(), "baseline_value": other.mean(), "unit": FAILED_SHARE}
        p_value = stats.fisher(counts["failed_variant"], len(stack), counts["failed_baseline"], len(other))
        none_failed = not (stack.any() or other.any())
        note = "share of runs that failed" + ("; no run failed in either arm" if none_failed else "")
        row = {"claim": "trains reliably", **base, "analysis": PRIMARY, "baseline": rival, "variant": STACK}
        difference = shares["variant_value"] - shares["baseline_value"]  # stack - rival: below 0, it fails less
        rows.append({**row, **counts, **shares, "difference": difference, "p_value": p_value, "note": note})
    adjust(rows, columns=("p_value",), judge=lambda row: decide(row, _fails_less))
    return _with_recipe_notes(rows)


def _fails_less(row: dict) -> bool:
    """The stack's share of failed runs below the rival's (the difference, stack - rival, below 0)."""
    return row["difference"] < 0


def _arm_rows(train: pd.DataFrame):
    """Per group and accuracy contrast with two runs or more in each arm: (the group's identity, the rival,
    the stack's final rows, the rival's), runs that failed left out, in seed order."""
    for base, _, rival, stack_rows, rival_rows in contrasts(judged_runs(train)):
        stack, other = (rows[~rows["failed"]].sort_values("seed") for rows in (stack_rows, rival_rows))
        if min(len(stack), len(other)) >= 2:
            yield base, rival, stack, other


def accuracy_arms(train: pd.DataFrame):
    """As `_arm_rows`, with each arm's final accuracies."""
    for base, rival, stack, other in _arm_rows(train):
        yield base, rival, stack["test_acc"], other["test_acc"]


def power_table(train: pd.DataFrame, effect: float, margin: float, design: Design | None = None) -> pd.DataFrame:
    """Per group and accuracy contrast, from the runs that did not fail: the spread of one run, the seeds per
    arm now and the smallest difference they detect, and the seeds per arm needed to detect `effect` (80%
    power, two-sided) and to show equivalence within +-margin where there is no difference; and what a
    group-sequential `design` (default: 4 seeds a round, at most 24) would spend at that effect and spread.
    Each at `level`, the first Holm step's share of alpha over the run's m accuracy comparisons (alpha / m: the
    least a comparison is tested at, so the sizes are enough whatever its step), the sequential one through the
    design's boundaries for that share."""
    design = design if design is not None and design.sequential else Design(design=GROUP_SEQUENTIAL)
    arms = list(accuracy_arms(train))
    level = stats.ALPHA / max(len(arms), 1)
    plan = dataclasses.replace(design.rule, alpha=level)
    rows = []
    for base, rival, stack, other in arms:
        sd = stats.welch(stack, other, margin).sd
        sequential = {"seeds_per_round": design.seeds_per_round, "max_seeds": design.max_seeds}
        sequential.update(expected_seeds(plan, sd, effect, margin))
        row = {"claim": accuracy_claim(rival), **base, "baseline": rival, "variant": STACK, "sd": sd}
        row.update(comparisons=len(arms), level=level, seeds_now=min(len(stack), len(other)))
        row["mde_now"] = stats.mde(sd, len(stack), len(other), len(stack) + len(other) - 2, alpha=level)
        row.update(effect=effect, seeds_needed=stats.seeds_needed(sd, effect, alpha=level), margin=margin)
        row["seeds_for_equivalence"] = stats.seeds_for_equivalence(sd, margin, alpha=level)  # each TOST side's
        rows.append({**row, **sequential})
    return pd.DataFrame(rows)


MIN_RUNS_PER_ARM = 2  # runs that did not fail, per arm, for a spread (`power_table`)


def _named(base: dict) -> str:
    """A group of models in words: vgg11, ratio 8, 32 px (with batch norm)."""
    return f"{base['arch']}, ratio {base['ratio']}, {base['resolution']} px" + (
        ", batch norm" if base.get("batch_norm") is True else ""
    )


def unplanned(train: pd.DataFrame) -> str:
    """Why `power_table` sizes none, or not every, accuracy contrast of `train`, in words, with what to do: per
    contrast left out, how many runs of each arm did not fail (it needs MIN_RUNS_PER_ARM of each); or that no
    model was trained both as the stack and as a rival. Empty where every contrast is sized."""
    final = judged_runs(train) if not train.empty and "test_acc" in train else pd.DataFrame()
    found, short = False, []
    for base, _, rival, stack_rows, rival_rows in contrasts(final) if not final.empty else ():
        found = True
        arms = ((STACK, stack_rows), (rival, rival_rows))
        kept = {name: int((~rows["failed"]).sum()) for name, rows in arms}
        if min(kept.values()) < MIN_RUNS_PER_ARM:
            counted = ", ".join(
                f"{name} {kept[name]} of {len(rows)} runs ({int(rows['failed'].sum())} failed)" for name, rows in arms
            )
            short.append(f"{_named(base)}, stack against {rival} ({accuracy_claim(rival)}): {counted}")
    if not found:
        trained = ", ".join(dict.fromkeys(final["variant"])) if "variant" in final else ""
        return (
            f"no model was trained both as the stack and as a rival (variants trained: {trained or 'none'}), so "
            "there is no accuracy contrast to size: train the stack and a rival (--variant stack single)"
        )
    if not short:
        return ""
    return (
        f"each arm needs at least {MIN_RUNS_PER_ARM} runs that did not fail (by the run's failure rule) for the "
        f"spread of one run; {'; '.join(short)}. Train more seeds into the run (`vggbench run` with the same "
        "--out and more seeds adds them)"
    )
