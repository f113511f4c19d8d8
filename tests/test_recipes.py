"""Fair recipes, the reporting side: verdicts at each arm's chosen recipe with the shared recipe beside them, the
learning-rate windows, the recipes in claim.md and report.html, and the lr_sensitivity figure, all from synthetic
tuning.csv, tuning.json and train tables (the formats the tuning engine writes)."""

import html
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from vggbench.figures.tuning import lr_sensitivity
from vggbench.reporting import claim, page, recipes, report, run_figures
from vggbench.verdicts import robustness
from vggbench.verdicts import train as train_verdicts
from vggbench.verdicts.designs import Design

KEYS = {"arch": "vgg11", "ratio": 8, "resolution": 32, "batch_norm": False}
TUNED_STACK, TUNED_SINGLE = [0.90, 0.91, 0.92], [0.80, 0.82, 0.81]
SHARED_STACK, SHARED_SINGLE = [0.70, 0.72, 0.71, 0.69], [0.85, 0.86, 0.84, 0.85]
SHARED = "at the shared recipe (sensitivity)"


def _runs(recipe, stack, single, keys=KEYS):
    """Two epochs per run, the final one at the given accuracies; `recipe` None: no recipe column."""
    rows = []
    for variant, accuracies in (("stack", stack), ("single", single)):
        for seed, accuracy in enumerate(accuracies):
            for epoch, acc, loss in ((1, 0.3, 2.0), (2, accuracy, 0.4)):
                row = {**keys, "variant": variant, "seed": seed, "epoch": epoch, "optimizer_steps": 100 * epoch}
                rows.append({**row, "test_acc": acc, "train_loss": loss, **({"recipe": recipe} if recipe else {})})
    return pd.DataFrame(rows)


def _both():
    return pd.concat([_runs("tuned", TUNED_STACK, TUNED_SINGLE), _runs("shared", SHARED_STACK, SHARED_SINGLE)])


def test_the_tuned_runs_are_judged_and_the_shared_ones_stand_beside_without_a_verdict():
    table = claim.claim_table({"train": _both()})
    accuracy = table[table["claim"] == "higher accuracy"].set_index("analysis")
    primary, shared = accuracy.loc["primary"], accuracy.loc[SHARED]
    assert (primary["seeds_variant"], primary["variant_value"]) == (3, pytest.approx(np.mean(TUNED_STACK)))
    welch = scipy_stats.ttest_ind(TUNED_STACK, TUNED_SINGLE, equal_var=False).pvalue
    # One primary row in the family: the shared comparison is not in the Holm family, so nothing to adjust.
    assert primary["p_value"] == pytest.approx(welch) and primary["p_value_holm"] == pytest.approx(welch)
    assert primary["verdict"] == "supported" and "own chosen recipe" in primary["note"]
    assert (shared["seeds_variant"], shared["seeds_baseline"]) == (4, 4) and pd.isna(shared["verdict"])
    assert shared["difference"] == pytest.approx(np.mean(SHARED_STACK) - np.mean(SHARED_SINGLE))
    welch = scipy_stats.ttest_ind(SHARED_STACK, SHARED_SINGLE, equal_var=False).pvalue
    assert shared["p_value"] == pytest.approx(welch)
    assert "shared recipe" in shared["note"] and "own chosen recipe" not in shared["note"]
    # Trainability and the earlier budget count the tuned runs only, and say the arms' recipes may differ.
    for part in ("trains reliably", "higher accuracy at an earlier budget"):
        row = table[table["claim"] == part].iloc[0]
        assert (row["seeds_variant"], row["seeds_baseline"]) == (3, 3) and "own chosen recipe" in row["note"]


def _primary_notes(train: pd.DataFrame) -> pd.Series:
    table = claim.claim_table({"train": train})
    return table[table["analysis"] == "primary"].set_index("claim")["note"]


def test_a_tuned_row_says_once_whether_its_arms_recipes_differ():
    tuned = _runs("tuned", TUNED_STACK, TUNED_SINGLE)
    notes = _primary_notes(tuned.assign(lr=tuned["variant"].map({"stack": 3e-3, "single": 1e-3}), optimizer="adam"))
    for part in ("higher accuracy", "trains reliably"):
        assert notes[part].count("recipe") == 2  # "own chosen recipe" and "the recipes' as well", in one clause
        assert (
            "own chosen recipe (tuning.json), and the two differ (lr 0.003 for stack, 0.001 for single)" in notes[part]
        )
        assert "may differ" not in notes[part] and "the arms trained with different recipes" not in notes[part]
    alike = _primary_notes(tuned.assign(lr=1e-3, optimizer="adam"))
    assert "own chosen recipe (tuning.json), the same for both arms" in alike["higher accuracy"]
    # A table that records no recipe knob cannot say: the row keeps "may differ".
    assert train_verdicts.TUNED_NOTE in _primary_notes(tuned)["higher accuracy"]


