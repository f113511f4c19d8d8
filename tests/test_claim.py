"""Claim verdicts on hand-made tables: supported, contradicted, inconclusive."""

import pandas as pd
import pytest

from vggbench import claim

KEYS = {"arch": "vgg11", "ratio": 8, "resolution": 32}


def _static(stack_params, single_params, rf_single=150):
    return pd.DataFrame(
        [
            {**KEYS, "variant": "stack", "params": stack_params, "macs": 100, "rf_px": 150},
            {**KEYS, "variant": "single", "params": single_params, "macs": 139, "rf_px": rf_single},
        ]
    )


def _verdicts(table):
    return dict(zip(table["claim"], table["verdict"], strict=True))


def test_counts_and_receptive_field():
    verdicts = _verdicts(claim.claim_table(_static(10, 20), pd.DataFrame(), pd.DataFrame()))
    assert verdicts == {"fewer parameters": "supported", "fewer MACs": "supported", "same receptive field": "supported"}
    verdicts = _verdicts(claim.claim_table(_static(30, 20, rf_single=148), pd.DataFrame(), pd.DataFrame()))
    assert verdicts["fewer parameters"] == "contradicted" and verdicts["same receptive field"] == "contradicted"


def _train(stack, single, linear):
    rows = []
    for variant, accuracies in (("stack", stack), ("single", single), ("linear-stack", linear)):
        rows += [
            {**KEYS, "variant": variant, "seed": seed, "epoch": 2, "test_acc": acc}
            for seed, acc in enumerate(accuracies)
        ]
        rows += [
            {**KEYS, "variant": variant, "seed": seed, "epoch": 1, "test_acc": 0.1} for seed in range(len(accuracies))
        ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("stack", "other", "verdict"),
    [
        ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], "supported"),
        ([0.80, 0.81, 0.82], [0.90, 0.91, 0.92], "contradicted"),
        ([0.85, 0.90, 0.88], [0.86, 0.89, 0.87], "inconclusive"),
        ([0.95], [0.50], "inconclusive"),  # one seed: no interval
    ],
)
def test_accuracy_verdicts(stack, other, verdict):
    table = claim.claim_table(_static(1, 2), _train(stack, other, other), pd.DataFrame())
    rows = table[table["claim"].isin(["higher accuracy", "more non-linearity helps"])]
    assert list(rows["verdict"]) == [verdict, verdict]
    assert rows.iloc[0]["difference"] == pytest.approx(sum(stack) / len(stack) - sum(other) / len(other))


def test_final_epoch_only_counts():
    table = claim.claim_table(_static(1, 2), _train([0.9, 0.91], [0.8, 0.81], [0.8, 0.81]), pd.DataFrame())
    row = table[table["claim"] == "higher accuracy"].iloc[0]
    assert row["variant_value"] == pytest.approx(0.905) and row["seeds"] == 2


@pytest.mark.parametrize(
    ("ratio", "low", "high", "verdict"),
    [(1.3, 1.2, 1.4, "supported"), (0.6, 0.55, 0.65, "contradicted"), (1.01, 0.97, 1.05, "inconclusive")],
)
def test_speed_verdicts(ratio, low, high, verdict):
    pairs = pd.DataFrame(
        [
            {
                **KEYS,
                "device": "cpu",
                "mode": "infer",
                "baseline": "stack",
                "variant": "single",
                "baseline_img_per_s": 100.0,
                "variant_img_per_s": 100.0 / ratio,
                "time_ratio_median": ratio,
                "ci_low": low,
                "ci_high": high,
            }
        ]
    )
    row = claim.claim_table(_static(1, 2), pd.DataFrame(), pairs).iloc[-1]
    assert (row["claim"], row["verdict"], row["ratio_value"]) == ("faster", verdict, ratio)


@pytest.mark.parametrize(("stack_side", "single_side", "verdict"), [(50, 52, "supported"), (40, 52, "contradicted")])
def test_effective_field_verdicts(stack_side, single_side, verdict):
    erf = pd.DataFrame(
        [
            {**KEYS, "variant": variant, "trained": True, "erf_side_t50": side}
            for variant, side in (("stack", stack_side), ("single", single_side))
        ]
    )
    table = claim.claim_table(_static(1, 2), pd.DataFrame(), pd.DataFrame(), erf)
    row = table[table["claim"] == "same effective receptive field"].iloc[0]
    assert (row["mode"], row["baseline_value"], row["variant_value"], row["verdict"]) == (
        "trained",
        single_side,
        stack_side,
        verdict,
    )
