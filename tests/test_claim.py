"""Claim verdicts on hand-made tables, against statistics computed here by hand or with scipy directly."""

import html
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

import vggbench
from vggbench.engine import registry
from vggbench.engine.config import Rules
from vggbench.engine.contract import Kind, Table
from vggbench.models.schema import identity, spec_from_identity
from vggbench.reporting import claim, page, terminal
from vggbench.stats import correctness
from vggbench.stats import hypothesis as stats
from vggbench.verdicts import flags, padding
from vggbench.verdicts.train import recipe_note

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
    table = claim.claim_table({"static": _static(10, 20)})
    verdicts = _verdicts(table)
    assert verdicts["fewer parameters"] == "supported" and verdicts["fewer MACs"] == "supported"
    assert pd.isna(verdicts["same receptive field"])  # true by construction: no finding, no verdict word
    note = table.set_index("claim").loc["same receptive field", "note"]
    assert "equal by construction" in note and "the 150 px field is larger than the 32 px image" in note
    unequal = claim.claim_table({"static": _static(30, 20, rf_single=148)}).set_index("claim")
    assert unequal.loc["fewer parameters", "verdict"] == "contradicted"
    assert pd.isna(unequal.loc["same receptive field", "verdict"])
    assert (
        "NOT equal" in unequal.loc["same receptive field", "note"]
        and "single 148 px" in unequal.loc["same receptive field", "note"]
    )


def _train(stack, single, linear, keys=KEYS, failed=(), **more):
    """Two epochs per run; the final one at the given accuracies (`more`: further variants'). Runs in `failed`
    ((variant, seed)) never leave chance (training loss ln 10)."""
    rows = []
    for variant, accuracies in (("stack", stack), ("single", single), ("linear-stack", linear), *more.items()):
        for seed, accuracy in enumerate(accuracies):
            loss = math.log(10) if (variant, seed) in failed else 0.4
            rows.append(
                {**keys, "variant": variant, "seed": seed, "epoch": 2, "test_acc": accuracy, "train_loss": loss}
            )
            rows.append({**keys, "variant": variant, "seed": seed, "epoch": 1, "test_acc": 0.1, "train_loss": 2.3})
    return pd.DataFrame(rows)


def _accuracy(table, analysis="primary"):
    """The accuracy rows of one analysis (None: every analysis)."""
    rows = table[table["claim"].isin(["higher accuracy", "more non-linearity helps"])]
    return rows if analysis is None else rows[rows["analysis"] == analysis]


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
    rows = _accuracy(claim.claim_table({"static": _static(1, 2), "train": _train(stack, other, other)}))
    assert list(rows["verdict"]) == [verdict, verdict]
    assert rows.iloc[0]["difference"] == pytest.approx(sum(stack) / len(stack) - sum(other) / len(other))


def test_final_epoch_only_counts():
    table = claim.claim_table({"train": _train([0.9, 0.91], [0.8, 0.81], [0.8, 0.81])})
    row = _accuracy(table).set_index("claim").loc["higher accuracy"]
    assert row["variant_value"] == pytest.approx(0.905) and row["seeds_variant"] == 2


def test_the_accuracy_family_is_holm_adjusted_and_the_statistics_are_welchs():
    stack, single = [0.905, 0.912, 0.899, 0.915, 0.908], [0.895, 0.898, 0.906, 0.895, 0.900]  # Welch p = 0.033
    strong = _train([0.95, 0.96, 0.95], [0.80, 0.81, 0.80], [0.80, 0.81, 0.80], keys={**KEYS, "ratio": 4})
    table = claim.claim_table({"train": pd.concat([_train(stack, single, single), strong])})
    rows = _accuracy(table).set_index(["ratio", "claim"])
    raw = scipy_stats.ttest_ind(stack, single, equal_var=False).pvalue
    family = rows["p_value"].to_numpy()
    assert rows.loc[(8, "higher accuracy"), "p_value"] == pytest.approx(raw)
    # Holm by hand over the family of four: the two weaker rows are the 3rd and 4th smallest.
    ordered = np.sort(family)
    assert rows.loc[(8, "higher accuracy"), "p_value_holm"] == pytest.approx(
        max(2 * ordered[2], 4 * ordered[0], 3 * ordered[1])
    )
    assert raw < 0.05 < rows.loc[(8, "higher accuracy"), "p_value_holm"]  # significant alone, not in the family
    assert rows.loc[(8, "higher accuracy"), "verdict"] == "inconclusive"
    assert rows.loc[(4, "higher accuracy"), "verdict"] == "supported"
    a, b = np.array(stack), np.array(single)
    pooled = math.sqrt((4 * a.var(ddof=1) + 4 * b.var(ddof=1)) / 8)
    assert rows.loc[(8, "higher accuracy"), "hedges_g"] == pytest.approx((1 - 3 / 31) * (a.mean() - b.mean()) / pooled)
    assert rows.loc[(8, "higher accuracy"), "mde"] > 0


def test_equivalent_when_both_one_sided_tests_reject():
    stack = [0.9000, 0.9010, 0.8990, 0.9005, 0.8995, 0.9002]
    single = [0.9003, 0.8997, 0.9008, 0.8992, 0.9001, 0.8999]
    table = claim.claim_table({"train": _train(stack, single, single)}, Rules(0.01))
    row = _accuracy(table).set_index("claim").loc["higher accuracy"]
    lower = scipy_stats.ttest_ind(np.add(stack, 0.01), single, equal_var=False, alternative="greater").pvalue
    upper = scipy_stats.ttest_ind(np.subtract(stack, 0.01), single, equal_var=False, alternative="less").pvalue
    assert row["tost_p"] == pytest.approx(max(lower, upper))
    assert row["verdict"] == "equivalent" and row["margin"] == 0.01
    narrow = claim.claim_table({"train": _train(stack, single, single)}, Rules(1e-4))
    assert _accuracy(narrow).set_index("claim").loc["higher accuracy", "verdict"] == "inconclusive"


def test_a_failed_run_is_left_out_counted_and_tested_for():
    stack, single = [0.90, 0.91, 0.92, 0.10], [0.80, 0.81, 0.82, 0.83]
    table = claim.claim_table({"train": _train(stack, single, single, failed={("stack", 3)})})
    rows = table[table["claim"] == "higher accuracy"].set_index("analysis")
    primary = rows.loc["primary"]
    assert (primary["seeds_variant"], primary["failed_variant"], primary["failed_baseline"]) == (3, 1, 0)
    assert primary["variant_value"] == pytest.approx(0.91) and "1 failed run(s) left out" in primary["note"]
    assert rows.loc["all runs (sensitivity)", "variant_value"] == pytest.approx(np.mean(stack))
    assert rows.loc["paired by data order (sensitivity)", "seeds_variant"] == 3
    # Sensitivity rows show numbers, not verdict words.
    sensitivity = table[table["analysis"] != "primary"]
    assert len(sensitivity) >= 2 and sensitivity["verdict"].isna().all()
    assert sensitivity["difference"].notna().all()
    reliable = table[(table["claim"] == "trains reliably") & (table["baseline"] == "single")].iloc[0]
    assert (reliable["failed_variant"], reliable["failed_baseline"]) == (1, 0)
    # stack - rival, as every difference runs: the stack's share of failed runs is the higher here.
    assert (reliable["unit"], reliable["difference"]) == ("share of runs failed", pytest.approx(0.25))
    assert reliable["p_value"] == pytest.approx(scipy_stats.fisher_exact([[1, 3], [0, 4]]).pvalue)
    assert reliable["verdict"] == "inconclusive"


