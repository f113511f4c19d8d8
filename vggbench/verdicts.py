"""The vocabulary every kind's verdicts share (each kind judges its own tables: `Kind.judge`).

A verdict is one of
- `supported` / `contradicted`: a difference in the claim's favour / against it, at
  ALPHA after Holm's adjustment over the part's family of rows;
- `equivalent`: no difference beyond the stated margin (two one-sided tests, TOST, both
  rejected at ALPHA after Holm; for an effective field, the 90% interval of the
  difference inside the margin);
- `inconclusive`: neither, which says the run could not decide, not that there is
  no difference (each accuracy row states the smallest difference it could detect).

Rows are grouped by model identity without the variant (arch, ratio, resolution,
batch norm, ...), and the stack is compared with each rival variant present; a row's
`analysis` says whether it is the primary comparison (the one the verdicts count) or a
sensitivity analysis beside it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from vggbench import stats
from vggbench.schema import GROUP_KEYS, keys_in

if TYPE_CHECKING:
    import pandas as pd

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE = "supported", "contradicted", "equivalent", "inconclusive"
PRIMARY = "primary"
STACK = "stack"
# The stack without its inner ReLUs: it tests the non-linearity, not the large kernel, so it has the stack's
# parameters, MACs and field by construction and is compared on accuracy and trainability only.
LINEAR, NON_LINEARITY = "linear-stack", "more non-linearity helps"
ACCURACY = "higher accuracy"


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


def accuracy_claim(rival: str) -> str:
    """The part of the claim the stack's accuracy against `rival` tests."""
    return NON_LINEARITY if rival == LINEAR else ACCURACY


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


def _decide(p_value: float, p_equivalent: float, difference: float) -> str:
    if p_value < stats.ALPHA:
        return SUPPORTED if difference > 0 else CONTRADICTED
    if p_equivalent < stats.ALPHA:
        return EQUIVALENT
    return INCONCLUSIVE


def adjust(rows: list[dict], columns=("p_value", "tost_p")) -> None:
    """Holm over the primary rows of one family; every row gets its verdict (sensitivity rows from raw p)."""
    primary = [row for row in rows if row["analysis"] == PRIMARY]
    for column in columns:
        for row, adjusted in zip(primary, stats.holm([row.get(column, math.nan) for row in primary]), strict=True):
            row[f"{column}_holm"] = adjusted
    for row in rows:
        holm = row["analysis"] == PRIMARY
        p_value = row.get("p_value_holm" if holm else "p_value", math.nan)
        p_equivalent = row.get("tost_p_holm" if holm else "tost_p", math.nan)
        row["verdict"] = _decide(p_value, p_equivalent, row.get("difference", math.nan))
