"""Verdicts on each part of the claim, from a run's tables.

The claim (VGG, section 2.3; the seed's chapter): for the same receptive field, a
stack of 3x3 convs beats one large kernel. Its parts, each judged per architecture
and width ratio (and per device and mode for speed):

- fewer parameters and fewer MACs than the single large kernel;
- the same theoretical receptive field, and the same effective one (the side of the
  centred square holding half the input gradient, equal within 2 px);
- more non-linearity helps: stack more accurate than linear-stack;
- higher accuracy: stack more accurate than single;
- faster: the stack's step takes less time than the single kernel's.

A verdict is `supported`, `contradicted` or `inconclusive`: inconclusive where the
95% interval of the difference spans zero (one for time ratios), or where there are
fewer than two seeds on either side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from vggbench.rundir import CLAIM_MD, RunDir
from vggbench.schema import GROUP_KEYS, final_epoch, keys_in

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


def _count_verdict(stack: float, single: float) -> str:
    if stack < single:
        return SUPPORTED
    return CONTRADICTED if stack > single else INCONCLUSIVE


def _groups(table: pd.DataFrame, *extra: str):
    """(identity of the compared models, their rows) per group of models that differ only in the variant."""
    keys = [*keys_in(table, GROUP_KEYS), *extra]
    for values, group in table.groupby(keys, sort=False):
        yield dict(zip(keys, values, strict=True)), group


def _static_claims(static: pd.DataFrame) -> list[dict]:
    rows = []
    for base, group in _groups(static):
        by_variant = group.set_index("variant")
        if not {"stack", "single"} <= set(by_variant.index):
            continue
        for claim, column in (("fewer parameters", "params"), ("fewer MACs", "macs")):
            stack, single = by_variant.loc["stack", column], by_variant.loc["single", column]
            rows.append(
                {
                    "claim": claim,
                    **base,
                    "baseline": "single",
                    "variant": "stack",
                    "baseline_value": single,
                    "variant_value": stack,
                    "ratio_value": stack / single,
                    "verdict": _count_verdict(stack, single),
                }
            )
        fields = by_variant["rf_px"]
        rows.append(
            {
                "claim": "same receptive field",
                **base,
                "baseline": "stack",
                "variant": "all",
                "baseline_value": fields["stack"],
                "variant_value": fields.max(),
                "verdict": SUPPORTED if fields.nunique() == 1 else CONTRADICTED,
            }
        )
    return rows


def accuracy_difference(better: np.ndarray, worse: np.ndarray) -> dict:
    """Mean difference better - worse with Welch's t-test and its 95% interval; verdict."""
    row = {
        "baseline_value": float(np.mean(worse)),
        "variant_value": float(np.mean(better)),
        "difference": float(np.mean(better) - np.mean(worse)),
        "seeds": min(len(better), len(worse)),
    }
    if len(better) < 2 or len(worse) < 2:
        return {**row, "verdict": INCONCLUSIVE, "note": "fewer than two seeds"}
    test = stats.ttest_ind(better, worse, equal_var=False)
    interval = test.confidence_interval(0.95)
    low, high = float(interval.low), float(interval.high)
    verdict = INCONCLUSIVE  # also where both sides have no spread and the interval is NaN
    if low > 0:
        verdict = SUPPORTED
    elif high < 0:
        verdict = CONTRADICTED
    return {**row, "ci_low": low, "ci_high": high, "p_value": float(test.pvalue), "verdict": verdict}


def _accuracy_claims(train: pd.DataFrame) -> list[dict]:
    if train.empty or "test_acc" not in train:
        return []
    rows = []
    for base, group in _groups(final_epoch(train.dropna(subset=["test_acc"]))):
        accuracy = {variant: part["test_acc"].to_numpy() for variant, part in group.groupby("variant")}
        for claim, other in (("more non-linearity helps", "linear-stack"), ("higher accuracy", "single")):
            if "stack" in accuracy and other in accuracy:
                rows.append(
                    {
                        "claim": claim,
                        **base,
                        "baseline": other,
                        "variant": "stack",
                        **accuracy_difference(accuracy["stack"], accuracy[other]),
                    }
                )
    return rows


def _speed_claims(pairs: pd.DataFrame) -> list[dict]:
    if pairs.empty or "time_ratio_median" not in pairs:
        return []
    rows = []
    for _, pair in pairs[(pairs["baseline"] == "stack") & (pairs["variant"] == "single")].iterrows():
        low, high = pair["ci_low"], pair["ci_high"]
        # time_ratio = single / stack: above 1 the stack is faster.
        verdict = SUPPORTED if low > 1 else CONTRADICTED if high < 1 else INCONCLUSIVE
        rows.append(
            {
                "claim": "faster",
                **{key: pair[key] for key in keys_in(pairs, GROUP_KEYS)},
                "device": pair["device"],
                "mode": pair["mode"],
                "baseline": "single",
                "variant": "stack",
                "baseline_value": pair["variant_img_per_s"],
                "variant_value": pair["baseline_img_per_s"],
                "ratio_value": pair["time_ratio_median"],
                "ci_low": low,
                "ci_high": high,
                "verdict": verdict,
                "note": "ratio_value: single step time / stack step time",
            }
        )
    return rows


