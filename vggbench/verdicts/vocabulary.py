"""The vocabulary every kind's verdicts share (each kind judges its own tables: `Kind.judge`).

A verdict is one of
- `supported` / `contradicted`: a difference in the claim's favour / against it, at
  ALPHA after Holm's adjustment over the part's family of primary rows;
- `equivalent`: no difference beyond the stated margin (two one-sided tests, TOST, both
  rejected at ALPHA after Holm);
- `inconclusive`: neither, which says the run could not decide, not that there is
  no difference (each accuracy row states the smallest difference it could detect);
- `not reproduced on this device`: a hardware claim contradicted on a device other than
  the one it was made for (RepVGG's 3x3 density: Winograd kernels on a GPU).

One multiplicity policy for every tested family (accuracy, trainability, effective
field, speed, density): Holm over the family's primary rows (`adjust`). Where a table
holds an interval rather than a test, the p-value is its normal approximation
(`stats.interval_p`). Exact counts need no test, and the theoretical field is equal by
construction: no verdict. Sensitivity rows show their numbers beside the primary ones,
with no verdict.

Rows are grouped by model identity without the variant (arch, ratio, resolution,
batch norm, ...), and the stack is compared with each rival variant present; a row's
`analysis` says whether it is the primary comparison (the one the verdicts count) or a
sensitivity analysis beside it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from vggbench.models.schema import GROUP_KEYS, keys_in
from vggbench.stats import hypothesis as stats

if TYPE_CHECKING:
    import pandas as pd

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE = "supported", "contradicted", "equivalent", "inconclusive"
NOT_REPRODUCED = "not reproduced on this device"
PRIMARY = "primary"
INTERACTION_ROW = "interaction"  # the analysis of a row that joins two comparisons (batch norm or budget x variant)
# The analysis of an accuracy row on the runs at the config's shared recipe, where its arms also trained at their
# own chosen (tuned) recipes: those judge, these stand beside (vggbench.verdicts.train).
SHARED_RECIPE = "at the shared recipe (sensitivity)"
STACK = "stack"
# The units (claim.csv's `unit`) of the rows that compare trained arms by their outcome: accuracy and trainability
# (vggbench.verdicts.train); an effective-field row compares trained arms where its `mode` is "trained".
TRAINED_UNITS = ("accuracy", "share of runs failed")


def compares_trained(row) -> bool:
    """Whether a claim row (a dict or a claim.csv row) compares the outcome of trained arms: its numbers depend on
    how the arms trained, where a parameter count, a timing or an untrained field does not."""
    return row.get("unit") in TRAINED_UNITS or row.get("mode") == "trained"


# The stack without its inner ReLUs: it tests the non-linearity, not the large kernel, so it has the stack's
# parameters, MACs and field by construction and is compared on accuracy and trainability only.
LINEAR, NON_LINEARITY = "linear-stack", "more non-linearity helps"
ACCURACY = "higher accuracy"
# The accuracy parts at the budgets before the final one: a family of their own, named apart so that they are
# counted apart from the final verdicts.
EARLIER = " at an earlier budget"


def groups(table: pd.DataFrame, *extra: str):
    """(identity of the compared models, their rows) per group of models that differ only in the variant."""
    keys = [*keys_in(table, GROUP_KEYS), *extra]
    for values, group in table.groupby(keys, sort=False):
        yield dict(zip(keys, values, strict=True)), group


def rivals(variants, linear: bool = True) -> list[str]:
    """The variants the stack is compared with, where the stack is among `variants`: the linear stack first
    (with `linear`), then every other variant in the order given."""
    if STACK not in variants:
        return []
    others = [variant for variant in variants if variant not in (STACK, LINEAR)]
    return ([LINEAR] if linear and LINEAR in variants else []) + others


def accuracy_claim(rival: str, earlier: bool = False) -> str:
    """The part of the claim the stack's accuracy against `rival` tests (`earlier`: at a budget before the
    final one)."""
    return (NON_LINEARITY if rival == LINEAR else ACCURACY) + (EARLIER if earlier else "")


class Contrast(NamedTuple):
    """The stack's rows and one rival's, in one group of models."""

    base: dict  # the group's identity
    group: pd.DataFrame  # every variant's rows of the group
    rival: str
    stack_rows: pd.DataFrame
    rival_rows: pd.DataFrame


def contrasts(table: pd.DataFrame, *extra: str, linear: bool = True):
    """The stack against each rival present (see `rivals`), group by group."""
    for base, group in groups(table, *extra):
        arms = dict(tuple(group.groupby("variant", sort=False)))
        for rival in rivals(list(arms), linear):
            yield Contrast(base, group, rival, arms[STACK], arms[rival])


def favours_difference(row: dict) -> bool:
    """Whether a row's difference (variant - baseline) is in the claim's favour: above 0."""
    return row.get("difference", math.nan) > 0


def decide(row: dict, favours=favours_difference) -> str:
    """A primary row's verdict from its Holm-adjusted p-values: a difference first, then equivalence."""
    if row.get("p_value_holm", math.nan) < stats.ALPHA:
        return SUPPORTED if favours(row) else CONTRADICTED
    if row.get("tost_p_holm", math.nan) < stats.ALPHA:
        return EQUIVALENT
    return INCONCLUSIVE