def test_the_paired_row_pairs_seeds_by_data_order_and_names_its_effect_size_d_z():
    stack, single = [0.90, 0.93, 0.91, 0.95], [0.85, 0.86, 0.89, 0.88]
    rows = _accuracy(claim.claim_table({"train": _train(stack, single, single)}), analysis=None)
    rows = rows[rows["baseline"] == "single"].set_index("analysis")
    paired, primary = rows.loc["paired by data order (sensitivity)"], rows.loc["primary"]
    differences = np.subtract(stack, single)
    assert paired["cohens_dz"] == pytest.approx(differences.mean() / differences.std(ddof=1))
    assert paired["p_value"] == pytest.approx(scipy_stats.ttest_rel(stack, single).pvalue)
    assert pd.isna(paired["hedges_g"]) and pd.isna(paired["verdict"]) and pd.isna(primary["cohens_dz"])
    assert primary["hedges_g"] == pytest.approx(stats.hedges_g(stack, single))


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
    row = claim.claim_table({"static": _static(1, 2), "pairs": pairs}).iloc[-1]
    assert (row["claim"], row["verdict"], row["ratio_value"]) == ("faster", verdict, ratio)
    # The values are throughputs: their ratio runs as the ratio_value does, stack / rival.
    assert row["unit"] == "images/s" and row["variant_value"] / row["baseline_value"] == pytest.approx(ratio)
    assert "FLAGGED" not in row["note"]  # a table from before the stability flag


@pytest.mark.parametrize(("stable", "flagged"), [(True, False), (False, True)])
def test_a_faster_verdict_from_a_flagged_pair_says_so(stable, flagged):
    pair = {**KEYS, "device": "cpu", "mode": "infer", "baseline": "stack", "variant": "single"}
    pair.update(baseline_img_per_s=100.0, variant_img_per_s=80.0, time_ratio_median=1.25, ci_low=1.2, ci_high=1.3)
    pair.update(stable=stable, ci_half_width=0.08, target_half_width=0.03)
    row = claim.claim_table({"static": _static(1, 2), "pairs": pd.DataFrame([pair])}).iloc[-1]
    assert row["verdict"] == "supported"
    assert ("FLAGGED (stable=False)" in row["note"]) is flagged
    assert ("interval +-8.0% missed its +-3.0% target" in row["note"]) is flagged


def _erf_row(variant, shares, replknet=None):
    shares = np.asarray(shares, dtype=float)
    replknet = shares if replknet is None else np.asarray(replknet, dtype=float)
    return {
        **KEYS,
        "variant": variant,
        "trained": True,
        "erf_resolution": 160,
        "rf_fits": True,
        "erf_share_t50": shares.mean(),
        "erf_share_t50_per_model": ";".join(map(str, shares)),
        "replknet_share_t50_per_model": ";".join(map(str, replknet)),
    }


SPREAD = np.array([-2, -1, 0, 1, 2]) * 0.001  # five models per arm, sd 0.0016


@pytest.mark.parametrize(
    ("stack_share", "single_share", "verdict"),
    [
        (0.100, 0.104, "equivalent"),
        (0.100, 0.160, "contradicted"),
        (0.100, 0.115, "inconclusive"),  # 0.015 apart: neither inside 0.02 nor clearly apart with this spread
    ],
)
def test_effective_field_verdicts_are_welch_t_over_models(stack_share, single_share, verdict):
    stack, single = stack_share + SPREAD, single_share + 4 * SPREAD[::-1]
    if verdict == "inconclusive":
        stack, single = stack_share + 8 * SPREAD, single_share + 8 * SPREAD
    erf = pd.DataFrame([_erf_row("stack", stack), _erf_row("single", single)])
    table = claim.claim_table({"static": _static(1, 2), "erf": erf})
    rows = table[table["claim"] == "same effective receptive field"].set_index("analysis")
    primary = rows.loc["primary"]
    assert (primary["mode"], primary["verdict"]) == ("trained", verdict)
    assert (primary["baseline_value"], primary["variant_value"]) == pytest.approx((single.mean(), stack.mean()))
    interval = scipy_stats.ttest_ind(stack, single, equal_var=False).confidence_interval(0.95)
    assert (primary["ci_low"], primary["ci_high"]) == pytest.approx((interval.low, interval.high))
    assert (
        "measured at 160 px for models trained at 32 px" in primary["note"] and "5 stack and 5 rival" in primary["note"]
    )
    assert len(rows) == 1 and "RepLKNet's log10(1 + x) gives the same" in primary["note"]  # no repeated row


def test_fewer_than_five_models_are_noted_and_one_model_has_no_test():
    few = claim.claim_table(
        {"erf": pd.DataFrame([_erf_row("stack", [0.1, 0.11, 0.12]), _erf_row("single", [0.2, 0.21])])}
    )
    assert "fewer than 5 models" in few.loc[0, "note"] and few.loc[0, "verdict"] == "contradicted"
    lone = claim.claim_table({"erf": pd.DataFrame([_erf_row("stack", [0.1]), _erf_row("single", [0.2])])})
    assert np.isnan(lone.loc[0, "p_value"]) and lone.loc[0, "verdict"] == "inconclusive"