ERF_TOLERANCE_PX = 2  # one step of the square search: sides closer than this count as equal


def _erf_claims(erf: pd.DataFrame) -> list[dict]:
    if erf.empty or "erf_side_t50" not in erf:
        return []
    rows = []
    for base, group in _groups(erf.dropna(subset=["erf_side_t50"]), "trained"):
        trained = base.pop("trained")
        by_variant = group.set_index("variant")
        if not {"stack", "single"} <= set(by_variant.index):
            continue
        stack, single = by_variant.loc["stack", "erf_side_t50"], by_variant.loc["single", "erf_side_t50"]
        rows.append(
            {
                "claim": "same effective receptive field",
                **base,
                "mode": "trained" if trained else "untrained",
                "baseline": "single",
                "variant": "stack",
                "baseline_value": single,
                "variant_value": stack,
                "ratio_value": stack / single,
                "verdict": SUPPORTED if abs(stack - single) <= ERF_TOLERANCE_PX else CONTRADICTED,
                "note": "side in px of the centred square holding 50% of the input gradient",
            }
        )
    return rows


COLUMNS = [
    "claim",
    "arch",
    "ratio",
    "resolution",
    "device",
    "mode",
    "baseline",
    "variant",
    "baseline_value",
    "variant_value",
    "difference",
    "ratio_value",
    "ci_low",
    "ci_high",
    "p_value",
    "seeds",
    "verdict",
    "note",
]
# What the terminal shows of the claim table (claim.csv and claim.md have every column).
SHOWN_COLUMNS = [
    column
    for column in COLUMNS
    if column not in ("resolution", "difference", "ratio_value", "p_value", "seeds", "note")
]


def claim_table(
    static: pd.DataFrame, train: pd.DataFrame, pairs: pd.DataFrame, erf: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per sub-claim and arch/ratio (and device/mode for speed), with its evidence and verdict."""
    rows = _static_claims(static) + _erf_claims(pd.DataFrame() if erf is None else erf)
    rows += _accuracy_claims(train) + _speed_claims(pairs)
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _markdown(table: pd.DataFrame) -> str:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


BLOCK_COLUMNS = [
    "arch",
    "ratio",
    "block",
    "num_convs",
    "block_in_channels",
    "block_out_channels",
    "params_vs_stack",
    "params_vs_stack_if_in_eq_out",
    "macs_vs_stack",
]


def _block_section(blocks: pd.DataFrame) -> list[str]:
    """Where the analytic 27C^2 against 49C^2 holds, block by block (nothing where no block has several convs)."""
    single = blocks[(blocks["variant"] == "single") & (blocks["num_convs"] > 1)] if not blocks.empty else blocks
    if single.empty:
        return []
    text = [
        "## Block by block: where 27C^2 against 49C^2 holds",
        "",
        "The analytic ratio assumes a block whose convs all have C inputs and C outputs. Where the "
        "block's first conv changes the width, the single kernel's share differs:",
        "",
        _markdown(single[BLOCK_COLUMNS]),
        "",
    ]
    cheaper = single[single["params_vs_stack"] < 1]
    if not cheaper.empty:
        where = ", ".join(
            f"{row.arch} r{row.ratio} block {row.block} ({row.params_vs_stack:.3f}x)" for row in cheaper.itertuples()
        )
        text += [f"The single kernel has *fewer* parameters than the stack in: {where}.", ""]
    return text


def report(run_dir: str | Path) -> tuple[pd.DataFrame, str]:
    """claim.csv and claim.md in `run_dir`, from its static, blocks, train, pairs and erf tables
    (all but static may be missing: their parts of the claim are then left out)."""
    directory = RunDir(run_dir)
    root = directory.root
    if not directory.has("static.csv"):
        raise ValueError(f"{root / 'static.csv'} is missing: is {root} a finished `vggbench run` directory?")
    claims = claim_table(*(directory.table(name) for name in ("static", "train", "pairs", "erf")))
    shown = claims.drop(columns=[column for column in claims if claims[column].isna().all()])
    counts = claims.groupby("claim", sort=False)["verdict"].value_counts().unstack(fill_value=0)
    at_a_glance = [
        f"- {claim}: " + ", ".join(f"{verdict} {count}" for verdict, count in row.items() if count)
        for claim, row in counts.iterrows()
    ]
    text = [
        f"# The kernel-stacking claim: {root.name}",
        "",
        "Verdicts from the tables in this folder. `baseline_value` and `variant_value` are the evidence "
        "(params, MACs, receptive field in px, final test accuracy, or images per second); accuracy "
        "differences come with Welch's t-test and its 95% interval, speed with the paired bootstrap "
        "interval of the time ratio.",
        "",
        "At a glance (rows per verdict):",
        "",
        *at_a_glance,
        "",
        _markdown(shown),
        "",
        *_block_section(directory.table("blocks")),
    ]
    markdown = "\n".join(text)
    directory.write_table("claim", claims)
    directory.write_text(CLAIM_MD, markdown)
    return claims, markdown
