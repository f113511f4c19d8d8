"""The terminal's tables: human units, at most 120 characters a line, blanks explained."""

import math
import shutil

import pandas as pd
import pytest

from vggbench.cli import main
from vggbench.measure import training_rules
from vggbench.reporting import terminal
from vggbench.verdicts import vocabulary


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (121_091_072, "121.1 M"),
        (1.188e5, "118.8 k"),
        (118_800, "118.8 k"),
        (2_018_346.0, "2.018 M"),  # a count that a column of floats made a float
        (3.2e9, "3.2 G"),
        (9999, "9999"),
        (626.0, "626"),
        (0.769600001, "0.7696"),
        (-0.0141, "-0.0141"),
        (1.4e-07, "1.4e-07"),
        (math.nan, ""),
        (None, ""),
        (True, "True"),
        ("stack", "stack"),
    ],
)
def test_numbers_are_shown_in_human_units(value, shown):
    assert terminal.human(value) == shown


def _widest(text: str) -> int:
    return max(map(len, text.splitlines()))


def test_a_wide_table_is_cut_to_120_columns_naming_what_it_left_out():
    table = pd.DataFrame({f"column_{index}": [1.5e6 * index, 2.0] for index in range(20)})
    text = terminal.text(table, where="wide.csv")
    assert _widest(text) <= 120
    shown, note = text.split("(not shown, to fit 120 columns: ")
    assert "1.5 M" in shown and "column_19" not in shown and "column_19" in note
    assert note.replace("\n", " ").endswith("every column: wide.csv)")
    notes = pd.DataFrame({"arch": ["vgg11", "vgg13"], "note": ["x" * 200, "short"]})
    cut = terminal.text(notes)  # a text column at the right edge is cut, not left out
    assert _widest(cut) == 120 and cut.splitlines()[1].endswith("…")


def test_the_tiny_studys_terminal_tables_fit_120_columns(tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run, ignore=shutil.ignore_patterns("checkpoints", "trials", "figures"))
    assert main(["claim", str(run)]) == 0
    out = capsys.readouterr().out
    assert _widest(out) <= 120
    assert "fewer parameters (params): supported 1" in out and "3x3 is the densest (GFLOP/s)" in out
    summary = terminal.summary_text(pd.read_csv(run / "summary.csv"))
    assert _widest(summary) <= 120
    header = summary.splitlines()[0].split()
    assert header[:2] == ["arch", "variant"] and {"params", "macs", "seeds", "failed"} <= set(header)
    assert main(["power", str(run)]) == 0
    assert main(["static", "--variant", "stack", "single", "--blocks", "--layers"]) == 0
    assert _widest(capsys.readouterr().out) <= 120


def test_a_summary_left_blank_because_every_run_failed_says_so():
    rows = [
        {"arch": "vgg11", "variant": variant, "ratio": 8, "resolution": 32, "batch_norm": False, "seed": seed,
         "epoch": 1, "optimizer_steps": 10, "test_acc": 0.1 if variant == "single" else 0.8,
         "train_loss": 2.4 if variant == "single" else 0.4, "train_img_per_s": 100.0}
        for variant in ("stack", "single")
        for seed in (0, 1)
    ]  # fmt: skip
    summary = training_rules.summarize(rows)
    assert summary.set_index("variant").loc["single", ["failed", "seeds"]].tolist() == [2, 2]
    assert math.isnan(summary.set_index("variant").loc["single", "test_acc_mean"])
    text = terminal.summary_text(summary)
    assert "failed" in text.splitlines()[0].split()
    assert "Accuracy left blank where every run failed" in text and "vgg11 single r8" in text


def test_an_inconclusive_row_says_why():
    row = {"verdict": "inconclusive", "variant": "stack", "baseline": "single", "seeds_variant": 1, "seeds_baseline": 3}
    assert vocabulary.reason(row, brief=True) == "no test: 1 and 3 runs"
    assert "a test needs two in each" in vocabulary.reason(row)
    row.update(seeds_variant=3, p_value_holm=0.4, tost_p_holm=0.3, margin=0.01, mde=0.021)
    assert vocabulary.reason(row, brief=True) == "TOST p 0.3, mde 0.021"
    assert vocabulary.reason(row) == (
        "no difference at 0.05 after Holm (p 0.4); no equivalence within ±0.01 (TOST p 0.3); the smallest "
        "difference these runs detect: 0.021"
    )
    assert vocabulary.reason({**row, "verdict": "supported"}) == ""
    # Two seeds at a small Holm level: the t quantile on one degree of freedom puts mde past any accuracy difference.
    hopeless = {**row, "mde": 4.3}
    assert vocabulary.reason(hopeless, brief=True) == "TOST p 0.3, mde 4.3 (beyond any possible)"
    assert vocabulary.reason(hopeless).endswith(
        "the smallest difference these runs detect, 4.3, is beyond any possible one (1)"
    )
    assert "beyond" not in vocabulary.reason({**row, "mde": 1.5, "analysis": "interaction"})  # differences of two