def test_the_sequential_looks_judge_the_tuned_runs():
    design = Design(design="group-sequential", seeds_per_round=3, max_seeds=6)
    decisions = train_verdicts.sequential_decisions(_both(), design, 0.01)
    assert decisions and all(("recipe", "tuned") in key for key in decisions)


def test_a_table_of_shared_runs_is_judged_as_one_without_the_column():
    plain = claim.claim_table({"train": _runs(None, SHARED_STACK, SHARED_SINGLE)})
    shared = claim.claim_table({"train": _runs("shared", SHARED_STACK, SHARED_SINGLE)})
    pd.testing.assert_frame_equal(plain, shared)
    assert not plain["analysis"].eq(SHARED).any() and not plain["note"].str.contains("recipe", na=False).any()


def test_a_group_with_shared_runs_alone_is_judged_on_them_beside_a_tuned_group():
    vgg13 = {**KEYS, "arch": "vgg13"}
    table = claim.claim_table({"train": pd.concat([_both(), _runs("shared", SHARED_STACK, SHARED_SINGLE, vgg13)])})
    primary = table[(table["claim"] == "higher accuracy") & (table["analysis"] == "primary")].set_index("arch")
    assert primary.loc["vgg13", "variant_value"] == pytest.approx(np.mean(SHARED_STACK))
    assert primary.loc["vgg11", "variant_value"] == pytest.approx(np.mean(TUNED_STACK))
    assert table["analysis"].eq(SHARED).sum() == 1  # vgg11's shared runs only


def _tuning(arms):
    """tuning.csv's rows: `arms` maps (variant, batch norm) to its candidates, each (lr, optimizer, objective,
    pruned); two seeds a candidate, two epochs (one where pruned); the best finished candidate chosen."""
    rows = []
    for (variant, normed), found in arms.items():
        best = max(objective for *_, objective, pruned in found if not pruned)
        for candidate, (lr, optimizer, objective, pruned) in enumerate(found):
            chosen = objective == best and not pruned
            for seed in (100, 101):
                for epoch in (1,) if pruned else (1, 2):
                    rows.append({**KEYS, "batch_norm": normed, "variant": variant, "schedule_epochs": 2,
                                 "candidate": candidate, "lr": lr, "optimizer": optimizer, "seed": seed,
                                 "epoch": epoch, "val_acc": objective - 0.1 * (epoch < 2 and not pruned),
                                 "train_loss": 1.0, "pruned": pruned, "objective": objective,
                                 "chosen": chosen})  # fmt: skip
    return pd.DataFrame(rows)


# The stack's best 0.91 at 3e-3; within one point: 1e-3 (0.905) and 1e-2 (0.90, on the boundary), 5e-3 (0.85)
# between them below it: [1e-3, 1e-2], one decade. The single kernel's best 0.88 at 1e-3, alone within a point
# (its pruned 0.875 at 1e-1 does not count): zero decades. The linear stack finished one candidate: no window.
STACK_CANDIDATES = [(1e-4, "adam", 0.70, False), (1e-3, "adam", 0.905, False), (3e-3, "sgd", 0.91, False),
                    (5e-3, "sgd", 0.85, False), (1e-2, "sgd", 0.90, False), (1e-1, "adam", 0.50, False)]  # fmt: skip
SINGLE_CANDIDATES = [(1e-4, "adam", 0.85, False), (1e-3, "adam", 0.88, False), (1e-2, "sgd", 0.80, False),
                     (1e-1, "sgd", 0.875, True)]  # fmt: skip
LINEAR_CANDIDATES = [(1e-3, "adam", 0.60, False), (1e-2, "adam", 0.70, True)]
SEARCH = {
    ("stack", False): STACK_CANDIDATES,
    ("single", False): SINGLE_CANDIDATES,
    ("linear-stack", False): LINEAR_CANDIDATES,
}


def test_each_arms_window_spans_the_rates_within_a_point_of_its_best():
    found = robustness.windows(_tuning(SEARCH)).set_index("variant")
    stack, single, linear = found.loc["stack"], found.loc["single"], found.loc["linear-stack"]
    assert (stack["lr_low"], stack["lr_high"], stack["decades"]) == (1e-3, 1e-2, pytest.approx(1.0))
    assert (stack["supporting"], stack["gaps"], stack["finished"], stack["searched"]) == ([1, 2, 4], 1, 6, 6)
    assert (single["lr_low"], single["lr_high"], single["decades"]) == (1e-3, 1e-3, 0.0)
    assert (single["supporting"], single["finished"], single["searched"]) == ([1], 3, 4)
    assert math.isnan(linear["decades"]) and (linear["finished"], linear["searched"]) == (1, 2)


