"""Computational density: one conv per kernel size timed in alternation, its table, and the claim row."""

import numpy as np
import pandas as pd
import pytest
from scipy import signal

from vggbench.cli import main
from vggbench.measure import noise
from vggbench.reporting import claim
from vggbench.verdicts.density import real_taps


def _brute_force_taps(kernel: int, side: int) -> int:
    """Taps on real pixels, counted by convolving an image of ones (zero-padded) with a kernel of ones."""
    return int(signal.convolve2d(np.ones((side, side)), np.ones((kernel, kernel)), mode="same").sum())


@pytest.mark.parametrize("side", [1, 2, 7, 8, 14])
@pytest.mark.parametrize("kernel", [1, 3, 5, 7, 9])
def test_real_taps_match_a_brute_force_count(kernel, side):
    assert real_taps(kernel, side) == _brute_force_taps(kernel, side)


@pytest.mark.slow
def test_the_command_times_each_kernel_against_3x3(tmp_path, capsys):
    out = tmp_path / "density.csv"
    argv = ["density", "--channels", "4", "--side", "8", "12", "--pairs", "4", "--rebuilds", "2"]
    assert main([*argv, "--batch-size", "2", "--device", "cpu", "--threads", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 2 * 4 and set(table["kernel_px"]) == {1, 3, 5, 7}
    assert (table["macs"] == 4 * 4 * table["kernel_px"] ** 2 * table["side_px"] ** 2 * 2).all()
    taps = [_brute_force_taps(kernel, side) for kernel, side in zip(table["kernel_px"], table["side_px"], strict=True)]
    assert (table["macs_real"] == 4 * 4 * np.array(taps) * 2).all()
    real = table["achieved_gflops"] * table["macs_real"] / table["macs"]
    assert np.allclose(table["achieved_gflops_real_taps"], real)
    three = table[table["kernel_px"] == 3]
    assert (three["density_vs_3x3"] == 1).all()
    assert (table["gflops_ci_low"] <= table["achieved_gflops"]).all()
    assert (table["achieved_gflops"] <= table["gflops_ci_high"]).all()
    assert (table["pairs"] >= 4).all() and (table["threads"] == 1).all()
    # One fixed-design timing per conv size: one contention reading for its rows, and a flag that follows it.
    assert (table.groupby("side_px")["other_cores"].nunique() == 1).all() and (table["other_cores"] >= 0).all()
    assert (table["stable"] == [not noise.contended(cores, 1) for cores in table["other_cores"]]).all()
    assert "3x3" in capsys.readouterr().err
    assert main(["density", "--kernels", "1", "5"]) == 2
    assert "density_kernels=(1, 5) is not allowed: it must hold 3" in capsys.readouterr().err


def _density(ratios: dict[int, tuple[float, float, float]], device="cpu", side=14, scale=None) -> pd.DataFrame:
    """A density table from each kernel's (ratio, low, high) over 3x3, counted on real pixels (`scale`
    None: the table's padded counts rescaled so; else as given, counting every tap)."""
    rows = [{"kernel_px": 3, "achieved_gflops": 100.0, "density_vs_3x3": 1.0, "ci_low": 1.0, "ci_high": 1.0}]
    for kernel, values in ratios.items():
        # The table counts every tap; its real-tap ratio is the padded one times the kernels' shares of real taps.
        padded = (_share(3, side) / _share(kernel, side)) if scale is None else 1.0
        ratio, low, high = (value * padded for value in values)
        rows.append(
            {
                "kernel_px": kernel,
                "achieved_gflops": 100 * ratio,
                "density_vs_3x3": ratio,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows).assign(device=device, channels=32, side_px=side)


def _share(kernel: int, side: int) -> float:
    return _brute_force_taps(kernel, side) / (kernel * kernel * side * side)


@pytest.mark.parametrize(
    ("ratios", "verdict", "rival"),
    [
        ({1: (0.3, 0.2, 0.4), 5: (0.8, 0.7, 0.9), 7: (0.6, 0.5, 0.7)}, "supported", "5x5"),
        ({1: (0.3, 0.2, 0.4), 5: (1.4, 1.3, 1.5), 7: (1.8, 1.6, 2.1)}, "contradicted", "7x7"),
        ({1: (0.3, 0.2, 0.4), 5: (1.02, 0.95, 1.1), 7: (0.8, 0.7, 0.9)}, "inconclusive", "5x5"),
    ],
)
@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_the_claim_row_compares_3x3_with_the_densest_other_kernel(ratios, verdict, rival, device):
    table = claim.claim_table({"density": _density(ratios, device)})
    row = table[table["claim"] == "3x3 is the densest"].iloc[0]
    # RepVGG's claim is about GPU kernels: contradicted on another device, it is not reproduced there.
    expected = "not reproduced on this device" if (verdict, device) == ("contradicted", "cpu") else verdict
    assert (row["verdict"], row["baseline"], row["device"], row["mode"]) == (
        expected,
        rival,
        device,
        "32 channels, 14 px",
    )
    assert ("this ran on cpu" in row["note"]) is (device == "cpu")
    ratio, low, high = ratios[int(rival[0])]
    # 3x3 over the rival, as every claim row's ratio runs: the table's rival / 3x3 turned over, with its interval.
    assert (row["ratio_value"], row["ci_low"], row["ci_high"]) == pytest.approx((1 / ratio, 1 / high, 1 / low))
    assert row["unit"] == "GFLOP/s" and row["variant_value"] / row["baseline_value"] == pytest.approx(1 / ratio)


def test_the_verdict_counts_only_taps_on_real_pixels():
    # Counting the zero border, 7x7 looks denser than 3x3 at 14 px; on real pixels it is less dense.
    padded = _density({7: (1.08, 1.05, 1.12)}, "cuda", scale=1.0)
    row = claim.claim_table({"density": padded}).iloc[0]
    share = _share(7, 14) / _share(3, 14)
    assert share < 0.9 and row["ratio_value"] == pytest.approx(1 / (1.08 * share))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((1 / (1.12 * share), 1 / (1.05 * share)))
    assert row["verdict"] == "supported"


def test_the_density_family_is_holm_adjusted():
    marginal = _density({5: (0.97, 0.94, 0.998)}, "cuda", side=56)  # its interval excludes 1: significant alone
    weak = _density({5: (0.99, 0.9, 1.1)}, "cuda", side=28)
    alone = claim.claim_table({"density": marginal}).iloc[0]
    assert alone["ci_low"] > 1 and alone["p_value"] < 0.05 and alone["verdict"] == "supported"
    rows = claim.claim_table({"density": pd.concat([marginal, weak])}).set_index("mode")
    first, second = rows.loc["32 channels, 56 px"], rows.loc["32 channels, 28 px"]
    assert second["p_value"] > first["p_value"]
    assert first["p_value_holm"] == pytest.approx(2 * first["p_value"])  # Holm over two: the smaller p doubled
    assert first["p_value"] < 0.05 < first["p_value_holm"] and first["verdict"] == "inconclusive"


def test_a_run_of_density_alone_finishes_with_a_claim(tmp_path):
    _density({1: (0.3, 0.2, 0.4), 5: (0.8, 0.7, 0.9)}).to_csv(tmp_path / "density.csv", index=False)
    claims, text = claim.report(tmp_path)
    assert list(claims["claim"]) == ["3x3 is the densest"] and claims["verdict"].iloc[0] == "supported"
    assert (tmp_path / "claim.md").read_text() == text and "### 3x3 is the densest" in text
    assert "Block by block" not in text and "training budget" not in text
