"""The verdict on each part of the claim, each from its table (one function per part).

A verdict is one of
- `supported` / `contradicted`: a difference in the claim's favour / against it, at
  ALPHA after Holm's adjustment over the part's family of rows;
- `equivalent`: no difference beyond the stated margin (two one-sided tests, TOST, both
  rejected at ALPHA after Holm; for an effective field, the 90% interval of the
  difference inside the margin);
- `inconclusive`: neither, which says the run could not decide, not that there is
  no difference (each accuracy row states the smallest difference it could detect).

Rows are grouped by model identity without the variant (arch, ratio, resolution,
batch norm, ...); a row's `analysis` says whether it is the primary comparison (the
one the verdicts count) or a sensitivity analysis beside it.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats as scipy_stats

from vggbench import noise, stats
from vggbench.schema import GROUP_KEYS, keys_in
from vggbench.training_rules import failed, final_epoch

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE = "supported", "contradicted", "equivalent", "inconclusive"
PRIMARY = "primary"
# The accuracy contrasts: the stack against each rival.
CONTRASTS = (("more non-linearity helps", "linear-stack"), ("higher accuracy", "single"))


def _groups(table: pd.DataFrame, *extra: str):
    """(identity of the compared models, their rows) per group of models that differ only in the variant."""
    keys = [*keys_in(table, GROUP_KEYS), *extra]
    for values, group in table.groupby(keys, sort=False):
        yield dict(zip(keys, values, strict=True)), group


def _decide(p_value: float, p_equivalent: float, difference: float) -> str:
    if p_value < stats.ALPHA:
        return SUPPORTED if difference > 0 else CONTRADICTED
    if p_equivalent < stats.ALPHA:
        return EQUIVALENT
    return INCONCLUSIVE


def _adjust(rows: list[dict], columns=("p_value", "tost_p")) -> None:
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


def _count_verdict(stack: float, single: float) -> str:
    if stack < single:
        return SUPPORTED
    return CONTRADICTED if stack > single else INCONCLUSIVE


def static_claims(static: pd.DataFrame) -> list[dict]:
    """Fewer parameters and MACs (exact counts); the same theoretical field (true by construction)."""
    rows = []
    for base, group in _groups(static):
        by_variant = group.set_index("variant")
        if not {"stack", "single"} <= set(by_variant.index):
            continue
        common = {**base, "analysis": PRIMARY, "baseline": "single", "variant": "stack"}
        for claim, column in (("fewer parameters", "params"), ("fewer MACs", "macs")):
            stack, single = by_variant.loc["stack", column], by_variant.loc["single", column]
            values = {"baseline_value": single, "variant_value": stack, "ratio_value": stack / single}
            rows.append({"claim": claim, **common, **values, "verdict": _count_verdict(stack, single)})
        fields, resolution = by_variant["rf_px"], base.get("resolution")
        fits = (
            "" if resolution is None else f"; the {fields['stack']} px field is larger than the {resolution} px image"
        )
        if resolution is not None and fields["stack"] <= resolution:
            fits = f"; the {fields['stack']} px field fits in the {resolution} px image"
        rows.append(
            {
                "claim": "same receptive field",
                **common,
                "baseline": "stack",
                "variant": "all",
                "baseline_value": fields["stack"],
                "variant_value": fields.max(),
                "verdict": SUPPORTED if fields.nunique() == 1 else CONTRADICTED,
                "note": "equal by construction: the single kernel is sized to the stack's field" + fits,
            }
        )
    return rows


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
    columns = ("ci_low", "ci_high", "p_value", "tost_p", "hedges_g", "mde")
    return {**values, **{column: getattr(result, column) for column in columns}}


def _accuracy_rows(claim: str, base: dict, stack: pd.DataFrame, rival: pd.DataFrame, margin: float) -> list[dict]:
    """The primary comparison of the runs that did not fail, and its sensitivity analyses: all runs (where
    some failed), and runs paired by seed (same initial draw and data order) where seeds are shared."""
    common = {"claim": claim, **base, "baseline": rival["variant"].iloc[0], "variant": "stack", "margin": margin}
    common.update(failed_baseline=int(rival["failed"].sum()), failed_variant=int(stack["failed"].sum()))
    kept_stack, kept_rival = stack[~stack["failed"]], rival[~rival["failed"]]
    left_out = common["failed_baseline"] + common["failed_variant"]
    note = {"note": f"{left_out} failed run(s) left out"} if left_out else {}
    rows = [{**common, "analysis": PRIMARY, **_compare(kept_stack.test_acc, kept_rival.test_acc, margin, stats.welch)}]
    rows[0].update(note)
    if left_out:
        compared = _compare(stack.test_acc, rival.test_acc, margin, stats.welch)
        rows.append({**common, "analysis": "all runs (sensitivity)", **compared})
    paired_stack, paired_rival = kept_stack.set_index("seed").test_acc.align(
        kept_rival.set_index("seed").test_acc, join="inner"
    )
    if len(paired_stack) >= 2:
        compared = _compare(paired_stack, paired_rival, margin, stats.paired)
        rows.append({**common, "analysis": "paired by seed (sensitivity)", **compared})
    return rows


def _final_runs(train: pd.DataFrame) -> pd.DataFrame:
    """Each run's final epoch (crashed trials left out), marked failed or not by the run's failure rule."""
    final = final_epoch(train.dropna(subset=["test_acc"]))
    return final.assign(failed=failed(final))


def accuracy_claims(train: pd.DataFrame, margin: float) -> list[dict]:
    """Higher accuracy than single, and than linear-stack: one family, Holm-adjusted, with TOST."""
    if train.empty or "test_acc" not in train:
        return []
    rows = []
    for base, group in _groups(_final_runs(train)):
        arms = dict(tuple(group.groupby("variant")))
        estimand = _estimand(group)
        for claim, rival in CONTRASTS:
            if "stack" in arms and rival in arms:
                found = _accuracy_rows(claim, base, arms["stack"], arms[rival], margin)
                rows += [{**row, "estimand": estimand} for row in found]
    _adjust(rows)
    return rows


def trainability_claims(train: pd.DataFrame) -> list[dict]:
    """Trains reliably: failed runs of the stack against each rival (Fisher's exact test, Holm)."""
    if train.empty or "test_acc" not in train:
        return []
    rows = []
    for base, group in _groups(_final_runs(train)):
        arms = dict(tuple(group.groupby("variant")))
        for _, rival in CONTRASTS:
            if "stack" not in arms or rival not in arms:
                continue
            stack, other = arms["stack"]["failed"], arms[rival]["failed"]
            counts = {"failed_variant": int(stack.sum()), "failed_baseline": int(other.sum())}
            counts.update(seeds_variant=len(stack), seeds_baseline=len(other))
            shares = {"variant_value": stack.mean(), "baseline_value": other.mean()}
            p_value = stats.fisher(counts["failed_variant"], len(stack), counts["failed_baseline"], len(other))
            none_failed = not (stack.any() or other.any())
            note = "share of runs that failed" + ("; no run failed in either arm" if none_failed else "")
            row = {"claim": "trains reliably", **base, "analysis": PRIMARY, "baseline": rival, "variant": "stack"}
            difference = shares["baseline_value"] - shares["variant_value"]  # above 0: the stack fails less
            rows.append({**row, **counts, **shares, "difference": difference, "p_value": p_value, "note": note})
    _adjust(rows, columns=("p_value",))
    return rows


def speed_claims(pairs: pd.DataFrame) -> list[dict]:
    """Faster: the paired time ratio single / stack and its bootstrap interval (above 1: the stack is faster)."""
    if pairs.empty or "time_ratio_median" not in pairs:
        return []
    rows = []
    for _, pair in pairs[(pairs["baseline"] == "stack") & (pairs["variant"] == "single")].iterrows():
        low, high = pair["ci_low"], pair["ci_high"]
        rows.append(
            {
                "claim": "faster",
                **{key: pair[key] for key in keys_in(pairs, GROUP_KEYS)},
                "analysis": PRIMARY,
                "device": pair["device"],
                "mode": pair["mode"],
                "baseline": "single",
                "variant": "stack",
                "baseline_value": pair["variant_img_per_s"],
                "variant_value": pair["baseline_img_per_s"],
                "ratio_value": pair["time_ratio_median"],
                "ci_low": low,
                "ci_high": high,
                "verdict": SUPPORTED if low > 1 else CONTRADICTED if high < 1 else INCONCLUSIVE,
                "note": "ratio_value: single step time / stack step time" + _timing_flag(pair),
            }
        )
    return rows


def _timing_flag(pair: pd.Series) -> str:
    """Where the pair's timing was flagged (stable False), say why, so that its verdict is read with that."""
    reasons = noise.unstable_reasons(pair)
    if not reasons:
        return ""
    return f"; FLAGGED (stable=False): {' and '.join(reasons)}; this verdict is only as sound as that timing"


ERF_ANALYSES = ((PRIMARY, "erf"), ("RepLKNet's log10(1 + x) (sensitivity)", "replknet"))


def _same_field(stack: pd.Series, single: pd.Series, prefix: str, margin: float) -> dict:
    """The difference of the area ratios holding half the gradient, stack - single, and its verdict: the same
    field when its 90% interval lies inside +-margin, a different one when its 95% interval excludes 0. The
    standard errors are the bootstrap's, combined as if independent (conservative: both arms see the same
    images)."""
    column = f"{prefix}_area_ratio_t50"
    difference = stack[column] - single[column]
    se = math.hypot(stack[f"{column}_se"], single[f"{column}_se"])
    z90, z95 = scipy_stats.norm.ppf(0.95), scipy_stats.norm.ppf(0.975)
    verdict = INCONCLUSIVE
    if abs(difference) + z90 * se < margin:
        verdict = EQUIVALENT
    elif abs(difference) > z95 * se:
        verdict = CONTRADICTED
    return {
        "baseline_value": single[column],
        "variant_value": stack[column],
        "difference": difference,
        "ci_low": difference - z95 * se,
        "ci_high": difference + z95 * se,
        "margin": margin,
        "verdict": verdict,
    }


def erf_claims(erf: pd.DataFrame, margin: float) -> list[dict]:
    """The same effective field: an equivalence verdict on the share of the image holding half the gradient."""
    if erf.empty or "erf_area_ratio_t50_se" not in erf:
        return []
    rows = []
    for base, group in _groups(erf.dropna(subset=["erf_area_ratio_t50"]), "trained"):
        trained, by_variant = base.pop("trained"), group.set_index("variant")
        if not {"stack", "single"} <= set(by_variant.index):
            continue
        stack, single = by_variant.loc["stack"], by_variant.loc["single"]
        for analysis, prefix in ERF_ANALYSES:
            row = {"claim": "same effective receptive field", **base, "analysis": analysis}
            row.update(mode="trained" if trained else "untrained", baseline="single", variant="stack")
            note = f"share of the {int(stack['erf_resolution'])} px image holding half the input gradient"
            rows.append({**row, **_same_field(stack, single, prefix, margin), "note": note})
    return rows


def density_claims(density: pd.DataFrame) -> list[dict]:
    """3x3 is the densest: per device, width and map size, every other kernel's FLOP/s against 3x3's, as a
    ratio with its bootstrap interval (supported where every ratio's interval lies below 1)."""
    if density.empty or "density_vs_3x3" not in density:
        return []
    rows = []
    for (device, channels, side), group in density.dropna(subset=["density_vs_3x3"]).groupby(
        ["device", "channels", "side_px"], sort=False
    ):
        others = group[group["kernel_px"] != 3]
        if others.empty or (group["kernel_px"] == 3).sum() != 1:
            continue
        rival = others.loc[others["density_vs_3x3"].idxmax()]  # the densest of the others
        verdict = INCONCLUSIVE
        if (others["ci_high"] < 1).all():
            verdict = SUPPORTED
        elif (others["ci_low"] > 1).any():
            verdict = CONTRADICTED
        shown = ", ".join(f"{row.kernel_px}x{row.kernel_px} {row.achieved_gflops:.3g}" for row in group.itertuples())
        rows.append(
            {
                "claim": "3x3 is the densest",
                "analysis": PRIMARY,
                "device": device,
                "mode": f"{channels} channels, {side} px",
                "baseline": f"{rival['kernel_px']}x{rival['kernel_px']}",
                "variant": "3x3",
                "baseline_value": rival["achieved_gflops"],
                "variant_value": group.loc[group["kernel_px"] == 3, "achieved_gflops"].iloc[0],
                "ratio_value": rival["density_vs_3x3"],
                "ci_low": rival["ci_low"],
                "ci_high": rival["ci_high"],
                "verdict": verdict,
                "note": f"achieved GFLOP/s: {shown}; ratio_value: the densest other kernel's GFLOP/s / 3x3's",
            }
        )
    return rows


def power_table(train: pd.DataFrame, effect: float, margin: float) -> pd.DataFrame:
    """Per group and accuracy contrast, from the runs that did not fail: the spread of one run, the seeds per
    arm now and the smallest difference they detect, and the seeds per arm needed to detect `effect` (80%
    power, two-sided, ALPHA) and to show equivalence within +-margin where there is no difference."""
    rows = []
    for base, group in _groups(_final_runs(train)):
        arms = {variant: part[~part["failed"]]["test_acc"] for variant, part in group.groupby("variant")}
        for claim, rival in CONTRASTS:
            if "stack" not in arms or rival not in arms or min(len(arms["stack"]), len(arms[rival])) < 2:
                continue
            stack, other = arms["stack"], arms[rival]
            sd = stats.welch(stack, other, margin).sd
            rows.append(
                {
                    "claim": claim,
                    **base,
                    "baseline": rival,
                    "variant": "stack",
                    "sd": sd,
                    "seeds_now": min(len(stack), len(other)),
                    "mde_now": stats.mde(sd, len(stack), len(other), len(stack) + len(other) - 2),
                    "effect": effect,
                    "seeds_needed": stats.seeds_needed(sd, effect),
                    "margin": margin,
                    "seeds_for_equivalence": stats.seeds_for_equivalence(sd, margin),
                }
            )
    return pd.DataFrame(rows)