@pytest.mark.slow
def test_the_power_command_sizes_each_contrast_from_the_runs_spread(tmp_path, capsys):
    # Both arms spread 0.02 (the three runs 0.80, 0.82, 0.84): detecting 0.01 is d = 0.5, which takes 64
    # runs per arm at 80% power and alpha 0.05 two-sided (Cohen 1988, table 2.4.1); the run compares the stack with
    # two rivals, so each is sized at the first Holm step's alpha / 2: 2 (z_0.9875 + z_0.8)^2 / d^2 = 76.0 by the
    # normal approximation, 78 with the t-test's freedoms.
    run = tmp_path / "run"
    run.mkdir()
    _train([0.80, 0.82, 0.84], [0.80, 0.82, 0.84], [0.81, 0.83, 0.85]).to_csv(run / "train.csv", index=False)
    out = tmp_path / "power.csv"
    from vggbench.cli import main

    assert main(["power", str(run), "--effect", "0.01", "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("claim")
    assert table.loc["higher accuracy", "sd"] == pytest.approx(0.02)
    assert table.loc["higher accuracy", "level"] == 0.025 and table.loc["higher accuracy", "comparisons"] == 2
    assert table.loc["higher accuracy", "seeds_needed"] == 78 and table.loc["higher accuracy", "seeds_now"] == 3
    assert stats.seeds_needed(0.02, 0.01) == 64  # at the whole alpha, Cohen's
    assert "Seeds per arm for 80% power" in capsys.readouterr().out
    assert main(["power", str(tmp_path)]) == 2  # no training rows there


def test_a_run_of_training_alone_finishes_with_a_claim(tmp_path):
    _train([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], [0.85, 0.86, 0.87]).to_csv(tmp_path / "train.csv", index=False)
    claims, text = claim.report(tmp_path)
    final = {"higher accuracy", "more non-linearity helps"}
    assert set(claims["claim"]) == {*final, *(f"{name} at an earlier budget" for name in final), "trains reliably"}
    assert (tmp_path / "claim.md").read_text() == text
    assert "### higher accuracy" in text and "## The training budget" in text and "fewer parameters" not in text
    assert text.index("### higher accuracy\n") < text.index("## Accuracy at earlier budgets")
    assert text.index("## Accuracy at earlier budgets") < text.index("### higher accuracy at an earlier budget")


def test_every_rival_variant_present_is_compared_with_the_stack_alike():
    stack, single, linear = [0.90, 0.91, 0.93], [0.80, 0.82, 0.81], [0.89, 0.90, 0.91]
    dilated = [0.88, 0.905, 0.89]
    static = pd.concat(
        [_static(10, 20), pd.DataFrame([{**KEYS, "variant": "dilated", "params": 8, "macs": 100, "rf_px": 150}])]
    )
    table = claim.claim_table({"static": static, "train": _train(stack, single, linear, dilated=dilated)})
    counts = table[table["claim"] == "fewer parameters"].set_index("baseline")
    assert list(counts.index) == ["single", "dilated"]  # not the linear stack: its counts are the stack's
    assert (counts.loc["dilated", "variant_value"], counts.loc["dilated", "baseline_value"]) == (10, 8)
    assert counts.loc["dilated", "verdict"] == "contradicted" and counts.loc["single", "verdict"] == "supported"
    rows = _accuracy(table).set_index("baseline")
    assert rows.loc["linear-stack", "claim"] == "more non-linearity helps"
    assert rows.loc[["single", "dilated"], "claim"].tolist() == ["higher accuracy", "higher accuracy"]
    raw = {rival: scipy_stats.ttest_ind(stack, arm, equal_var=False).pvalue for rival, arm in
           (("linear-stack", linear), ("single", single), ("dilated", dilated))}  # fmt: skip
    for rival, p_value in raw.items():
        assert rows.loc[rival, "p_value"] == pytest.approx(p_value)
        # Holm by hand over the family of three: the i-th smallest times (4 - i), kept increasing.
        ordered = sorted(raw.values())
        rank = ordered.index(p_value)
        holm = min(1, max((3 - i) * ordered[i] for i in range(rank + 1)))
        assert rows.loc[rival, "p_value_holm"] == pytest.approx(holm)
    assert rows.loc["dilated", "difference"] == pytest.approx(np.mean(stack) - np.mean(dilated))
    reliable = table[table["claim"] == "trains reliably"]
    assert sorted(reliable["baseline"]) == ["dilated", "linear-stack", "single"]


def test_every_large_kernel_rival_timed_against_the_stack_gets_a_faster_row():
    def pair(variant, ratio):
        return {**KEYS, "device": "cpu", "mode": "infer", "baseline": "stack", "variant": variant,
                "baseline_img_per_s": 100.0, "variant_img_per_s": 100 / ratio, "time_ratio_median": ratio,
                "ci_low": ratio - 0.05, "ci_high": ratio + 0.05}  # fmt: skip

    pairs = pd.DataFrame([pair("single", 1.3), pair("linear-stack", 1.0), pair("depthwise", 0.7)])
    rows = claim.claim_table({"pairs": pairs}).set_index("baseline")
    assert list(rows.index) == ["single", "depthwise"]
    assert rows.loc["depthwise", "verdict"] == "contradicted" and rows.loc["single", "verdict"] == "supported"
    assert rows.loc["depthwise", "note"].startswith(
        "ratio_value: stack images/s / depthwise's, as the median over paired timings of depthwise step time / stack"
    )


class Votes(Kind):
    """A kind of its own: one claim row per row of its table."""

    name = "votes"
    tables = (Table("votes", "Votes", ("arch", "verdict")),)

    def judge(self, tables, rules):
        return [{"claim": "votes decide", "analysis": "primary", **row} for row in tables["votes"].to_dict("records")]


def test_a_kind_that_judges_its_table_has_its_rows_in_the_claim(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.KINDS, "votes", Votes())
    pd.DataFrame([{"arch": "vgg11", "verdict": "supported"}]).to_csv(tmp_path / "votes.csv", index=False)
    _static(10, 20).to_csv(tmp_path / "static.csv", index=False)
    claim.report(tmp_path)
    written = pd.read_csv(tmp_path / "claim.csv")
    assert list(written["claim"]) == ["fewer parameters", "fewer MACs", "same receptive field", "votes decide"]
    assert written.iloc[-1][["arch", "verdict"]].tolist() == ["vgg11", "supported"]
    assert "### votes decide" in (tmp_path / "claim.md").read_text()


def test_the_accuracy_interval_counts_the_test_set_where_runs_recorded_each_image():
    # Three alike runs per arm on 20 test images: the stack right on images 0-14, the others on 0-11. The seeds
    # do not vary, so the interval is the test set's alone (by hand: d_i = 1 on three images of 20).
    right = {"stack": np.arange(20) < 15, "single": np.arange(20) < 12, "linear-stack": np.arange(20) < 12}
    train = _train([0.75] * 3, [0.6] * 3, [0.6] * 3)
    final = train["epoch"] == 2
    train.loc[final, "test_correct"] = [correctness.encode(right[variant]) for variant in train.loc[final, "variant"]]
    row = _accuracy(claim.claim_table({"train": train})).set_index("claim").loc["higher accuracy"]
    half = scipy_stats.t.ppf(0.975, 19) * math.sqrt((3 - 20 * 0.15**2) / 19 / 20)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.15 - half, 0.15 + half))
    assert "test-set sampling" in row["interval_method"] and "left out" not in row["interval_method"]
    train.loc[train.index[final][0], "test_correct"] = math.nan  # one run without it: Welch over the seeds
    row = _accuracy(claim.claim_table({"train": train})).set_index("claim").loc["higher accuracy"]
    assert "left out" in row["interval_method"] and math.isnan(row["ci_low"])  # alike runs: no spread


def test_the_speed_family_is_holm_adjusted_with_the_intervals_p_values():
    def pair(variant, low, high):
        return {**KEYS, "device": "cpu", "mode": "infer", "baseline": "stack", "variant": variant,
                "baseline_img_per_s": 100.0, "variant_img_per_s": 90.0, "time_ratio_median": math.sqrt(low * high),
                "ci_low": low, "ci_high": high}  # fmt: skip

    marginal = pair("single", 1.01, 1.30)  # excludes 1: faster, alone
    alone = claim.claim_table({"pairs": pd.DataFrame([marginal])}).iloc[0]
    # The normal approximation on the log scale, by hand: the log midpoint over its standard error.
    se = (math.log(1.30) - math.log(1.01)) / (2 * scipy_stats.norm.ppf(0.975))
    p_value = 2 * scipy_stats.norm.sf(math.log(math.sqrt(1.01 * 1.30)) / se)
    assert alone["p_value"] == pytest.approx(p_value) and alone["verdict"] == "supported"
    family = pd.DataFrame([marginal, pair("dilated", 0.9, 1.2), pair("depthwise", 0.8, 1.1)])
    row = claim.claim_table({"pairs": family}).set_index("baseline").loc["single"]
    assert row["p_value_holm"] == pytest.approx(3 * p_value)  # the smallest of three, times three
    assert p_value < 0.05 < row["p_value_holm"] and row["verdict"] == "inconclusive"


def test_the_effective_field_family_is_holm_adjusted_and_its_sensitivity_rows_have_no_verdict():
    stack, single, dilated = 0.10 + SPREAD * 8, 0.12 + SPREAD * 8, 0.10 + SPREAD * 50
    rows = [
        _erf_row("stack", stack, stack * 2),
        _erf_row("single", single, single * 2),
        _erf_row("dilated", dilated, dilated * 2),
    ]
    alone = claim.claim_table({"erf": pd.DataFrame(rows[:2])}, Rules(erf_margin=0.005)).set_index("analysis")
    assert alone.loc["primary", "p_value"] == pytest.approx(
        scipy_stats.ttest_ind(stack, single, equal_var=False).pvalue
    )
    assert alone.loc["primary", "verdict"] == "contradicted"
    table = claim.claim_table({"erf": pd.DataFrame(rows)}, Rules(erf_margin=0.005))
    primary = table[table["analysis"] == "primary"].set_index("baseline")
    assert primary.loc["single", "p_value_holm"] == pytest.approx(2 * primary.loc["single", "p_value"])
    assert primary.loc["single", "p_value"] < 0.05 < primary.loc["single", "p_value_holm"]
    assert primary.loc["single", "verdict"] == "inconclusive"
    sensitivity = table[table["analysis"] != "primary"]  # RepLKNet's shares differ here: their rows stand
    assert len(sensitivity) == 2 and sensitivity["verdict"].isna().all() and sensitivity["p_value"].notna().all()


