"""`vggbench compare`: ratios of run B against run A with 95% intervals, and the regression gate's exit status."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from vggbench.cli import main
from vggbench.models.arch import ModelSpec
from vggbench.models.schema import identity
from vggbench.reporting.compare import compare, log_se, measures

Z = 1.959964  # the standard normal's 97.5% quantile
SETUP = {"device": "cpu", "batch_size": 64, "precision": "fp32", "channels_last": False, "compiled": False}
MODELS = {variant: identity(ModelSpec("vgg11", variant, ratio=8, resolution=32)) for variant in ("stack", "single")}
# Step times (ms) of run A, by variant and mode.
STEP_MS = {("stack", "infer"): 11.6, ("stack", "train"): 34.6, ("single", "infer"): 11.0, ("single", "train"): 34.1}
PUBLISHED = Path(__file__).resolve().parents[1] / "results" / "quick-cpu-2026-11-29"


def speed_rows(factors=None, half_width=0.01, interval=True) -> pd.DataFrame:
    """Run A's speed rows, each step time times its factor in `factors` (by variant and mode), with a 95% interval
    of +-half_width around it (or, without `interval`, only an IQR and a count of runs, as older tables have)."""
    rows = []
    for (variant, mode), step_ms in STEP_MS.items():
        median = step_ms * (factors or {}).get((variant, mode), 1.0)
        row = {**MODELS[variant], "mode": mode, **SETUP, "step_ms_median": median, "step_ms_iqr": 0.05 * median}
        row["runs"] = 20
        if interval:
            row.update(step_ms_ci_low=median * (1 - half_width), step_ms_ci_high=median * (1 + half_width))
        rows.append(row)
    return pd.DataFrame(rows)


def pairs_rows(ratio=0.87, low=0.85, high=0.89) -> pd.DataFrame:
    model = {key: value for key, value in MODELS["stack"].items() if key != "variant"}
    row = {**model, "mode": "infer", **SETUP, "baseline": "stack", "variant": "single"}
    return pd.DataFrame([{**row, "time_ratio_median": ratio, "ci_low": low, "ci_high": high, "pairs": 64}])


def run_dir(root: Path, **tables: pd.DataFrame) -> str:
    root.mkdir(parents=True)
    for name, table in tables.items():
        table.to_csv(root / f"{name}.csv", index=False)
    return str(root)


def expected_interval(ratio: float, se_a: float, se_b: float) -> tuple[float, float]:
    half = Z * math.sqrt(se_a**2 + se_b**2)
    return ratio * math.exp(-half), ratio * math.exp(half)


def test_a_twenty_percent_slowdown_with_narrow_intervals_is_flagged(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows(), pairs=pairs_rows())
    b = run_dir(tmp_path / "b", speed=speed_rows({("stack", "train"): 1.2}), pairs=pairs_rows())
    rows = compare(a, b).rows
    assert len(rows) == 5
    slow = rows[(rows["variant"] == "stack") & (rows["mode"] == "train") & (rows["table"] == "speed")].iloc[0]
    se = math.log(1.01 / 0.99) / (2 * Z)  # each run's 95% interval spans +-1%
    low, high = expected_interval(1.2, se, se)
    assert slow["b_vs_a"] == pytest.approx(1.2)
    assert (slow["ci_low"], slow["ci_high"]) == pytest.approx((low, high), rel=1e-6)
    assert slow["se_source"] == "ci"
    assert rows["slower"].tolist().count(True) == 1 and slow["slower"]

    assert main(["compare", a, b]) == 4
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "1 regression(s)" in captured.err
    assert "speed arch=vgg11 variant=stack ratio=8 resolution=32 mode=train batch_size=64: 1.200" in captured.err


def test_a_slowdown_within_the_threshold_is_not_a_regression(tmp_path):
    a = run_dir(tmp_path / "a", speed=speed_rows(half_width=0.001))
    b = run_dir(tmp_path / "b", speed=speed_rows({("single", "infer"): 1.03}, half_width=0.001))
    # 3% slower, resolved (the interval is about 1.027..1.033), but under the 5% threshold; over a 2% one
    assert main(["compare", a, b]) == 0
    assert main(["compare", a, b, "--threshold", "0.02"]) == 4


def test_a_slowdown_lost_in_the_noise_is_not_a_regression(tmp_path):
    a = run_dir(tmp_path / "a", speed=speed_rows(half_width=0.1))
    b = run_dir(tmp_path / "b", speed=speed_rows({("stack", "infer"): 1.1}, half_width=0.1))
    rows = compare(a, b).rows
    row = rows[(rows["variant"] == "stack") & (rows["mode"] == "infer")].iloc[0]
    assert row["b_vs_a"] == pytest.approx(1.1)  # 10% slower at the median, but the interval reaches below 1
    assert row["ci_low"] < 1 < row["ci_high"] and not row["slower"]
    assert main(["compare", a, b]) == 0


def test_an_a_a_pair_is_not_flagged(tmp_path, capsys):
    noise = {("stack", "infer"): 1.02, ("stack", "train"): 0.98, ("single", "infer"): 1.01, ("single", "train"): 0.99}
    a = run_dir(tmp_path / "a", speed=speed_rows(half_width=0.03), pairs=pairs_rows())
    b = run_dir(tmp_path / "b", speed=speed_rows(noise, half_width=0.03), pairs=pairs_rows(0.88, 0.86, 0.90))
    rows = compare(a, b).rows
    assert len(rows) == 5 and not rows["slower"].any()
    assert (rows["ci_low"] < 1).all() and (rows["ci_high"] > 1).all()
    assert main(["compare", a, b]) == 0
    assert capsys.readouterr().err == ""


def test_pairs_compare_the_ratio_of_ratios(tmp_path):
    a = run_dir(tmp_path / "a", pairs=pairs_rows(0.80, 0.79, 0.81))
    b = run_dir(tmp_path / "b", pairs=pairs_rows(1.00, 0.99, 1.01))
    row = compare(a, b).rows.iloc[0]
    se_a, se_b = math.log(0.81 / 0.79) / (2 * Z), math.log(1.01 / 0.99) / (2 * Z)
    assert row["b_vs_a"] == pytest.approx(1.25)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected_interval(1.25, se_a, se_b), rel=1e-6)
    assert row["slower"] and row["baseline"] == "stack" and row["variant"] == "single"


def test_a_lower_rate_in_density_is_a_slowdown(tmp_path):
    def density(gflops: float) -> pd.DataFrame:
        row = {"device": "cpu", "channels": 32, "side_px": 14, "kernel_px": 3, "batch_size": 8}
        return pd.DataFrame([{**row, "achieved_gflops": gflops, "gflops_ci_low": gflops * 0.99}])

    a = density(100.0).assign(gflops_ci_high=101.0)
    b = density(80.0).assign(gflops_ci_high=80.8)
    row = compare(run_dir(tmp_path / "a", density=a), run_dir(tmp_path / "b", density=b)).rows.iloc[0]
    assert row["b_vs_a"] == pytest.approx(1.25)  # A's rate over B's: B takes 25% longer for the same work
    assert row["slower"]


def test_a_row_in_one_run_only_is_reported_not_compared(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows())
    b = run_dir(tmp_path / "b", speed=speed_rows({("single", "train"): 2.0}).iloc[:3])  # no single/train row
    result = compare(a, b)
    assert len(result.rows) == 3
    assert not ((result.rows["variant"] == "single") & (result.rows["mode"] == "train")).any()
    assert any("1 row(s) only in A" in note and "variant=single" in note for note in result.notes)
    assert main(["compare", a, b]) == 0
    assert "1 row(s) only in A, not compared" in capsys.readouterr().out


def test_the_iqr_fallback_gives_the_medians_standard_error(tmp_path):
    table = speed_rows(interval=False).iloc[[0]].assign(step_ms_median=10.0, step_ms_iqr=1.349, runs=16)
    se, source = log_se(table, measures()[0])
    # sd = IQR / 1.349 = 1 ms; se of the median = 1.2533 * 1 / sqrt(16) = 0.3133 ms, on the log scale / 10 ms
    assert se.iloc[0] == pytest.approx(1.2533 / 4 / 10, rel=1e-4)
    assert source.iloc[0] == "iqr"

    a = run_dir(tmp_path / "a", speed=speed_rows(interval=False))
    b = run_dir(tmp_path / "b", speed=speed_rows())
    rows = compare(a, b).rows
    assert (rows["se_source"] == "A iqr, B ci").all()
    first = rows.iloc[0]
    se_a = 1.2533 * (0.05 * first["value_a"] / 1.349) / math.sqrt(20) / first["value_a"]
    se_b = math.log(1.01 / 0.99) / (2 * Z)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx(expected_interval(1.0, se_a, se_b), rel=1e-4)


@pytest.mark.parametrize("value", ["-0.1", "nan"])
def test_a_bad_threshold_exits_2_naming_it(tmp_path, capsys, value):
    a = run_dir(tmp_path / "a", speed=speed_rows())
    assert main(["compare", a, a, "--threshold", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"vggbench compare: error: threshold={float(value)!r} is not allowed: it must be a number >= 0"
    )


def test_different_machines_are_compared_with_a_note(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows())
    b = run_dir(tmp_path / "b", speed=speed_rows())
    machine = {"device_name": "Xeon", "cpu_model": "Xeon", "threads": 2, "torch": "2.14.1"}
    (tmp_path / "a" / "metadata.json").write_text(json.dumps(machine))
    (tmp_path / "b" / "metadata.json").write_text(json.dumps({**machine, "threads": 4}))
    result = compare(a, b)
    assert len(result.rows) == 4
    assert "the runs differ in threads (A: 2, B: 4): compared all the same" in " ".join(result.notes)


def test_out_writes_one_row_per_shared_measurement(tmp_path):
    a = run_dir(tmp_path / "a", speed=speed_rows(), pairs=pairs_rows())
    out = tmp_path / "compare.csv"
    assert main(["compare", a, a, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["table"].tolist() == ["speed"] * 4 + ["pairs"]
    assert {"arch", "variant", "mode", "baseline", "value_a", "value_b", "b_vs_a", "ci_low", "ci_high"} <= set(table)
    assert (table["b_vs_a"] == 1).all() and not table["slower"].any()


def test_runs_without_shared_tables_say_so_and_pass(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows())
    b = run_dir(tmp_path / "b", pairs=pairs_rows())
    assert main(["compare", a, b]) == 0
    out = capsys.readouterr().out
    assert "speed: only A has speed rows (4), not compared" in out
    assert "pairs: only B has pairs rows (1), not compared" in out
    assert "no measurement is in both runs: nothing compared" in out


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="the published quick run is not in this checkout")
def test_a_published_folder_against_itself_is_all_ones():
    rows = compare(PUBLISHED, PUBLISHED).rows
    shared = sum(len(pd.read_csv(PUBLISHED / f"{name}.csv")) for name in ("speed", "pairs", "density"))
    assert len(rows) == shared
    assert (rows["b_vs_a"] == 1).all() and not rows["slower"].any()


def test_flagged_rows_are_named_and_set_aside_not_counted(tmp_path, capsys):
    # Both runs timed on a loaded machine: every row flagged, one 43.5x slower in B, with narrow intervals.
    a = run_dir(tmp_path / "a", speed=speed_rows().assign(stable=False))
    b = run_dir(tmp_path / "b", speed=speed_rows({("stack", "train"): 43.5}).assign(stable=False))
    result = compare(a, b)
    assert result.regressions.empty
    (aside,) = result.set_aside.itertuples()
    assert (aside.variant, aside.mode, aside.b_vs_a) == ("stack", "train", pytest.approx(43.5))
    assert result.rows["slower"].sum() == 1 and not result.rows["regression"].any()
    assert not result.rows["stable_a"].any() and not result.rows["stable_b"].any()
    note = next(note for note in result.notes if "flagged stable=False" in note)
    assert note.startswith("speed: 4 of 4 compared row(s) flagged stable=False (A 4, B 4; columns stable_a, stable_b)")
    assert "1 of them slower beyond the threshold, set aside, not counted as regressions" in note
    assert "variant=stack ratio=8 resolution=32 mode=train batch_size=64: 43.500 (flagged in A and B)" in note

    assert main(["compare", a, b]) == 0
    captured = capsys.readouterr()
    assert "not counted as regressions (--include-unstable counts them)" in captured.out
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("vggbench compare: 1 row(s) slower beyond the threshold not counted")
    assert "mode=train batch_size=64: 43.500 [" in captured.err and "(flagged stable=False in A and B)" in captured.err


def test_include_unstable_counts_flagged_rows_and_says_they_are_flagged(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows().assign(stable=True))
    b = run_dir(tmp_path / "b", speed=speed_rows({("stack", "train"): 43.5}).assign(stable=[True, False, True, True]))
    assert compare(a, b, include_unstable=True).regressions["variant"].tolist() == ["stack"]
    assert main(["compare", a, b, "--include-unstable"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("vggbench compare: 1 regression(s)")
    assert "mode=train batch_size=64: 43.500 [" in err and "(flagged stable=False in B)" in err


def test_a_stable_slowdown_is_counted_beside_a_flagged_one_set_aside(tmp_path, capsys):
    a = run_dir(tmp_path / "a", speed=speed_rows().assign(stable=True))
    slower = {("stack", "infer"): 1.5, ("stack", "train"): 1.5}
    b = run_dir(tmp_path / "b", speed=speed_rows(slower).assign(stable=[True, False, True, True]))  # stack/train
    result = compare(a, b)
    assert result.regressions[["variant", "mode"]].values.tolist() == [["stack", "infer"]]
    assert result.set_aside[["variant", "mode"]].values.tolist() == [["stack", "train"]]
    assert main(["compare", a, b]) == 4
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "1 row(s) slower beyond the threshold not counted" in lines[0]
    assert lines[1].startswith("vggbench compare: 1 regression(s)") and "mode=infer" in lines[1]


def test_rows_from_before_the_flag_are_counted_and_flag_nothing(tmp_path):
    # speed_rows has no `stable` column, as tables written before the flag.
    a = run_dir(tmp_path / "a", speed=speed_rows())
    b = run_dir(tmp_path / "b", speed=speed_rows({("stack", "train"): 1.5}))
    result = compare(a, b)
    assert len(result.regressions) == 1 and result.set_aside.empty
    assert result.rows["stable_a"].isna().all() and not any("stable=False" in note for note in result.notes)


def test_help_explains_the_options(capsys):
    for argv in (["--help"], ["compare", "--help"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "compare" in out and "RUN_A" in out and "RUN_B" in out
    assert "--threshold THRESHOLD" in out and "(default: 0.05)" in out and "--out FILE.csv" in out
    assert "--include-unstable" in out
