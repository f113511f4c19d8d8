"""The smallest detectable difference (mde) and the seeds a study needs, at the level each comparison is tested at:
its Holm step's share of alpha, under a sequential design through its look's boundary."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vggbench.cli import main
from vggbench.engine.config import Rules
from vggbench.reporting import claim
from vggbench.stats import hypothesis
from vggbench.verdicts import design_check, sequential
from vggbench.verdicts import train as train_verdicts
from vggbench.verdicts.designs import GROUP_SEQUENTIAL, Design
from vggbench.verdicts.sequential import INCONCLUSIVE, Plan, judge
from vggbench.verdicts.train import accuracy_claims
from vggbench.verdicts.vocabulary import PRIMARY, SUPPORTED


def _power(effect: float, se: float, df: float, alpha: float) -> float:
    """The power of a two-sided t-test at `alpha` against a true difference `effect`: the noncentral t's mass
    beyond the two critical values (scipy directly, not stats.mde's search)."""
    critical = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(critical, df, effect / se) + stats.nct.cdf(-critical, df, effect / se))


def _arms_at(p_value: float, seeds: int, middle: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Two arms of the same spread (sd 0.01) whose Welch p-value is `p_value`, the variant ahead."""
    spread = np.linspace(-1, 1, seeds)
    spread *= 0.01 / spread.std(ddof=1)
    shift = stats.t.isf(p_value / 2, 2 * seeds - 2) * 0.01 * math.sqrt(2 / seeds)
    return middle + shift + spread, middle + spread


def test_holm_levels_are_each_steps_share_and_the_stopping_steps_for_the_rest():
    # m = 4 (NaN not counted): 0.01 < 0.05 / 4 is rejected at step 1; 0.03 > 0.05 / 3 stops the step-down at
    # step 2, whose share every p-value not rejected holds.
    levels = hypothesis.holm_levels([0.01, 0.04, 0.03, math.nan, 0.5])
    assert levels[[0, 1, 2, 4]] == pytest.approx([0.05 / 4, 0.05 / 3, 0.05 / 3, 0.05 / 3])
    assert math.isnan(levels[3])
    assert hypothesis.holm_levels([0.001, 0.002], alpha=0.1) == pytest.approx([0.05, 0.1])  # both rejected


def test_a_fixed_rows_mde_is_at_its_holm_step():
    # Three groups, stack against single, 6 seeds: vgg11 far apart (rejected at Holm step 1, alpha / 3), vgg13 and
    # vgg16 at p 0.04 and 0.3 (not rejected: step 2 stops at alpha / 2, the share both hold).
    p_values = {"vgg11": 1e-6, "vgg13": 0.04, "vgg16": 0.3}
    found = {row["arch"]: row for row in accuracy_claims(_train(p_values), 0.001) if row["analysis"] == PRIMARY}
    assert [found[arch]["mde_level"] for arch in p_values] == pytest.approx([0.05 / 3, 0.05 / 2, 0.05 / 2])
    assert found["vgg11"]["verdict"] == SUPPORTED
    se = 0.01 * math.sqrt(2 / 6)
    for row in found.values():
        assert _power(row["mde"], se, 10, row["mde_level"]) == pytest.approx(0.8, abs=1e-6)
    at_alpha = hypothesis.welch(*_arms_at(0.3, 6), 0.001).mde
    assert found["vgg16"]["mde"] > at_alpha * 1.1  # alpha / 2 asks for more than alpha did


def test_a_sequential_rows_mde_is_at_its_holm_steps_boundary():
    # Three comparisons with no difference at the last of two looks: none rejected, each holds alpha / 3 there.
    design = Design(design=GROUP_SEQUENTIAL, seeds_per_round=5, max_seeds=10)
    family = {key: _arms_at(p_value, 10) for key, p_value in (("a", 0.3), ("b", 0.5), ("c", 0.9))}
    assert {decision.verdict for decision in judge(design.rule, 2, family, margin=1e-4).values()} == {INCONCLUSIVE}
    train = _train({"vgg11": 0.3, "vgg13": 0.5, "vgg16": 0.9}, seeds=10)
    rows = [row for row in accuracy_claims(train, 1e-4, design) if row["analysis"] == PRIMARY]
    level = sequential.nominal_levels((0.5, 1.0), 0.05 / 3, design.spending)[1]
    se = 0.01 * math.sqrt(2 / 10)
    assert len(rows) == 3
    for row in rows:
        assert (row["verdict"], row["mde_level"]) == (INCONCLUSIVE, pytest.approx(level))
        assert _power(row["mde"], se, 18, level) == pytest.approx(0.8, abs=1e-6)
        assert _power(row["mde"], se, 18, design.rule.level(2, 0.05)) > 0.85  # the whole alpha's boundary: lenient


def _train(p_values: dict[str, float], seeds: int = 6) -> pd.DataFrame:
    """Stack against single in one group per arch, the stack ahead at Welch p `p_values[arch]` (sd 0.01)."""
    rows = []
    for arch, p_value in p_values.items():
        for variant, accuracies in zip(("stack", "single"), _arms_at(p_value, seeds), strict=True):
            for seed, accuracy in enumerate(accuracies):
                keys = {"arch": arch, "ratio": 8, "resolution": 32, "batch_norm": False, "variant": variant}
                rows.append({**keys, "seed": seed, "epoch": 1, "test_acc": accuracy, "train_loss": 0.4})
    return pd.DataFrame(rows)


def test_the_power_table_sizes_at_the_first_holm_steps_share():
    table = train_verdicts.power_table(_train({"vgg11": 0.3, "vgg13": 0.5, "vgg16": 0.9}), effect=0.03, margin=0.01)
    assert table["level"].tolist() == pytest.approx([0.05 / 3] * 3) and table["comparisons"].eq(3).all()
    for row in table.itertuples():
        n = row.seeds_needed  # the fewest seeds per arm whose power at alpha / 3 reaches 80%
        assert _power(0.03, row.sd * math.sqrt(2 / n), 2 * n - 2, 0.05 / 3) >= 0.8
        assert _power(0.03, row.sd * math.sqrt(2 / (n - 1)), 2 * n - 4, 0.05 / 3) < 0.8
        assert _power(row.mde_now, row.sd * math.sqrt(2 / 6), 10, 0.05 / 3) == pytest.approx(0.8, abs=1e-6)
    assert table["seeds_needed"].iloc[0] > hypothesis.seeds_needed(table["sd"].iloc[0], 0.03)  # alpha asked fewer


def test_with_one_look_the_family_simulation_is_holms_fixed_test():
    # No difference in three comparisons, one look of 8 seeds, no margin to show: Holm's family-wise error under
    # the global null is its first step's, 1 - (1 - alpha / 3)^3, for independent exact tests.
    found = design_check.null_family(Plan((8,)), (1.0, 1.0, 1.0), margin=1e-9, replays=200, seed=1)
    assert found["type1_ci_low"] <= 1 - (1 - 0.05 / 3) ** 3 <= found["type1_ci_high"]
    assert (found["comparisons"], found["seeds_per_arm_mean"], found["seeds_per_arm_max"]) == (3, 8.0, 8)


def test_a_sequential_claim_quotes_its_designs_family_simulation():
    train = _train({"vgg11": 0.3, "vgg13": 0.5}, seeds=6)
    rules = Rules(design=GROUP_SEQUENTIAL, seeds_per_round=3, max_seeds=6, equivalence_margin=0.005)
    found = design_check.null_family(rules.rule, design_check.family_spreads(train), 0.005)
    sentence = claim.simulated_sentence(rules, train)
    assert "no difference in any of the family's 2 accuracy comparisons (200 studies" in sentence
    assert f"type-I error is {found['type1_error']:.3f} (95% interval {found['type1_ci_low']:.3f} to " in sentence
    assert (
        f"{found['seeds_per_arm_mean']:.1f} seeds per arm on average, at most {found['seeds_per_arm_max']}" in sentence
    )
    assert claim.simulated_sentence(Rules(), train) == ""  # the fixed design: Holm's own test, nothing to simulate


def test_the_design_command_simulates_a_configurations_family(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(
        'archs = ["vgg11"]\nvariants = ["stack", "single"]\nbatch_norm = [false, true]\nkinds = ["train"]\n'
        'design = "group-sequential"\nseeds = [0, 1, 2, 3, 4, 5]\nseeds_per_round = 3\nmax_seeds = 6\n'
    )
    out = tmp_path / "family.csv"
    assert main(["design", "--config", str(config), "--replays", "30", "--sd", "0.02", "--out", str(out)]) == 0
    (row,) = pd.read_csv(out).to_dict("records")
    assert (row["comparisons"], row["replays"], row["looks"], row["sd"]) == (2, 30, 2, 0.02)
    assert 0 <= row["type1_ci_low"] <= row["type1_error"] <= row["type1_ci_high"] <= 1
    assert 3 <= row["seeds_per_arm_mean"] <= row["seeds_per_arm_max"] <= 6
    printed = " ".join(capsys.readouterr().out.split())
    assert "family of 2 accuracy comparisons, none with any difference: 30 simulated studies" in printed
    for argv, said in (
        (["--config", str(config), "--sd", "0"], "--sd=0.0 is not allowed"),
        (["--config", str(config), "--replays", "0"], "--replays"),
        (["--preset", "verdict", str(tmp_path)], "give either RUN_DIR"),
        (["--preset", "verdict", "--fixed-seeds", "4"], "--fixed-seeds 4 needs RUN_DIR"),
    ):
        assert main(["design", *argv]) == 2
        error = capsys.readouterr().err
        assert said in error and "Traceback" not in error