def test_the_at_a_glance_counts_primary_verdicts_only():
    train = _train([0.90, 0.91, 0.92, 0.10], [0.80, 0.81, 0.82, 0.83], [0.85, 0.88, 0.86, 0.87])
    claims = claim.claim_table({"static": _static(10, 20), "train": train})
    counted = {}
    for line in claim._glance(claims):
        name, counts = line.removeprefix("- ").split(": ")
        counted[name] = sum(int(part.rsplit(" ", 1)[1]) for part in counts.split(", "))
    judged = claims[(claims["analysis"] == "primary") & claims["verdict"].notna()]
    assert counted == judged["claim"].value_counts().to_dict()
    assert list(counted) == list(judged["claim"].unique())  # in the order the parts are told
    assert "same receptive field" not in counted  # by construction, not a finding
    assert (claims["analysis"] != "primary").sum() >= 2  # sensitivity rows there, and not counted


def _erf_rows(trained, batch_norm, stack, single):
    return [
        {**_erf_row(variant, shares), "trained": trained, "batch_norm": batch_norm}
        for variant, shares in (("stack", stack), ("single", single))
    ]


def test_untrained_models_with_and_without_batch_norm_are_one_result():
    # A table that measured the untrained models with and without batch norm apart (the same initial weights,
    # their shares a hair apart) and the trained ones, which differ.
    stack, single = 0.10 + 8 * SPREAD, 0.20 + 8 * SPREAD
    rows = _erf_rows(False, False, stack, single) + _erf_rows(False, True, stack + 1e-5, single - 1e-5)
    rows += _erf_rows(True, False, stack, single - 0.03) + _erf_rows(True, True, stack + 0.02, single - 0.03)
    claims = claim.claim_table({"erf": pd.DataFrame(rows)})
    shared = claims[claims["mode"] == "untrained"]
    assert len(shared) == 1 and not shared["batch_norm"].iloc[0]
    assert shared["stands_for"].iloc[0] == "with and without batch norm"
    assert "one result for the models with and without batch norm" in shared["note"].iloc[0]
    welch = scipy_stats.ttest_ind(stack, single, equal_var=False)  # the rows without batch norm
    assert shared["p_value"].iloc[0] == pytest.approx(welch.pvalue)
    # The widest difference, its p-value the smallest: Holm's factor is the family's size, three results, not four.
    assert shared["p_value_holm"].iloc[0] == pytest.approx(3 * welch.pvalue)
    trained = claims[claims["mode"] == "trained"]
    assert sorted(trained["batch_norm"]) == [False, True] and trained["stands_for"].isna().all()
    assert claim._glance(claims) == ["- same effective receptive field: contradicted 3"]
    assert "contradicted in all 3 comparisons" in page.headline(claims)[0]
    assert "untrained, with and without batch norm" in page.verdict_grid(claims)
    # Where the untrained rival without batch norm is missing (its trial failed), both groups stay: the
    # comparison with batch norm is the only one left to make.
    apart = claim.claim_table({"erf": pd.DataFrame(rows[:1] + rows[2:4])})
    assert list(apart["batch_norm"]) == [True] and apart["stands_for"].isna().all()


def _static_of(specs):
    """A static table of real models' identities (every identity column), the stack the cheapest."""
    return pd.DataFrame(
        [{**identity(spec), "params": 1 + (spec.variant != "stack"), "macs": 1, "rf_px": 100} for spec in specs]
    )


SMALL_MAPS = ["stack", "single", "single-fits", "linear-stack", "dilated"]


def test_every_comparison_with_a_rival_says_where_its_kernel_overhangs_the_map():
    specs = [
        *vggbench.grid(["vgg13", "vgg16"], SMALL_MAPS, ratios=[8], resolutions=[32]),
        *vggbench.grid(["vgg13"], ["stack", "single"], ratios=[8], resolutions=[64], batch_norm=True),
        # A custom plan (the rows' identity holds it): blocks of 2 and 3 convs on maps of 4 and 2 px.
        *vggbench.grid([vggbench.custom([2, 3], [8, 8])], ["stack", "single"], ratios=[8], resolutions=[4]),
    ]
    train = _train([0.9, 0.91], [0.8, 0.81], [0.8, 0.81], keys={"arch": "vgg13", "ratio": 8, "resolution": 32})
    table = claim.claim_table({"static": _static_of(specs), "train": train})
    primary = table[table["analysis"] == "primary"]
    cells = primary.set_index(["claim", "arch", "resolution", "baseline"])["validity"]
    # The overhang's flag, among the cell's others (padding shares, training).
    rows = cells.map(lambda cell: next((flag for flag in str(cell).split("; ") if "wider than the map" in flag), None))
    single = "single's 5x5 kernel is wider than the map in blocks 4, 5 (4 and 2 px)"
    assert rows[("fewer parameters", "vgg13", 32, "single")] == single
    assert rows[("higher accuracy", "vgg13", 32, "single")] == single  # a hand-made table's identity does too
    assert (
        rows[("fewer MACs", "vgg16", 32, "single")]
        == "single's 7x7 kernel is wider than the map in blocks 4, 5 (4 and 2 px)"
    )
    assert rows[("fewer MACs", "vgg13", 32, "dilated")] == (
        "dilated's 3x3 kernel at dilation 2 is wider than the map in blocks 4, 5 (4 and 2 px)"
    )
    assert rows[("fewer MACs", "vgg13", 64, "single")] == "single's 5x5 kernel is wider than the map in block 5 (4 px)"
    assert rows[("fewer MACs", "custom", 4, "single")] == (
        "single's 5x5 kernel is wider than the map in block 1 (4 px), its 7x7 kernel in block 2 (2 px)"
    )
    # single-fits keeps the large kernel where the map holds it; the linear stack's 3x3 overhangs block 5's
    # 2 px map as the stack's does, which tells the two apart in nothing; the field's row compares no rival.
    for quiet in [("fewer MACs", "vgg13", 32, "single-fits"), ("fewer MACs", "vgg16", 32, "single-fits")]:
        assert pd.isna(rows[quiet])
    assert pd.isna(rows[("more non-linearity helps", "vgg13", 32, "linear-stack")])
    assert rows.xs("same receptive field").isna().all()


def test_a_rows_identity_names_its_model_again():
    specs = [
        vggbench.ModelSpec("vgg16", "single-fits", ratio=8, in_channels=3, num_classes=100, resolution=64),
        vggbench.ModelSpec(vggbench.custom([2, 3], [8, 16], kernel=5), "dilated", ratio=8, batch_norm=True),
    ]
    for spec in specs:
        assert spec_from_identity(identity(spec)) == spec
    assert spec_from_identity({"arch": "vgg11", "resolution": 32.0}) == vggbench.ModelSpec("vgg11", resolution=32)