# The adjusted decision of each test, a column of its own (True, False; empty where the row was not tested): the
# Holm-adjusted p below ALPHA, or under a group-sequential design the p that crossed its boundary (verdicts.train).
# A user filters on it whatever the design; a sequential row has no adjusted p-value.
DECIDED = {"p_value": "significant_holm", "tost_p": "equivalent_holm"}


def adjust(rows: list[dict], columns=("p_value", "tost_p"), judge=decide) -> None:
    """Holm over the primary rows of one family (each of `columns` gets its `_holm` twin and its DECIDED column),
    and each primary row's verdict from them by `judge`; a sensitivity row gets no verdict (NaN): its numbers
    stand beside."""
    primary = [row for row in rows if row["analysis"] == PRIMARY]
    for column in columns:
        for row, adjusted in zip(primary, stats.holm([row.get(column, math.nan) for row in primary]), strict=True):
            row[f"{column}_holm"] = adjusted
            row[DECIDED[column]] = math.nan if math.isnan(adjusted) else bool(adjusted < stats.ALPHA)
    for row in rows:
        row["verdict"] = judge(row) if row["analysis"] == PRIMARY else math.nan


def _value(row, key: str) -> float:
    value = row.get(key, math.nan)
    return math.nan if value is None or isinstance(value, str) else float(value)


def _possible(row) -> float:
    """The largest difference a row's `mde` could be of: 1 between two shares (accuracy, share of the image), 2
    between two differences of shares (an interaction)."""
    return 2.0 if row.get("analysis") == INTERACTION_ROW else 1.0


def reason(row, brief: bool = False) -> str:
    """Why a primary row (a dict or a claim.csv row) is inconclusive, in one line: no test (too few runs that
    did not fail), the sequential design's own account (its note), or neither test passing, with the
    Holm-adjusted p-values and the smallest difference the row could detect; '' for any other verdict.
    `brief`: a few words, for the terminal ("TOST p 0.93, mde 0.12")."""
    if row.get("verdict") != INCONCLUSIVE:
        return ""
    note = row.get("note")
    note = note if isinstance(note, str) else ""
    seeds = _value(row, "seeds_variant"), _value(row, "seeds_baseline")
    if min(seeds) < 2:
        variant, baseline = row.get("variant", "variant"), row.get("baseline", "baseline")
        if brief:
            return f"no test: {int(seeds[0])} and {int(seeds[1])} runs"
        return (
            f"no test: {int(seeds[0])} run(s) of {variant} and {int(seeds[1])} of {baseline} left (runs that "
            "failed are left out), and a test needs two in each"
        )
    if not math.isnan(look := _value(row, "look")):
        # the note says which boundary the last look crossed, or that the run stopped before the next
        return f"look {int(look)} of {int(_value(row, 'looks'))}: no boundary crossed" if brief else note
    p_value, tost_p, margin = _value(row, "p_value_holm"), _value(row, "tost_p_holm"), _value(row, "margin")
    if math.isnan(p_value):
        return "no test" if brief or not note else f"no test: {note}"
    mde, possible = _value(row, "mde"), _possible(row)
    none_failed = "no run failed in either arm" in note
    if brief:
        parts = [f"TOST p {tost_p:.2g}" if not math.isnan(tost_p) else f"p {p_value:.2g}"]
        parts += (
            [f"mde {mde:.2g}" + (" (beyond any possible)" if mde > possible else "")] if not math.isnan(mde) else []
        )
        return ", ".join([*parts, *(["no run failed"] if none_failed else [])])
    parts = [f"no difference at {stats.ALPHA:g} after Holm (p {p_value:.2g})"]
    if not math.isnan(tost_p):
        parts.append(f"no equivalence within ±{margin:g} (TOST p {tost_p:.2g})")
    if mde > possible:  # these runs could detect no difference that can happen
        parts.append(f"the smallest difference these runs detect, {mde:.2g}, is beyond any possible one ({possible:g})")
    elif not math.isnan(mde):
        parts.append(f"the smallest difference these runs detect: {mde:.2g}")
    if none_failed:
        parts.append("no run failed in either arm")
    return "; ".join(parts)
