"""Time estimates calibrated by a few training steps of each model on this machine."""

import pytest

from vggbench.engine import _estimate as estimate
from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.registry import KINDS

pytestmark = pytest.mark.slow  # each test calibrates: a few training steps of every model


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


def test_the_dry_run_lists_calibrated_estimates(tiny_study):
    table = study.dry_run(load_config(**{**tiny_study, "kinds": ["static", "train"]})).table
    assert list(table.columns) == ["kind", "trial", "estimate_s"]
    assert (table["estimate_s"] > 0).all() and set(table["kind"]) == {"static", "train"}