def test_rows_that_name_no_model_get_no_validity():
    assert padding.of_row({"claim": "3x3 is the densest", "baseline": "7x7", "variant": "3x3"}) == ""
    assert padding.of_row({"claim": "votes decide", "arch": "vgg11", "verdict": "supported"}) == ""
    assert padding.of_row({"baseline": "single", "variant": "stack", "arch": "custom", "resolution": 32}) == ""


def test_claim_md_names_the_flagged_comparisons_and_what_the_flags_mean(tmp_path):
    specs = vggbench.grid(["vgg16"], ["stack", "single", "single-fits"], ratios=[8], resolutions=[32])
    _static_of(specs).to_csv(tmp_path / "static.csv", index=False)
    claims, text = claim.report(tmp_path)
    single = (
        "single's 7x7 kernel is wider than the map in blocks 4, 5 (4 and 2 px); stack's 3x3 kernel puts 56% "
        "of its taps on zero padding in block 5 (2 px), over 33%; single's 7x7 kernel puts 38%, 67% and "
        "92% of its taps on zero padding in blocks 3, 4, 5 (8, 4 and 2 px), over 33%"
    )
    fits = "single-fits's 7x7 kernel puts 38% of its taps on zero padding in block 3 (8 px), over 33%"
    assert flags.flagged(claims) == [
        f"vgg16 r8 at 32 px, stack against single: {single}",
        f"vgg16 r8 at 32 px, stack against single-fits: {fits}",
    ]
    interaction = {**claims[claims["validity"].notna()].iloc[0].to_dict(), "analysis": "interaction"}
    joined = pd.concat([claims, pd.DataFrame([{**interaction, "batch_norm": math.nan}])], ignore_index=True)
    assert flags.flagged(joined) == flags.flagged(claims)  # it joins comparisons already named: not named again
    # The terminal lists them too, a comparison a line (wrapped lines indented under it), then what they mean.
    printed = terminal.claim_text(claims).split(flags.FLAGGED)[1].splitlines()
    starts = [line for line in printed if line.startswith("- ")]
    compared = [f"- vgg16 r8 at 32 px, stack against {rival}" for rival in ("single", "single-fits")]
    assert [line.split(":")[0] for line in starts] == compared
    assert all(len(line) <= terminal.WIDTH for line in printed) and " ".join(printed).endswith("or not it failed.")
    listed = f"{flags.FLAGGED}\n\n- vgg16 r8 at 32 px, stack against single: {single}\n"  # claim.md: a list
    assert listed in text and text.index(listed) < text.index(flags.rules()) < text.index("At a glance")
    assert f"| {single} |" in text  # the flags in the part's table, beside the verdict
    written = pd.read_csv(tmp_path / "claim.csv")
    assert list(written.loc[written["baseline"] == "single", "validity"]) == [single, single]
    assert list(written.loc[written["baseline"] == "single-fits", "validity"]) == [fits, fits]
    assert written.loc[written["variant"] == "all", "validity"].isna().all()  # the field's row compares no pair
    _static_of(vggbench.grid(["vgg13"], ["stack", "single"], ratios=[8], resolutions=[224])).to_csv(
        tmp_path / "static.csv", index=False
    )
    _, text = claim.report(tmp_path)
    assert "No comparison is flagged in the validity column. Flags describe and change no verdict." in text


def test_a_kernel_with_more_of_its_taps_on_padding_than_the_limit_is_flagged_in_either_arm():
    fits, stack = (vggbench.ModelSpec("vgg16", variant, ratio=8, resolution=32) for variant in ("single-fits", "stack"))
    flag = "single-fits's 7x7 kernel puts 38% of its taps on zero padding in block 3 (8 px), over 33%"
    assert flags.padded_kernels(fits, stack) == flag  # it fits the 8 px map, yet pads
    assert flags.padded_kernels(stack, fits) == ""  # the stack's 3x3 there: 16%; blocks 4, 5 the same in both
    shallower = [vggbench.ModelSpec("vgg13", variant, ratio=8, resolution=32) for variant in ("single-fits", "stack")]
    assert flags.padded_kernels(*shallower) == ""  # its 5x5 on the 8 px map: 28% of its taps, under a third
    # At 64 px block 3's map is 16 px: the 7x7 puts 20% of its taps there, under the limit; block 4's 8 px is over.
    wide = [vggbench.ModelSpec("vgg16", variant, ratio=8, resolution=64) for variant in ("single-fits", "stack")]
    assert flags.padded_kernels(*wide) == flag.replace("block 3", "block 4")
    # The same rule for every variant: the stack's own 3x3s where the rival's kernel differs.
    single = vggbench.ModelSpec("vgg16", "single", ratio=8, resolution=32)
    assert flags.padded_kernels(stack, single) == (
        "stack's 3x3 kernel puts 56% of its taps on zero padding in block 5 (2 px), over 33%"
    )
    table = claim.claim_table({"static": _static_of([fits, stack])})
    assert (table.loc[table["baseline"] == "single-fits", "validity"] == flag).all()


PLATEAUED = {"stack": [[0.5, 0.52, 0.51], [0.79, 0.8, 0.81], [0.8, 0.802, 0.81]]}
WIDE = {"arch": "vgg11", "ratio": 8, "resolution": 224}  # maps of 14 px and more: no kernel pads over the limit


def test_an_arm_still_learning_at_its_last_epoch_is_flagged_with_its_gain():
    arms = {**PLATEAUED, "single": [[0.5, 0.52, 0.51], [0.69, 0.7, 0.71], [0.78, 0.79, 0.79]]}
    table = claim.claim_table({"train": _curves(arms, keys=WIDE)})
    flag = "single still learning at its last epoch (mean test-accuracy gain +0.087, above the plateau gain 0.005)"
    assert (table.loc[table["baseline"] == "single", "validity"] == flag).all()
    # The rule the rows were judged with: a plateau gain of 0.1 holds the single kernel's +0.087 a plateau.
    loose = claim.claim_table({"train": _curves(arms, keys=WIDE).assign(plateau_gain=0.1)})
    assert loose["validity"].isna().all()


def test_a_gain_just_above_the_plateau_gain_is_written_apart_from_it():
    # 0.00523 rounds to the plateau gain's 0.005 at three decimals: a flag saying "+0.005, above 0.005" reads wrong.
    assert flags._gain(0.00523, 0.005) == "+0.0052" and flags._gain(0.0867, 0.005) == "+0.087"


def test_runs_at_chance_for_an_epoch_are_counted_per_arm():
    # Two single-kernel runs at chance (at most 0.12 with ten classes), one in its first epoch, one in its second.
    arms = {
        "stack": [[0.5, 0.51, 0.49], *PLATEAUED["stack"]],
        "single": [[0.11, 0.3, 0.13], [0.5, 0.12, 0.5], [0.795, 0.8, 0.8], [0.8, 0.801, 0.8]],
    }
    table = claim.claim_table({"train": _curves(arms, keys=WIDE)})
    flag = "single: 2 of 3 runs at chance (test accuracy at most 0.12) for an epoch or more"
    assert (table.loc[table["baseline"] == "single", "validity"] == flag).all()
    # Chance is 1/classes: with 100 classes 0.11 and 0.12 are far above it (at most 0.03).
    hundred = claim.claim_table({"train": _curves(arms, keys={**WIDE, "num_classes": 100})})
    assert hundred["validity"].isna().all()