def test_the_window_row_compares_the_stacks_width_with_the_rivals_and_gives_no_verdict():
    rows = claim.claim_table({"tuning": _tuning(SEARCH)}).set_index("baseline")
    assert set(rows["claim"]) == {"lr window"} and set(rows["analysis"]) == {"robustness"}
    assert rows["verdict"].isna().all() and rows["validity"].isna().all()
    single = rows.loc["single"]
    assert (single["variant_value"], single["baseline_value"], single["difference"]) == (
        pytest.approx(1.0), 0.0, pytest.approx(1.0))  # fmt: skip
    assert single["unit"] == "decades of learning rate"
    assert (
        "stack: lr 0.001 to 0.01 (1.00 decades), 3 of 6 finished candidates (of 6 searched) within 0.01 of the best "
        "0.9100: candidate(s) 1, 2, 4 (1 other candidate(s) inside the range below it)" in single["note"]
    )
    assert "single: lr 0.001 to 0.001 (0.00 decades), 1 of 3 finished candidates (of 4 searched)" in single["note"]
    assert "numbers, no verdict: a window from 6 and 4 candidates per arm is not a test" in single["note"]
    linear = rows.loc["linear-stack"]
    assert math.isnan(linear["difference"]) and math.isnan(linear["baseline_value"])
    assert "linear-stack: no window, 1 candidate(s) of 2 searched finished with an objective" in linear["note"]


RECORD = {  # as vggbench.engine.tuning.tuning_record writes it
    "format": 1,
    "search": {
        "sampler": "TPESampler",
        "sampler_seed": 7,
        "candidates": 6,
        "per_round": 2,
        "seeds": [100, 101],
        "space": {"lr": {"log": [1e-4, 1e-1]}, "optimizer": {"choices": ["adam", "sgd"]}},
        "objective": "mean validation accuracy at the last epoch",
        "pruner": "median rule after epoch 1",
    },
    "arms": {
        "vgg11-stack": {
            **KEYS,
            "variant": "stack",
            "candidate": 2,
            "recipe": {"lr": 3e-3, "optimizer": "sgd"},
            "objective": 0.91,
        },
        "vgg11-single": {
            **KEYS,
            "variant": "single",
            "candidate": 1,
            "recipe": {"lr": 1e-3, "optimizer": "adam"},
            "objective": 0.88,
        },
    },
}
SEARCH_SENTENCE = (
    "Every arm's recipe was chosen by the same search, on validation images only (the verdicts are on the test "
    "set): Optuna's TPESampler (seed 7) tried 6 candidates per arm, each trained on seeds 100 and 101, which no "
    "verdict uses, over lr log [0.0001, 0.1]; optimizer choices [adam, sgd]; pruning: median rule after "
    "epoch 1. A candidate's objective is the mean over its seeds of validation accuracy at the last epoch it "
    "reached; each arm's chosen candidate is its best."
)


def _run_folder(folder, train, tuning=None, record=None):
    folder.mkdir()
    train.to_csv(folder / "train.csv", index=False)
    if tuning is not None:
        tuning.to_csv(folder / "tuning.csv", index=False)
    if record is not None:
        (folder / "tuning.json").write_text(json.dumps(record))
    return folder


def test_claim_md_states_each_arms_recipe_the_search_and_the_shared_rows_beside(tmp_path):
    assert recipes.search_sentence(RECORD) == SEARCH_SENTENCE
    folder = _run_folder(tmp_path / "run", _both(), _tuning(SEARCH), RECORD)
    _, text = claim.report(folder)
    section = text.split("## Recipes")[1].split("## The parts")[0]
    assert "on validation images only" in section and "Optuna's TPESampler (seed 7) tried 6 candidates" in section
    assert "| arch | ratio | resolution | batch_norm | variant | candidate | lr | optimizer | objective |" in section
    assert "| vgg11 | 8 | 32 | False | stack | 2 | 0.003 | sgd | 0.91 |" in section
    assert "| vgg11 | 8 | 32 | False | single | 1 | 0.001 | adam | 0.88 |" in section
    assert recipes.SHARED_SENTENCE in section and "### lr window" in section
    assert "### lr window" not in text.split("## The parts")[1]  # told once, with the recipes
    alone = claim.report(_run_folder(tmp_path / "tuned", _runs("tuned", TUNED_STACK, TUNED_SINGLE), None, RECORD))[1]
    assert "## Recipes" in alone and recipes.SHARED_SENTENCE not in alone
    plain = claim.report(_run_folder(tmp_path / "plain", _runs(None, TUNED_STACK, TUNED_SINGLE)))[1]
    assert "## Recipes" not in plain


