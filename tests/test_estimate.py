"""Time estimates calibrated by a few training steps of each model on this machine."""

import json
from pathlib import Path

import pytest

from vggbench.cli import main
from vggbench.engine import _estimate as estimate
from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.registry import KINDS
from vggbench.util.validate import InputError


@pytest.mark.slow  # it calibrates: a few training steps of every model
def test_every_model_gets_its_measured_rate_and_estimates_follow_it(tiny_study):
    config = load_config(**{**tiny_study, "kinds": ["static", "train", "density"]})
    plan = study.trials(config)
    rates = estimate.measure_rates(plan, "cpu", 1)
    assert set(rates.by_model) == set(config.models())
    assert all(rate > 0 for rate in rates.by_model.values()) and rates.other > 0  # density is no model's work
    train = next(trial for trial in plan if trial.kind == "train")
    assert rates.of(train) == rates.by_model[train.spec]
    # Work over rate: a machine twice as fast gets half the training estimate.
    kind = KINDS["train"]
    assert kind.estimate_s(train, 2 * rates.of(train)) == pytest.approx(kind.estimate_s(train, rates.of(train)) / 2)
    costs = study.estimates(plan, rates)
    assert set(costs) == set(plan) and all(seconds > 0 for seconds in costs.values())


@pytest.mark.slow  # it calibrates: a few training steps of every model
def test_the_dry_run_lists_calibrated_estimates(tiny_study):
    table = study.dry_run(load_config(**{**tiny_study, "kinds": ["static", "train"]})).table
    assert list(table.columns) == ["kind", "trial", "done", "estimate_s"]
    assert (table["estimate_s"] > 0).all() and set(table["kind"]) == {"static", "train"} and not table["done"].any()


# --- the dry run reads the run folder as the run would ---------------------------------------------------------------


def _static_run(tmp_path: Path, tiny_study: dict) -> tuple[dict, Path]:
    """A finished static-only tiny run (two trials: the stack and single): its config keys and its folder."""
    values = {**tiny_study, "kinds": ["static"]}
    root = tmp_path / "run"
    study.run(load_config(**values), root, report=lambda line: None)
    return values, root


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _toml(path: Path, values: dict) -> Path:
    # JSON writes these values (numbers, strings, booleans and lists of them) as TOML reads them.
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items()))
    return path


def test_a_dry_run_counts_the_trials_done_and_estimates_only_those_to_run(tmp_path, tiny_study, quick_rates):
    values, root = _static_run(tmp_path, tiny_study)
    (gone,) = (root / "trials" / "static").glob("vgg11-single-*.json")
    gone.unlink()  # as if the run had been stopped before it
    before = _files(root)
    quick_rates.clear()  # the run's own calibration
    plan = study.dry_run(load_config(**values), run_dir=root)
    table = plan.table.set_index(plan.table["trial"].str.split("-").str[1])
    assert table.loc["stack", "done"] and not table.loc["single", "done"]
    # One model to run at 10 GFLOP/s (the fixed rate): its estimate is the kind's, the done one's is not made.
    single = next(trial for trial in study.trials(load_config(**values)) if trial.spec.variant == "single")
    assert table.loc["single", "estimate_s"] == pytest.approx(KINDS["static"].estimate_s(single, 10.0))
    assert table["estimate_s"].isna().tolist() == [True, False]
    assert [run.spec.variant for run in quick_rates] == ["single"]  # only the model still to run is timed
    lines = plan.lines()
    assert f"{root}: 2 trials, 1 already done, 1 to run" in lines
    assert any(
        line.startswith("2 trials, about ") and " on cpu for the 1 to run, estimated from " in line for line in lines
    )
    assert _files(root) == before  # read, not written


def test_a_dry_run_of_a_finished_run_has_nothing_to_run(tmp_path, tiny_study, quick_rates, capsys):
    values, root = _static_run(tmp_path, tiny_study)
    quick_rates.clear()  # the run's own calibration
    assert main(["run", "--config", str(_toml(tmp_path / "study.toml", values)), "--out", str(root), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"{root}: 2 trials, 2 already done, 0 to run" in lines and "2 trials, none to run" in lines
    assert not quick_rates


def test_a_dry_run_refuses_another_configuration_as_the_run_does(tmp_path, tiny_study, quick_rates, capsys):
    values, root = _static_run(tmp_path, tiny_study)
    other = load_config(**{**values, "ratios": [32]})
    with pytest.raises(InputError) as refused:
        study.run(other, root, report=lambda line: None)
    message = str(refused.value)
    assert "holds a run with another configuration (differs in ratios)" in message
    with pytest.raises(InputError) as dry:
        study.dry_run(other, run_dir=root)
    assert str(dry.value) == message

    before = _files(root)
    argv = ["run", "--config", str(_toml(tmp_path / "other.toml", {**values, "ratios": [32]})), "--out", str(root)]
    assert main([*argv, "--dry-run"]) == 2
    assert capsys.readouterr().err == f"vggbench run: error: {message}\n"
    # With --force the run would measure the models at ratio 32 afresh: the dry run says so, and writes nothing.
    assert main([*argv, "--dry-run", "--force"]) == 0
    assert f"{root}: 2 trials, 0 already done, 2 to run\n" in capsys.readouterr().out
    assert _files(root) == before
    forced: list[str] = []
    study.run(other, root, force=True, report=forced.append)
    assert "2 trials, 0 already done, 2 to run" in forced


def test_a_dry_run_of_a_search_counts_its_candidates_and_trials_in_the_folder(tmp_path, quick_rates):
    from conftest import TINY_TUNING

    root = tmp_path / "run"
    root.mkdir()  # an empty folder: nothing done yet, nothing refused
    plan = study.dry_run(load_config(**TINY_TUNING), run_dir=root)
    # 4 candidates of the one arm on its tuning seed, then the arm's one training trial at the recipe chosen.
    assert plan.table["trial"].str.rsplit("-", n=1).str[1].tolist() == [*(f"candidate{n}" for n in range(4)), "tuned"]
    assert f"{root}: 5 trials, 0 already done, 5 to run" in plan.lines()
    assert not plan.table["done"].any() and list(root.iterdir()) == []