def test_training_flags_stay_off_the_rows_that_training_does_not_touch():
    # A parameter count does not depend on how the models trained: the static rows of a group whose single kernel
    # was still learning carry no flag (at 224 px no kernel pads over the limit), its accuracy rows do.
    arms = {**PLATEAUED, "single": [[0.5, 0.52, 0.51], [0.69, 0.7, 0.71], [0.78, 0.79, 0.79]]}
    specs = vggbench.grid(["vgg11"], ["stack", "single"], ratios=[8], resolutions=[224])
    table = claim.claim_table({"static": _static_of(specs), "train": _curves(arms, keys=WIDE)})
    static = table["claim"].isin(["fewer parameters", "fewer MACs"])
    assert static.sum() == 2 and table.loc[static, "validity"].isna().all()
    trained = table["claim"].isin(["higher accuracy", "trains reliably"]) & (table["baseline"] == "single")
    assert trained.sum() >= 2 and table.loc[trained, "validity"].str.contains("still learning").all()
    # At 32 px the static rows carry the padding flags alone: the comparison is still named once, with all its flags.
    narrow = {**WIDE, "resolution": 32, "batch_norm": False}  # as a run's train rows name it
    specs = vggbench.grid(["vgg11"], ["stack", "single"], ratios=[8], resolutions=[32])
    table = claim.claim_table({"static": _static_of(specs), "train": _curves(arms, keys=narrow)})
    (named,) = flags.flagged(table)
    overhang = "single's 5x5 kernel is wider than the map in blocks 4, 5 (4 and 2 px)"
    assert named.startswith(f"vgg11 r8 at 32 px, stack against single: {overhang}; ")
    assert named.count(overhang) == 1 and named.endswith("above the plateau gain 0.005)")


def test_a_flag_on_an_interaction_row_names_the_arm_by_its_batch_norm():
    learning = {**PLATEAUED, "single": [[0.5, 0.52, 0.51], [0.69, 0.7, 0.71], [0.78, 0.79, 0.79]]}
    train = pd.concat(
        [_curves(learning, keys={**WIDE, "batch_norm": False}), _curves(PLATEAUED | {"single": PLATEAUED["stack"]},
                                                                        keys={**WIDE, "batch_norm": True})]
    )  # fmt: skip
    table = claim.claim_table({"train": train})
    row = table[table["analysis"] == "interaction"].iloc[0]
    assert row["validity"] == (
        "single without batch norm still learning at its last epoch (mean test-accuracy gain +0.087, above the "
        "plateau gain 0.005)"
    )


def test_a_clean_comparison_has_an_empty_validity():
    arms = {**PLATEAUED, "single": PLATEAUED["stack"]}
    specs = vggbench.grid(["vgg11"], ["stack", "single"], ratios=[8], resolutions=[224])
    table = claim.claim_table({"static": _static_of(specs), "train": _curves(arms, keys=WIDE)})
    assert table["baseline"].eq("single").sum() >= 4 and table["validity"].isna().all()


def _curves(arms, keys=KEYS, failed=()):
    """Per-epoch rows: `arms` maps each variant to its accuracies epoch by epoch (one list per epoch, a value
    per seed); by epoch e a run has taken 100 e optimizer steps. Runs in `failed` ((variant, seed)) end at
    chance: they fail by the final epoch's rule, though they were learning before."""
    rows = []
    for variant, epochs in arms.items():
        for epoch, accuracies in enumerate(epochs, start=1):
            for seed, accuracy in enumerate(accuracies):
                loss = math.log(10) if epoch == len(epochs) and (variant, seed) in failed else 0.4
                rows.append({**keys, "variant": variant, "seed": seed, "epoch": epoch,
                             "optimizer_steps": 100 * epoch, "test_acc": accuracy, "train_loss": loss})  # fmt: skip
    return pd.DataFrame(rows)


# The stack trails the single kernel after one epoch, draws level after two and leads at the end; a sixth
# stack run learns early and fails by the end, so every budget leaves it out.
CROSSING = {
    "stack": [[0.6, 0.62, 0.61, 0.63, 0.59, 0.7], [0.75, 0.74, 0.77, 0.75, 0.76, 0.7], [0.9, 0.91, 0.92, 0.9, 0.9, 0]],
    "single": [[0.70, 0.71, 0.72, 0.705, 0.69], [0.75, 0.765, 0.74, 0.755, 0.745], [0.80, 0.81, 0.82, 0.805, 0.815]],
    "linear-stack": [[0.58, 0.60, 0.61, 0.62, 0.60], [0.70, 0.71, 0.72, 0.70, 0.73], [0.86, 0.84, 0.88, 0.85, 0.87]],
}  # fmt: skip


def test_the_accuracy_at_every_earlier_budget_is_a_holm_family_of_its_own():
    table = claim.claim_table({"train": _curves(CROSSING, failed={("stack", 5)})})
    earlier = table[table["claim"].str.endswith("at an earlier budget")].set_index(["baseline", "epoch"])
    assert sorted(earlier.index) == [("linear-stack", 1), ("linear-stack", 2), ("single", 1), ("single", 2)]
    final = _accuracy(table).set_index("baseline")
    assert final.loc["single", "verdict"] == "supported" and final.loc["single", "epoch"] == 3
    for (rival, epoch), row in earlier.iterrows():
        epoch = int(epoch)
        stack, other = CROSSING["stack"][epoch - 1][:5], CROSSING[rival][epoch - 1]  # the failed run left out
        assert row["p_value"] == pytest.approx(scipy_stats.ttest_ind(stack, other, equal_var=False).pvalue)
        assert row["difference"] == pytest.approx(np.mean(stack) - np.mean(other))
        assert (row["seeds_variant"], row["failed_variant"], row["optimizer_steps"]) == (5, 1, 100 * epoch)
        assert row["claim"] == ("more non-linearity helps" if rival == "linear-stack" else "higher accuracy") + (
            " at an earlier budget"
        )
        assert "1 failed run(s) left out" in row["note"] and "left out" in row["interval_method"]
    assert np.allclose(earlier["p_value_holm"], stats.holm(earlier["p_value"]))  # the four rows, not the final
    assert earlier.loc[("single", 1), "verdict"] == "contradicted"
    assert earlier.loc[("single", 2), "verdict"] == "inconclusive"  # level: 0.754 against 0.751
    assert earlier.loc[("linear-stack", 2), "verdict"] == "supported"
    counted = dict(line.removeprefix("- ").split(": ") for line in claim._glance(table))
    assert sorted(counted["higher accuracy at an earlier budget"].split(", ")) == ["contradicted 1", "inconclusive 1"]
    assert counted["higher accuracy"] == "supported 1"  # the final verdict, counted apart


