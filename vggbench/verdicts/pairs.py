"""The paired speed kind's verdict: faster, from the paired time ratio of each large-kernel rival to the stack
and its bootstrap interval, Holm-adjusted over the family of timed pairs with the interval's p-value
(`stats.interval_p`). The row's values are throughputs (images per second), so its ratio reads as every claim
row's does, stack / rival: the rival's step time over the stack's, above 1 where the stack is faster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.measure import noise
from vggbench.models.schema import GROUP_KEYS, keys_in
from vggbench.stats import hypothesis as stats
from vggbench.verdicts.vocabulary import PRIMARY, STACK, adjust, decide, rivals

if TYPE_CHECKING:
    import pandas as pd


def _timing_flag(pair: pd.Series) -> str:
    """Where the pair's timing was flagged (stable False), say why, so that its verdict is read with that."""
    reasons = noise.unstable_reasons(pair)
    if not reasons:
        return ""
    return f"; FLAGGED (stable=False): {' and '.join(reasons)}; this verdict is only as sound as that timing"


def claims(pairs: pd.DataFrame) -> list[dict]:
    """One row per pair timed against the stack as baseline (pairs.csv holds variant / baseline ratios)."""
    if pairs.empty or "time_ratio_median" not in pairs:
        return []
    rows = []
    timed = pairs[pairs["baseline"] == STACK]
    against = rivals([STACK, *timed["variant"].unique()], linear=False)
    for _, pair in timed[timed["variant"].isin(against)].iterrows():
        low, high, rival = pair["ci_low"], pair["ci_high"], pair["variant"]
        rows.append(
            {
                "claim": "faster",
                **{key: pair[key] for key in keys_in(pairs, GROUP_KEYS)},
                "analysis": PRIMARY,
                "device": pair["device"],
                "mode": pair["mode"],
                "baseline": rival,
                "variant": STACK,
                "baseline_value": pair.get("variant_img_per_s"),  # a hand-made table may hold ratios only
                "variant_value": pair.get("baseline_img_per_s"),
                "unit": "images/s",
                "ratio_value": pair["time_ratio_median"],
                "ci_low": low,
                "ci_high": high,
                "p_value": stats.interval_p(low, high),
                "note": f"ratio_value: stack images/s / {rival}'s, as the median over paired timings of {rival} step "
                "time / stack step time" + _timing_flag(pair),
            }
        )
    adjust(rows, columns=("p_value",), judge=lambda row: decide(row, _stack_faster))
    return rows


def _stack_faster(row: dict) -> bool:
    """The interval's geometric midpoint above 1 (the estimate `stats.interval_p` tests): the stack is faster."""
    return row["ci_low"] * row["ci_high"] > 1
