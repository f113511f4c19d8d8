"""Computational density: one conv per kernel size timed in alternation, its table, and the claim row."""

import pandas as pd
import pytest

from vggbench import claim, noise
from vggbench.cli import main


def test_the_command_times_each_kernel_against_3x3(tmp_path, capsys):
    out = tmp_path / "density.csv"
    argv = ["density", "--channels", "4", "--side", "8", "12", "--pairs", "4", "--rebuilds", "2"]
    assert main([*argv, "--batch-size", "2", "--device", "cpu", "--threads", "1", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 2 * 4 and set(table["kernel_px"]) == {1, 3, 5, 7}
    assert (table["macs"] == 4 * 4 * table["kernel_px"] ** 2 * table["side_px"] ** 2 * 2).all()
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


def _density(ratios: dict[int, tuple[float, float, float]]) -> pd.DataFrame:
    rows = [{"kernel_px": 3, "achieved_gflops": 100.0, "density_vs_3x3": 1.0, "ci_low": 1.0, "ci_high": 1.0}]
    for kernel, (ratio, low, high) in ratios.items():
        rows.append(
            {
                "kernel_px": kernel,
                "achieved_gflops": 100 * ratio,
                "density_vs_3x3": ratio,
                "ci_low": low,
                "ci_high": high,
            }
        )
    return pd.DataFrame(rows).assign(device="cpu", channels=32, side_px=14)


@pytest.mark.parametrize(
    ("ratios", "verdict", "rival"),
    [
        ({1: (0.3, 0.2, 0.4), 5: (0.8, 0.7, 0.9), 7: (0.6, 0.5, 0.7)}, "supported", "5x5"),
        ({1: (0.3, 0.2, 0.4), 5: (1.4, 1.3, 1.5), 7: (1.8, 1.6, 2.1)}, "contradicted", "7x7"),
        ({1: (0.3, 0.2, 0.4), 5: (1.02, 0.95, 1.1), 7: (0.8, 0.7, 0.9)}, "inconclusive", "5x5"),
    ],
)
def test_the_claim_row_compares_3x3_with_the_densest_other_kernel(ratios, verdict, rival):
    table = claim.claim_table({"density": _density(ratios)})
    row = table[table["claim"] == "3x3 is the densest"].iloc[0]
    assert (row["verdict"], row["baseline"], row["device"], row["mode"]) == (
        verdict,
        rival,
        "cpu",
        "32 channels, 14 px",
    )


def test_a_run_of_density_alone_finishes_with_a_claim(tmp_path):
    _density({1: (0.3, 0.2, 0.4), 5: (0.8, 0.7, 0.9)}).to_csv(tmp_path / "density.csv", index=False)
    claims, text = claim.report(tmp_path)
    assert list(claims["claim"]) == ["3x3 is the densest"] and claims["verdict"].iloc[0] == "supported"
    assert (tmp_path / "claim.md").read_text() == text and "### 3x3 is the densest" in text
    assert "Block by block" not in text and "training budget" not in text