def test_the_terminal_leaves_the_earlier_budgets_to_claim_md(tmp_path, capsys):
    from vggbench.cli import main

    _curves(CROSSING).to_csv(tmp_path / "train.csv", index=False)
    assert main(["claim", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "higher accuracy" in out and "at an earlier budget" not in out
    assert "4 accuracy rows at earlier budgets; claim.md and claim.csv hold every row" in out.replace("\n", " ")


def test_earlier_budgets_judge_the_seeds_of_the_look_that_decided_the_final_row():
    seeds = np.arange(6)
    arms = {"stack": [0.5 + 0.001 * seeds, 0.9 + 0.002 * seeds], "single": [0.6 - 0.001 * seeds, 0.7 + 0.003 * seeds]}
    rules = Rules(design="group-sequential", seeds_per_round=3, max_seeds=6)
    table = claim.claim_table({"train": _curves(arms)}, rules)
    final = _accuracy(table).iloc[0]
    assert (final["look"], final["seeds_variant"], final["verdict"]) == (1, 3, "supported")
    earlier = table[table["claim"] == "higher accuracy at an earlier budget"].iloc[0]
    assert (earlier["seeds_variant"], earlier["seeds_baseline"]) == (3, 3) and "look 1" in earlier["note"]
    stack, single = arms["stack"][0][:3], arms["single"][0][:3]
    assert earlier["p_value"] == pytest.approx(scipy_stats.ttest_ind(stack, single, equal_var=False).pvalue)


def test_claim_md_and_the_page_name_the_test_each_family_takes_under_its_design():
    seeds = np.arange(6)
    arms = {"stack": [0.5 + 0.001 * seeds, 0.9 + 0.002 * seeds], "single": [0.6 - 0.001 * seeds, 0.7 + 0.003 * seeds]}
    tables = {"failures": pd.DataFrame(), "summary": pd.DataFrame(), "blocks": pd.DataFrame()}
    for rules in (Rules(), Rules(design="group-sequential", seeds_per_round=3, max_seeds=6)):
        table = claim.claim_table({"train": _curves(arms)}, rules)
        page_text = re.sub("<[^>]+>", "", html.unescape(" ".join(page._claim_section(table))))
        for said in (claim.markdown(table, tables, "run", rules).replace("`", ""), page_text):
            assert "seeds and the test set's sampling" in said and "Satterthwaite's degrees of freedom" in said
            assert "Welch's t-test over the seeds" in said and "Welch's t-test over the models' shares" in said
            assert "Accuracy takes Welch's t-test" not in said and "accuracy: Welch's t-test" not in said
            in_boundary = "Holm step's level within the look's spent boundary" in said
            assert in_boundary == (rules.design == "group-sequential")
            assert bool(re.search("p_value_holm( and tost_p_holm)? empty", said)) == in_boundary


def test_earlier_budgets_fall_back_to_the_seeds_where_an_epoch_lacks_per_image_results():
    right = {"stack": np.arange(20) < 15, "single": np.arange(20) < 12, "linear-stack": np.arange(20) < 12}
    train = _curves({variant: [[0.5, 0.55, 0.6], [0.75] * 3] for variant in right})
    final = train["epoch"] == 2
    train.loc[final, "test_correct"] = [correctness.encode(right[variant]) for variant in train.loc[final, "variant"]]
    table = claim.claim_table({"train": train})
    earlier = table[table["claim"] == "higher accuracy at an earlier budget"].iloc[0]
    assert "left out" in earlier["interval_method"] and "left out" not in _accuracy(table).iloc[0]["interval_method"]
    one_epoch = claim.claim_table({"train": _curves({variant: [[0.5, 0.55, 0.6]] for variant in right})})
    assert not one_epoch["claim"].str.contains("earlier budget").any()
    assert "Accuracy at earlier budgets" not in claim.markdown(
        one_epoch, {"failures": pd.DataFrame(), "summary": pd.DataFrame(), "blocks": pd.DataFrame()}, "run", Rules()
    )


def _with_and_without_batch_norm(normed, plain, keys=KEYS):
    """One epoch of each arm (variant: accuracies per seed), trained with batch norm and without."""
    tables = [_curves({variant: [runs] for variant, runs in arms.items()}, {**keys, "batch_norm": flag})
              for flag, arms in ((True, normed), (False, plain))]  # fmt: skip
    return pd.concat(tables, ignore_index=True)


def test_batch_norm_x_variant_is_the_difference_of_differences_over_four_arms_by_hand():
    normed = {"stack": [0.91, 0.93, 0.92, 0.95], "single": [0.88, 0.86, 0.90]}
    plain = {"stack": [0.80, 0.85, 0.83, 0.79, 0.84], "single": [0.86, 0.87, 0.89]}
    table = claim.claim_table({"train": _with_and_without_batch_norm(normed, plain)})
    row = table[table["claim"] == "batch norm x variant"].iloc[0]
    arms = [normed["stack"], normed["single"], plain["stack"], plain["single"]]
    means = [np.mean(arm) for arm in arms]
    parts = [np.var(arm, ddof=1) / len(arm) for arm in arms]
    df = sum(parts) ** 2 / sum(part**2 / (len(arm) - 1) for part, arm in zip(parts, arms, strict=True))
    half = scipy_stats.t.ppf(0.975, df) * math.sqrt(sum(parts))
    difference = (means[0] - means[1]) - (means[2] - means[3])
    assert row["difference"] == pytest.approx(difference)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((difference - half, difference + half))
    assert (row["analysis"], row["baseline"], row["variant"]) == ("interaction", "single", "stack")
    assert pd.isna(row["verdict"]) and pd.isna(row["batch_norm"]) and "left out" in row["interval_method"]
    assert f"with batch norm {means[0] - means[1]:+.4f} less without {means[2] - means[3]:+.4f}" in row["note"]
    assert "batch norm x variant" not in "".join(claim._glance(table))  # numbers, not a verdict to count
    alone = claim.claim_table({"train": _curves({variant: [runs] for variant, runs in plain.items()})})
    assert "batch norm x variant" not in set(alone["claim"])


def test_batch_norm_x_variant_counts_the_test_set_where_every_run_recorded_each_image():
    # Runs alike within each arm, right on images below 15, 12, 10 and 10 of 20: the interval is the test
    # set's alone, d_i = 1 on images 12-14 (by hand, as for two arms).
    right = {(True, "stack"): 15, (True, "single"): 12, (False, "stack"): 10, (False, "single"): 10}
    normed, plain = {"stack": [0.75] * 3, "single": [0.6] * 3}, {"stack": [0.5] * 3, "single": [0.5] * 3}
    train = _with_and_without_batch_norm(normed, plain)
    images = [np.arange(20) < right[(row.batch_norm, row.variant)] for row in train.itertuples()]
    train["test_correct"] = [correctness.encode(correct) for correct in images]
    row = claim.claim_table({"train": train}).set_index("claim").loc["batch norm x variant"]
    half = scipy_stats.t.ppf(0.975, 19) * math.sqrt((3 - 20 * 0.15**2) / 19 / 20)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.15 - half, 0.15 + half))
    assert "test-set sampling" in row["interval_method"] and "left out" not in row["interval_method"]


# The unit of each part's baseline_value, variant_value and difference.
UNITS = {
    "fewer parameters": "params",
    "fewer MACs": "MACs",
    "same receptive field": "px",
    "same effective receptive field": "share of image",
    "higher accuracy": "accuracy",
    "more non-linearity helps": "accuracy",
    "higher accuracy at an earlier budget": "accuracy",
    "more non-linearity helps at an earlier budget": "accuracy",
    "batch norm x variant": "accuracy",
    "trains reliably": "share of runs failed",
    "faster": "images/s",
    "3x3 is the densest": "GFLOP/s",
}


def test_every_claim_row_names_its_unit_and_every_ratio_runs_stack_over_rival(finished_run):
    claims = pd.read_csv(finished_run.root / "claim.csv")
    assert claims["unit"].notna().all()
    units = claims.groupby("claim")["unit"].agg(set).to_dict()
    assert units == {name: {UNITS[name]} for name in units}
    assert {
        "fewer parameters",
        "same effective receptive field",
        "higher accuracy",
        "faster",
        "3x3 is the densest",
    } <= set(claims["claim"])
    # Every ratio is variant / baseline: the stack (3x3) over its rival. Exactly the values' ratio for the counts;
    # for GFLOP/s and images/s, the median of paired ratios, near the ratio of the medians.
    counts = claims[claims["claim"].isin(["fewer parameters", "fewer MACs"])]
    assert np.allclose(counts["ratio_value"], counts["variant_value"] / counts["baseline_value"])
    timed = claims[claims["claim"].isin(["faster", "3x3 is the densest"])]
    assert np.allclose(timed["ratio_value"], timed["variant_value"] / timed["baseline_value"], rtol=0.2)
    assert (claims.loc[claims["claim"] == "3x3 is the densest", "variant"] == "3x3").all()
    compared = claims.dropna(subset=["difference", "baseline_value", "variant_value"])
    assert np.allclose(compared["difference"], compared["variant_value"] - compared["baseline_value"])