def test_the_page_shows_the_chosen_recipes_beside_the_search():
    empty = pd.DataFrame()
    claims = claim.claim_table({"train": _both()})
    tables = {name: empty for name in page.TABLES} | {"claim": claims}
    shown = page.page("run", {}, tables, [], RECORD)
    recipes_part = shown.split("<h2>Recipes</h2>")[1].split("<h2>")[0]
    assert html.escape(SEARCH_SENTENCE) in recipes_part and 'id="recipes"' in recipes_part
    assert "<td>sgd</td>" in recipes_part and "<td>0.91</td>" in recipes_part
    assert "<code>at the shared recipe (sensitivity)</code>" in recipes_part
    assert "<h2>Recipes</h2>" not in page.page("run", {}, tables, [])


NORMED_SEARCH = {
    **SEARCH,
    ("stack", True): [(1e-3, "sgd", 0.92, False), (1e-2, "adam", 0.93, False)],
    ("single", True): [(1e-2, "sgd", 0.90, False), (1e-3, "adam", 0.915, False), (1e-1, "adam", 0.2, True)],
}


def test_the_lr_figure_draws_a_panel_per_norm_a_line_per_variant_and_optimizer_and_rings_the_chosen():
    figure = lr_sensitivity(_tuning(NORMED_SEARCH))
    assert len(figure.axes) == 2 and len(figure.legends) == 1  # the legend is the figure's, beside the panels
    markers = {"adam": "o", "sgd": "s"}  # in the order the optimizers first appear, by learning rate
    for axes, normed in zip(figure.axes, (False, True), strict=True):
        assert axes.get_xscale() == "log" and axes.get_ylim() == (0, 1)
        drawn = [line for line in axes.get_lines() if line.get_label() != "chosen recipe"]
        variants = {variant for variant, bn in NORMED_SEARCH if bn is normed}
        assert {line.get_label() for line in drawn} - {f"_{variant}" for variant in variants} == variants
        found = {
            (variant, markers[optimizer]): sorted(
                (lr, objective)
                for lr, named, objective, pruned in NORMED_SEARCH[variant, normed]
                if named == optimizer and not pruned
            )
            for variant in variants
            for optimizer in markers
        }
        lines = {
            (line.get_label().lstrip("_"), line.get_marker()): list(zip(*line.get_data(), strict=True))
            for line in drawn
        }
        assert lines == {key: points for key, points in found.items() if points}  # never across optimizers
        rings = [line for line in axes.get_lines() if line.get_label() == "chosen recipe"]
        best = {variant: max(o for *_, o, p in NORMED_SEARCH[variant, normed] if not p) for variant in variants}
        assert sorted(float(ring.get_ydata()[0]) for ring in rings) == sorted(best.values())
    assert lr_sensitivity(pd.DataFrame()) is None


def test_the_lr_figure_draws_a_line_style_per_other_searched_knob():
    tuning = _tuning(SEARCH)
    tuning["init"] = (tuning["candidate"] % 2).map({0: "default", 1: "kaiming"})
    tuning["momentum"] = tuning["optimizer"].map({"sgd": 0.9, "adam": 0.0})  # as a search writes it
    figure = lr_sensitivity(tuning)
    styles = {line.get_linestyle() for line in figure.axes[0].get_lines() if line.get_label() != "chosen recipe"}
    assert styles == {"-", "--"}
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "init default" in legend and "init kaiming" in legend
    assert not any("momentum" in label for label in legend)  # set by the optimizer, not searched within one


def test_the_report_draws_the_lr_figure_beside_the_forest(tmp_path):
    names = [figure.name for figure in run_figures.FIGURES]
    assert names.index("lr_sensitivity") == names.index("forest") + 1
    folder = _run_folder(tmp_path / "run", _both(), _tuning(SEARCH), RECORD)
    pd.DataFrame([{**KEYS, "variant": "stack", "test_acc_mean": 0.91}]).to_csv(folder / "summary.csv", index=False)
    (folder / "metadata.json").write_text("{}")
    claim.report(folder)
    shown = report.write(folder).read_text()
    assert (folder / "figures" / "lr_sensitivity.png").is_file()
    assert shown.index('id="forest"') < shown.index('id="lr_sensitivity"') and "<h2>Recipes</h2>" in shown
