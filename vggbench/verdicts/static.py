"""The static kind's verdicts: fewer parameters and MACs than each large-kernel rival (exact counts, no test),
and the same theoretical receptive field for every variant, which is no finding but true by construction: its
row shows the fields and says so, with no verdict."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vggbench.verdicts.vocabulary import CONTRADICTED, INCONCLUSIVE, PRIMARY, STACK, SUPPORTED, groups, rivals

if TYPE_CHECKING:
    import pandas as pd

NEEDED = {"arch", "variant", "params", "macs", "rf_px"}


def _count_verdict(stack: float, rival: float) -> str:
    if stack < rival:
        return SUPPORTED
    return CONTRADICTED if stack > rival else INCONCLUSIVE


def _fits(stack_field, resolution) -> str:
    """Whether the stack's field fits in the image, for the receptive field's note."""
    if resolution is None:
        return ""
    if stack_field <= resolution:
        return f"; the {stack_field} px field fits in the {resolution} px image"
    return f"; the {stack_field} px field is larger than the {resolution} px image"


def _field_note(fields: pd.Series) -> str:
    if fields.nunique() == 1:
        return "equal by construction: the single kernel is sized to the stack's field"
    unequal = ", ".join(f"{variant} {field} px" for variant, field in fields.items())
    return f"NOT equal, though the variants are built to be: {unequal}"


def claims(static: pd.DataFrame) -> list[dict]:
    rows = []
    if not set(static.columns) >= NEEDED:  # no static rows, or every trial failed
        return rows
    for base, group in groups(static):
        by_variant = group.set_index("variant")
        others = rivals(list(by_variant.index), linear=False)
        if not others:
            continue
        for rival in others:
            common = {**base, "analysis": PRIMARY, "baseline": rival, "variant": STACK}
            for claim, column, unit in (("fewer parameters", "params", "params"), ("fewer MACs", "macs", "MACs")):
                stack, other = by_variant.loc[STACK, column], by_variant.loc[rival, column]
                values = {"baseline_value": other, "variant_value": stack, "unit": unit, "ratio_value": stack / other}
                rows.append({"claim": claim, **common, **values, "verdict": _count_verdict(stack, other)})
        fields = by_variant["rf_px"]
        if fields.isna().any():  # a factory's net whose field cannot be followed (the static table's rf_note says why)
            continue
        rows.append(
            {
                "claim": "same receptive field",
                **base,
                "analysis": PRIMARY,
                "baseline": STACK,
                "variant": "all",
                "baseline_value": fields[STACK],
                "variant_value": fields.max(),
                "unit": "px",
                "verdict": math.nan,
                "note": _field_note(fields) + _fits(fields[STACK], base.get("resolution")),
            }
        )
    return rows