def _sitting(design: dict | None = None, comparisons: list | None = None) -> dict:
    """A sitting as metadata.json records it (vggbench.engine.study.sitting_plan), its design changed by `design`."""
    base = {"design": "group-sequential", "seeds_per_round": 4, "max_seeds": 8, "equivalence_margin": 0.01}
    family = ["vgg11-stack-r8-px32 vs single"] if comparisons is None else comparisons
    return {"started": "2026-11-30T18:34:39+00:00", "design": {**base, **(design or {})}, "comparisons": family}


def test_the_sittings_say_what_changed_of_the_design_and_family_between_which_sittings():
    assert claim.history_sentence({}) == claim.history_sentence({"sittings": [_sitting()]}) == ""
    assert claim.history_sentence({"sittings": [_sitting(), _sitting()]}) == ""  # resumed unchanged
    grown = [f"vgg{depth}-stack-r8-px32 vs {rival}" for depth in (11, 13, 16) for rival in ("single", "dilated")]
    sittings = [_sitting(), _sitting({"max_seeds": 16}), _sitting({"max_seeds": 16}, grown)]
    assert claim.history_sentence({"sittings": sittings}) == (
        "The design or the family of the accuracy comparisons changed between the run's sittings (metadata.json): "
        "between sittings 1 and 2, max_seeds 8 to 16; between sittings 2 and 3, the family from 1 to 6 comparisons "
        "(added: vgg11-stack-r8-px32 vs dilated, vgg13-stack-r8-px32 vs single, vgg13-stack-r8-px32 vs dilated, "
        "vgg16-stack-r8-px32 vs single and 1 more)."
    )
    dropped = [_sitting(comparisons=grown[:2]), _sitting(comparisons=grown[:1])]
    assert "the family from 2 to 1 comparisons (dropped: vgg11-stack-r8-px32 vs dilated)" in claim.history_sentence(
        {"sittings": dropped}
    )


def test_a_sitting_that_recorded_no_design_leaves_the_design_unknown_not_fixed():
    older = {"started": "2026-11-30T18:34:39+00:00", "ended": "2026-11-30T19:06:29+00:00", "git_commit": "89d73c1"}
    metadata = {"sittings": [older, _sitting()]}
    assert claim.history_sentence(metadata) == (
        "The run sat 2 times, and sitting 1 recorded neither the design nor the family of the accuracy comparisons "
        "(older code): whether they changed between sittings is not known."
    )
    both = claim.history_sentence({"sittings": [older, older]})
    assert both.startswith("The run sat 2 times, and sittings 1, 2 recorded neither")
    rules = Rules(design="group-sequential", seeds_per_round=4, max_seeds=8)
    assert "design fixed before the run: a look" in claim.design_sentence(rules)
    said = claim.design_sentence(rules, claim.history_sentence(metadata))
    assert "fixed before the run" not in said and said.endswith("is not known.")
    assert claim.design_sentence(Rules(), claim.history_sentence(metadata)).startswith("The run sat 2 times")


def test_every_tested_row_holds_its_adjusted_decision_in_a_column_whatever_the_design():
    # The stack leads single by 10 points and trails linear-stack by 0.1 +- 0.1: decided against single, not against
    # linear-stack, under both designs (the sequential one at its first look of 4 seeds per arm).
    seeds = np.arange(8)
    arms = {
        "stack": [0.9 + 0.001 * seeds],
        "single": [0.8 - 0.001 * seeds],
        "linear-stack": [0.9 + 0.002 * (seeds % 2)],
    }
    fixed = claim.claim_table({"train": _curves(arms)}, Rules())
    sequential = claim.claim_table({"train": _curves(arms)}, Rules(design="group-sequential", seeds_per_round=4))
    for table in (fixed, sequential):
        final = table[(table["claim"] == "higher accuracy") & (table["analysis"] == "primary")].set_index("baseline")
        assert final.loc["single", "verdict"] == "supported" and final.loc["single", "significant_holm"] is True
        assert final.loc["single", "equivalent_holm"] is False
        # A user who filters on the column finds the decided rows, whatever the design judged them by.
        decided = table[table["significant_holm"].eq(True)]
        assert set(decided["verdict"]) == {"supported"} and "single" in set(decided["baseline"])
        sensitivity = table[table["analysis"] != "primary"]
        assert sensitivity[["significant_holm", "equivalent_holm"]].isna().all().all()  # not tested: no decision
    fixed_final = fixed[(fixed["analysis"] == "primary") & fixed["p_value_holm"].notna()]
    assert (fixed_final["significant_holm"] == (fixed_final["p_value_holm"] < 0.05)).all()
    seq_final = sequential[(sequential["claim"] == "higher accuracy") & (sequential["analysis"] == "primary")]
    assert seq_final["p_value_holm"].isna().all() and seq_final["significant_holm"].notna().all()
    assert (seq_final["significant_holm"] == seq_final["verdict"].isin(["supported", "contradicted"])).all()
    assert (seq_final["equivalent_holm"] == seq_final["verdict"].eq("equivalent")).all()


def test_a_comparison_of_arms_trained_with_different_recipes_says_how_in_its_note():
    seeds = np.arange(4)
    train = _curves(
        {"stack": [0.6 + 0.01 * seeds, 0.9 + 0.01 * seeds], "single": [0.6 - 0.01 * seeds, 0.8 + seeds / 50]}
    )
    same = train.assign(optimizer="adam", lr=0.001, momentum=0.9, batch_size=64)
    # The single kernel trained at a higher rate and with SGD; its momentum differs too, which SGD reads.
    other = same.assign(
        lr=np.where(same["variant"] == "single", 0.01, 0.001),
        optimizer=np.where(same["variant"] == "single", "sgd", "adam"),
        momentum=np.where(same["variant"] == "single", 0.8, 0.9),
    )
    alike, unlike = (claim.claim_table({"train": table}) for table in (same, other))
    trained = ["higher accuracy", "higher accuracy at an earlier budget", "trains reliably"]
    assert not alike["note"].fillna("").str.contains("different recipes").any()
    for part in trained:
        for _, row in unlike[unlike["claim"] == part].iterrows():
            assert (
                "the arms trained with different recipes (lr 0.001 for stack, 0.01 for single; optimizer adam for "
                "stack, sgd for single; momentum 0.9 for stack, 0.8 for single)"
            ) in row["note"], (part, row["note"])
    # Momentum is named only where an arm's optimizer reads it.
    adam = same.assign(momentum=np.where(same["variant"] == "single", 0.8, 0.9))
    assert not claim.claim_table({"train": adam})["note"].fillna("").str.contains("different recipes").any()
    # The effective field of the trained models says it too; the untrained field and exact counts depend on no recipe.
    compared = {**KEYS, "variant": "stack", "baseline": "single"}
    field = recipe_note({**compared, "mode": "trained", "unit": "share of image"}, other)
    assert field.startswith("the arms trained with different recipes (lr 0.001 for stack, 0.01 for single;")
    assert recipe_note({**compared, "mode": "untrained", "unit": "share of image"}, other) == ""
    assert recipe_note({**compared, "unit": "params"}, other) == ""
